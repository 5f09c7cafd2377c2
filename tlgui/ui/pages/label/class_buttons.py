"""The Label page's class buttons: one per class (its number key 1-9 and its count), the model's
suggestion highlighted, and a row to add a class or rename one."""

from __future__ import annotations

from PySide6.QtCore import Signal, Slot
from PySide6.QtWidgets import (
    QComboBox,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

PER_ROW = 5
_SUGGESTED = ("QPushButton { font-weight: bold; border: 2px solid palette(highlight); border-radius: 4px; "
              "padding: 4px; }")


class ClassButtons(QWidget):
    """``chosen(name)`` when a class button is clicked; ``add_requested(name)`` and
    ``rename_requested(old, new)`` from the edit row (the page writes the labels store)."""

    chosen = Signal(str)
    add_requested = Signal(str)
    rename_requested = Signal(str, str)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("labelClassButtons")
        self.classes: list[str] = []
        self.buttons: list[QPushButton] = []
        self._suggested: str | None = None
        self._counts: dict[str, int] = {}
        self._grid = QGridLayout()
        self._grid.setContentsMargins(0, 0, 0, 0)
        self.empty_label = QLabel("No classes yet: type a class name below and press Add class "
                                  "(for example the first kind of image you see).", wordWrap=True)
        self.name_edit = QLineEdit(objectName="labelClassNameEdit", placeholderText="class name")
        self.name_edit.returnPressed.connect(self._add)
        self.add_button = QPushButton("Add class", objectName="labelAddClassButton", clicked=self._add)
        self.rename_combo = QComboBox()
        self.rename_combo.setObjectName("labelRenameCombo")
        self.rename_combo.setToolTip("The class to rename (its labels follow)")
        self.rename_button = QPushButton("Rename to this name", objectName="labelRenameButton", clicked=self._rename)
        edit = QHBoxLayout()
        edit.addWidget(self.name_edit, 1)
        edit.addWidget(self.add_button)
        edit.addWidget(QLabel("or rename"))
        edit.addWidget(self.rename_combo)
        edit.addWidget(self.rename_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.empty_label)
        layout.addLayout(self._grid)
        layout.addLayout(edit)
        self._update_edit()

    def set_classes(self, classes: list[str], counts: dict[str, int] | None = None) -> None:
        """One button per class, in order (the first nine get the keys 1-9)."""
        if counts is not None:
            self._counts = dict(counts)
        if list(classes) != self.classes:
            self.classes = list(classes)
            for button in self.buttons:
                self._grid.removeWidget(button)
                button.hide()  # until deleteLater runs, or it shows at its old place
                button.deleteLater()
            self.buttons = []
            for index in range(len(self.classes)):
                button = QPushButton(objectName=f"labelClassButton{index + 1}")
                button.clicked.connect(self._on_clicked)
                self._grid.addWidget(button, index // PER_ROW, index % PER_ROW)
                self.buttons.append(button)
            current = self.rename_combo.currentText()
            self.rename_combo.clear()
            self.rename_combo.addItems(self.classes)
            if current in self.classes:
                self.rename_combo.setCurrentText(current)
        self.empty_label.setVisible(not self.classes)
        self._refresh()
        self._update_edit()

    def set_counts(self, counts: dict[str, int]) -> None:
        self._counts = dict(counts)
        self._refresh()

    def set_suggested(self, name: str | None) -> None:
        """Highlight the model's suggestion (what Enter accepts)."""
        self._suggested = name
        self._refresh()

    def class_for_key(self, number: int) -> str | None:
        """The class of number key ``number`` (1-9), if there is one."""
        return self.classes[number - 1] if 1 <= number <= min(9, len(self.classes)) else None

    def _refresh(self) -> None:
        for index, (name, button) in enumerate(zip(self.classes, self.buttons, strict=True)):
            key = f"{index + 1}  " if index < 9 else ""
            button.setText(f"{key}{name}  ·  {self._counts.get(name, 0)}")
            suggested = name == self._suggested
            button.setStyleSheet(_SUGGESTED if suggested else "")
            button.setToolTip(f"Label this image {name}" + (f" (key {index + 1})" if index < 9 else "")
                              + (": the model's suggestion, Enter accepts it" if suggested else ""))

    @Slot()
    def _on_clicked(self) -> None:
        button = self.sender()
        if button in self.buttons:
            self.chosen.emit(self.classes[self.buttons.index(button)])

    @Slot()
    def _add(self) -> None:
        name = self.name_edit.text().strip()
        if name:
            self.add_requested.emit(name)

    @Slot()
    def _rename(self) -> None:
        old, new = self.rename_combo.currentText(), self.name_edit.text().strip()
        if old and new and new != old:
            self.rename_requested.emit(old, new)

    def done_editing(self) -> None:
        """The page applied an add or rename: clear the name, give the keys back to labelling."""
        self.name_edit.clear()
        self.name_edit.clearFocus()

    def _update_edit(self) -> None:
        self.rename_combo.setEnabled(bool(self.classes))
        self.rename_button.setEnabled(bool(self.classes))
