"""The windowed executable (issue 28, A.6): a Windows GUI exe (and a macOS .app started from the
Finder) runs with ``sys.stdout`` and ``sys.stderr`` set to None. The app must still start, train,
log and report an unexpected error in a thread, with nothing to print to."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]

WINDOWED = r"""
import json, logging, os, sys, threading, warnings
from pathlib import Path
out = Path(sys.argv[1])
sys.stdout = None  # what PyInstaller's windowed bootloader and pythonw give
sys.stderr = None
sys.argv = ["tlgui", "--self-test", "--screenshot", str(out / "window.png")]
from tlgui.__main__ import main
code = main()
import tlgui.app
tlgui.app.install_exception_hook()  # as the window has it: an error in a thread, with no stderr
thread = threading.Thread(target=lambda: 1 / 0)
thread.start()
thread.join()
logging.getLogger("tlgui").error("logged with no console")
warnings.warn("warned with no console")
print("printed with no console")
(out / "result.json").write_text(json.dumps({"code": code}), encoding="utf-8")
os._exit(0)
"""


@pytest.mark.timeout(900)
def test_the_window_starts_trains_and_logs_without_stdout_or_stderr(fake_demo_source, tmp_path):
    home = Path(os.environ["TLGUI_HOME"])  # holds the stand-in demo source model (no pretraining here)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
           "TLGUI_HOME": str(home), "TORCH_HOME": str(home / "torch"), "QT_QPA_PLATFORM": "offscreen",
           "TLGUI_SELF_TEST_EPOCHS": "1", "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, "-c", WINDOWED, str(tmp_path)], env=env, capture_output=True,
                          text=True, encoding="utf-8", errors="replace", timeout=600, check=False)
    assert done.returncode == 0 and (tmp_path / "result.json").is_file(), done.stderr[-3000:]
    assert json.loads((tmp_path / "result.json").read_text(encoding="utf-8")) == {"code": 0}
    assert (tmp_path / "window.png").stat().st_size > 0  # the window was there
    runs = list(home.rglob("summary.json"))
    assert runs, "no run was written"
    summary = json.loads(runs[0].read_text(encoding="utf-8"))
    assert summary["status"] == "completed" and summary["epochs_completed"] == 1
    # nothing of Python's reached the real streams (Qt's C++ plugin may write to the file itself)
    assert done.stdout == "" and "Traceback" not in done.stderr and "no console" not in done.stderr
