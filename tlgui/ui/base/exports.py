"""Save-as helpers shared by pages: a widget as a PNG, an evaluation's tables as CSV files.
Each asks for the place with a file dialog and returns the sentence for the page's status line
("" when the user cancelled)."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QFileDialog, QWidget


def save_widget_png(parent: QWidget, widget: QWidget, default: Path, what: str) -> str:
    path, _ = QFileDialog.getSaveFileName(parent, "Save plot as PNG", str(default), "PNG image (*.png)")
    if not path:
        return ""
    if not path.lower().endswith(".png"):
        path += ".png"
    return f"Saved {what} to {path}" if widget.grab().save(path, "PNG") else f"Could not write {path}"


def save_tables_csv(parent: QWidget, evaluation, start_dir: str) -> str:
    folder = QFileDialog.getExistingDirectory(parent, "Save tables as CSV into folder", start_dir)
    if not folder:
        return ""
    try:
        written = evaluation.write_csv(folder)
    except Exception as exc:  # noqa: BLE001 - an unwritable folder is a message, not a crash
        return f"Could not save the tables: {exc}"
    return f"Saved {', '.join(p.name for p in written)} to {folder}"
