"""The platform check in .ci/run (issue 28, A.5) flags an unguarded POSIX-only call and
accepts the same call behind ``if sys.platform ...``."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.skipif(importlib.util.find_spec("mypy") is None,
                                reason="mypy is not installed (pip install -e '.[dev]')")


def _check():
    spec = importlib.util.spec_from_file_location("platform_check", ROOT / ".ci" / "platform_check.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_an_unguarded_posix_call_is_flagged_and_a_guarded_one_is_not(tmp_path, capsys):
    check = _check()
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "lock.py").write_text(
        "import fcntl\nimport os\n\n\ndef lock(fd: int) -> None:\n"
        "    fcntl.flock(fd, fcntl.LOCK_EX)\n    os.getuid()\n", encoding="utf-8")
    good = tmp_path / "good"
    good.mkdir()
    (good / "lock.py").write_text(
        "import os\nimport sys\n\n\ndef lock(fd: int) -> None:\n"
        "    if sys.platform == 'win32':\n        import msvcrt\n\n"
        "        msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)\n"
        "    else:\n        import fcntl\n\n        fcntl.flock(fd, fcntl.LOCK_EX)\n"
        "        os.getuid()\n", encoding="utf-8")

    assert check.main([str(bad)]) == 1
    out = capsys.readouterr().out
    assert "lock.py:6: only on win32" in out and "lock.py:7: only on win32" in out
    assert "only on darwin" not in out  # macOS has both
    assert check.main([str(good)]) == 0
    assert "0 unguarded" in capsys.readouterr().out


def test_the_check_runs_in_ci_over_the_package_and_the_installer_scripts():
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert "python .ci/platform_check.py tlgui packaging" in ci
