"""Error dialogs: one plain sentence up front, the technical details behind "Show Details...".

Dialogs open non-blocking (``QMessageBox.open``), so an error arriving from a signal or
from the exception hook never starts a nested event loop, and tests can find and close
them (``find_error_dialogs``).
"""

from __future__ import annotations

import re

from PySide6.QtCore import Qt, Slot
from PySide6.QtWidgets import QApplication, QMessageBox, QWidget

ERROR_DIALOG_NAME = "errorDialog"
_MAX_OPEN = 3  # a repeating error must not bury the window under dialogs
_parentless: set[QMessageBox] = set()  # keeps dialogs without a parent alive while open


def sentence(text: str) -> str:
    """Capitalise a core message for a dialog ("the loss became nan" -> "The loss..."),
    but leave names alone ("model.pt holds...", "resnet18: ...")."""
    match = re.match(r"[a-z]+(?=[\s,;])", text)
    return text[0].upper() + text[1:] if match else text


def show_error(
    parent: QWidget | None,
    message: str,
    details: str | None = None,
    title: str = "Something went wrong",
    icon: QMessageBox.Icon = QMessageBox.Icon.Critical,
) -> QMessageBox | None:
    """Show ``message`` (a sentence for a person); ``details`` (a traceback) is folded away.

    Returns the dialog, or None if too many error dialogs are already open.
    """
    if len(find_error_dialogs()) >= _MAX_OPEN:
        return None
    box = QMessageBox(parent)
    box.setObjectName(ERROR_DIALOG_NAME)
    box.setIcon(icon)
    box.setWindowTitle(title)
    box.setText(sentence(message))
    if details:
        box.setInformativeText("Technical details are under “Show Details…”.")
        box.setDetailedText(details)
    box.setStandardButtons(QMessageBox.StandardButton.Ok)
    box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose, True)
    if parent is None:
        # nothing else references it: Python would delete it as soon as we return
        _parentless.add(box)
        box.finished.connect(_release)
    box.open()
    return box


@Slot()
def _release() -> None:
    import shiboken6

    for box in list(_parentless):
        if not shiboken6.isValid(box) or not box.isVisible():
            _parentless.discard(box)


def find_error_dialogs() -> list[QMessageBox]:
    """The error dialogs open right now (visible ones, any parent)."""
    if not isinstance(QApplication.instance(), QApplication):
        return []  # none, or a QCoreApplication without widgets
    return [
        w
        for w in QApplication.topLevelWidgets()
        if isinstance(w, QMessageBox) and w.objectName() == ERROR_DIALOG_NAME and w.isVisible()
    ]
