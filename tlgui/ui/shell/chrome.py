"""The window's frame around the pages: the status bar (device, run folder, elapsed time) and the
question asked when it closes during training."""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QMainWindow, QMessageBox, QWidget


@dataclass(frozen=True)
class StatusLabels:
    """The status bar's permanent labels: the device, the run folder (a link), the elapsed time."""

    device: QLabel
    run: QLabel
    elapsed: QLabel


def build_status_bar(window: QMainWindow) -> StatusLabels:
    """Add the device, run-folder and elapsed-time labels to ``window``'s status bar."""
    bar = window.statusBar()
    device = QLabel("Device: …")
    device.setObjectName("deviceLabel")
    run = QLabel("")
    run.setObjectName("runDirLabel")
    run.setTextFormat(Qt.TextFormat.RichText)
    run.setOpenExternalLinks(True)
    elapsed = QLabel("")
    elapsed.setObjectName("elapsedLabel")
    for label in (device, run, elapsed):
        label.setContentsMargins(6, 0, 6, 0)
        bar.addPermanentWidget(label)
    return StatusLabels(device, run, elapsed)


def confirm_close(window: QWidget) -> bool:
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
