"""The module cap in .ci/run (issue 32): a module over 400 lines is named, one at the cap is not."""

from __future__ import annotations

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _cap_check():
    spec = importlib.util.spec_from_file_location("module_cap", ROOT / ".ci" / "module_cap.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_module_over_the_cap_is_named_and_one_at_the_cap_is_not(tmp_path, capsys):
    check = _cap_check()
    package = tmp_path / "pkg" / "sub"
    package.mkdir(parents=True)
    (package / "at_cap.py").write_text("x = 1\n" * check.CAP, encoding="utf-8")
    (package / "over_cap.py").write_text("x = 1\n" * (check.CAP + 1), encoding="utf-8")

    assert check.over_cap([str(tmp_path / "pkg")]) == [((package / "over_cap.py").as_posix(), check.CAP + 1)]
    assert check.main([str(tmp_path / "pkg")]) == 1
    assert "over_cap.py: 401 lines" in capsys.readouterr().out

    (package / "over_cap.py").unlink()
    assert check.main([str(tmp_path / "pkg")]) == 0
