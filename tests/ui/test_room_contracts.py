"""The window's rooms keep their contracts (pyproject.toml): a page importing another page, or a
widget importing a dialog, breaks them (import-linter)."""

from __future__ import annotations

import shutil

from tests.core.test_import_contracts import ROOT, pytestmark, run_lint  # noqa: F401 - the skip mark

PAGE_IMPORT = "\n\ndef _other_page():\n    from tlgui.ui.pages.runs.panel import RunsPanel  # noqa: F401\n"
DIALOG_IMPORT = "\n\ndef _dialog():\n    from tlgui.ui.dialogs.export_dialog import ExportDialog  # noqa: F401\n"


def test_a_page_importing_another_page_breaks_the_contract(tmp_path):
    shutil.copytree(ROOT / "tlgui", tmp_path / "tlgui", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    results = tmp_path / "tlgui" / "ui" / "pages" / "results_panel.py"
    results.write_text(results.read_text() + PAGE_IMPORT)
    gallery = tmp_path / "tlgui" / "ui" / "widgets" / "gallery.py"
    gallery.write_text(gallery.read_text() + DIALOG_IMPORT)
    result = run_lint(tmp_path)
    assert result.returncode != 0
    assert "tlgui.ui.pages.results_panel is not allowed to import tlgui.ui.pages.runs" in result.stdout
    assert "tlgui.ui.widgets is not allowed to import tlgui.ui.dialogs" in result.stdout
    assert "pages do not import each other (the shell wires them) BROKEN" in result.stdout
