"""torch is loaded before PySide6 by every entry point that opens the window (issue 28, A.7).

On Windows, with torch 2.9 and later, Qt's DLLs loaded first make torch's fail to load
(WinError 1114, pytorch#166628). The order is taken on Windows, or anywhere with TLGUI_TORCH_FIRST=1,
which is how it is checked here; elsewhere the window paints before torch is imported. Each case runs a fresh
interpreter with an import hook that,
at the first request for PySide6, prints whether torch is already loaded and ends the process:
the window never opens, so this takes the time of one torch import.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

HOOK = """
import json, os, sys

class FirstQt:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("PySide6", "shiboken6"):
            print(json.dumps({"qt": name, "torch_loaded": "torch" in sys.modules}), flush=True)
            os._exit(0)
        return None

sys.meta_path.insert(0, FirstQt())
"""

ENTRY_POINTS = {
    # the console script and python -m tlgui
    "tlgui --self-test": "import sys; sys.argv = ['tlgui', '--self-test']\n"
                         "from tlgui.__main__ import main; sys.exit(main())",
    "tlgui (the window)": "import sys; sys.argv = ['tlgui']\nfrom tlgui.__main__ import main; sys.exit(main())",
    # the frozen app's entry script
    "packaging/launcher.py": "import runpy, sys; sys.argv = ['tlgui', '--self-test']\n"
                             f"runpy.run_path({str(ROOT / 'packaging' / 'launcher.py')!r}, run_name='__main__')",
    "import tlgui.app": "import tlgui.app",
    "tlgui doctor": "import sys; from tlgui.cli import main; sys.exit(main(['doctor']))",
}


def _first_qt_request(code: str, tmp_path, torch_first: str) -> dict:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
           "QT_QPA_PLATFORM": "offscreen", "TLGUI_HOME": str(tmp_path), "TLGUI_TORCH_FIRST": torch_first}
    done = subprocess.run([sys.executable, "-c", HOOK + code], capture_output=True,
                          text=True, encoding="utf-8", env=env, cwd=tmp_path, timeout=240, check=False)
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    assert lines, f"never asked for Qt (rc {done.returncode}): {done.stderr[-2000:]}"
    return json.loads(lines[0])


@pytest.mark.parametrize("entry", sorted(ENTRY_POINTS))
def test_torch_is_loaded_before_qt(entry, tmp_path):
    first = _first_qt_request(ENTRY_POINTS[entry], tmp_path, torch_first="1")
    assert first["torch_loaded"], f"{entry} loads {first['qt']} before torch"


@pytest.mark.skipif(sys.platform == "win32", reason="Windows always loads torch first")
def test_elsewhere_the_window_paints_before_torch_is_imported(tmp_path):
    first = _first_qt_request(ENTRY_POINTS["tlgui (the window)"], tmp_path, torch_first="")
    assert not first["torch_loaded"], "the window waits for torch's import off Windows"


def test_windows_takes_the_torch_first_order():
    from tlgui.torch_first import torch_first_wanted

    assert torch_first_wanted("win32", {}) and torch_first_wanted("linux", {"TLGUI_TORCH_FIRST": "1"})
    assert not torch_first_wanted("linux", {}) and not torch_first_wanted("darwin", {})
