"""The layer contracts in pyproject.toml hold, and an upward import breaks them (import-linter)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
lint_imports = shutil.which("lint-imports", path=str(Path(sys.executable).parent))
pytestmark = pytest.mark.skipif(lint_imports is None, reason="import-linter is not installed (pip install -e '.[dev]')")


def run_lint(root: Path) -> subprocess.CompletedProcess:
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(root)}
    return subprocess.run([lint_imports, "--no-cache"], cwd=root, env=env, capture_output=True, text=True, timeout=300)


def test_the_tree_keeps_its_layers():
    result = run_lint(ROOT)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "0 broken" in result.stdout


def test_an_upward_import_breaks_the_contract(tmp_path):
    shutil.copytree(ROOT / "tlgui", tmp_path / "tlgui", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    errors = tmp_path / "tlgui" / "core" / "base" / "errors.py"
    errors.write_text(errors.read_text()
                      + "\n\ndef _upward():\n    from tlgui.core.training import loop  # noqa: F401\n")
    qt = tmp_path / "tlgui" / "core" / "models" / "device.py"
    qt.write_text(qt.read_text() + "\n\ndef _qt():\n    import PySide6  # noqa: F401\n")
    result = run_lint(tmp_path)
    assert result.returncode != 0
    assert "tlgui.core.base is not allowed to import tlgui.core.training" in result.stdout
    assert "tlgui.core.models.device -> PySide6" in result.stdout
