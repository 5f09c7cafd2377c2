"""torch is loaded before PySide6 by every entry point that opens the window (issue 28, A.7).

On Windows, with torch 2.9 and later, Qt's DLLs loaded first make torch's fail to load
(WinError 1114, pytorch#166628). Each case runs a fresh interpreter with an import hook that,
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


@pytest.mark.parametrize("entry", sorted(ENTRY_POINTS))
def test_torch_is_loaded_before_qt(entry, tmp_path):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
           "QT_QPA_PLATFORM": "offscreen", "TLGUI_HOME": str(tmp_path)}
    done = subprocess.run([sys.executable, "-c", HOOK + ENTRY_POINTS[entry]], capture_output=True,
                          text=True, encoding="utf-8", env=env, cwd=tmp_path, timeout=240, check=False)
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    assert lines, f"{entry} never asked for Qt (rc {done.returncode}): {done.stderr[-2000:]}"
    first = json.loads(lines[0])
    assert first["torch_loaded"], f"{entry} loads {first['qt']} before torch"
