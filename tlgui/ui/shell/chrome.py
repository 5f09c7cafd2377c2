"""The window's frame around the pages: the status bar (device, run folder, elapsed time) and the
question asked when it closes during training."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QMessageBox


def build_status_bar(window) -> None:
    """Add ``device_label``, ``run_label`` and ``elapsed_label`` to ``window``'s status bar."""
    bar = window.statusBar()
    window.device_label = QLabel("Device: …", objectName="deviceLabel")
    window.run_label = QLabel("", objectName="runDirLabel")
    window.run_label.setTextFormat(Qt.TextFormat.RichText)
    window.run_label.setOpenExternalLinks(True)
    window.elapsed_label = QLabel("", objectName="elapsedLabel")
    for label in (window.device_label, window.run_label, window.elapsed_label):
        label.setContentsMargins(6, 0, 6, 0)
        bar.addPermanentWidget(label)


def confirm_close(window) -> bool:
    """Ask whether to stop the running training and close; True for Yes."""
    answer = QMessageBox.question(
        window,
        "Training is running",
        "Training is still running. Stop it and close tlgui?\n\n"
        "The model trained so far is kept in the run folder.",
        QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
        QMessageBox.StandardButton.No,
    )
    return answer == QMessageBox.StandardButton.Yes
