"""The dataset panel's "Images" box: where the images come from (the demo, a folder or CSV file, a
torchvision data set) and how validation is held out. It only edits widgets and asks for a data
set to be opened; the panel opens it and owns the choice that opened."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QSpinBox,
    QWidget,
)

from tlgui.ui.base.choices import DatasetChoice
from tlgui.ui.pages.train.dataset_jobs import torchvision_names
from tlgui.ui.pages.train.dataset_widgets import make_button, make_label, make_line

DEMO_SPEC = "demo:target"
_KINDS = (
    ("demo", "Demo shapes (built in)"),
    ("folder", "Image folder, IDX folder or CSV file"),
    ("torchvision", "Torchvision data set from a local folder"),
)
_ERROR = "color: #b00020;"


class SourceBox(QGroupBox):
    """``current()``: the panel's choice now (the one a new choice starts from)."""

    open_requested = Signal(object)  # DatasetChoice to open
    split_changed = Signal(float)  # the validation share (a fraction), without a separate folder

    def __init__(self, current: Callable[[], DatasetChoice]) -> None:
        super().__init__("Images")
        self._current = current
        self._make_widgets()
        self._make_layout()

    def _make_widgets(self) -> None:
        self.kind_combo = QComboBox()
        self.kind_combo.setObjectName("datasetKind")
        for key, text in _KINDS:
            self.kind_combo.addItem(text, key)
        self.kind_combo.activated.connect(self._on_kind_activated)

        self.folder_edit = make_line(
            "datasetFolder", "Choose or drop a folder with one sub-folder per class", self._on_folder_entered
        )
        self.folder_button = make_button("Choose folder…", "datasetChooseFolder", self._choose_folder)
        self.tv_name = QComboBox()
        self.tv_name.setObjectName("torchvisionName")
        self.tv_name.addItems(torchvision_names())
        self.tv_name.activated.connect(self._on_torchvision_entered)
        self.tv_root = make_line(
            "torchvisionRoot", "folder you would pass as root= to torchvision", self._on_torchvision_entered
        )
        self.tv_button = make_button("Choose folder…", "torchvisionChoose", self._choose_torchvision_root)

        self.val_check = QCheckBox("Separate validation folder")
        self.val_check.setObjectName("separateValidation")
        self.val_check.toggled.connect(self._on_val_toggled)
        self.val_edit = make_line("validationFolder", "folder with the same class sub-folders", self._on_val_entered)
        self.val_button = make_button("Choose…", "validationChoose", self._choose_val_folder)
        self.val_split = QSpinBox()  # a percentage for people; DatasetChoice keeps the fraction
        self.val_split.setObjectName("validationSplit")
        self.val_split.setRange(5, 90)
        self.val_split.setSingleStep(5)
        self.val_split.setSuffix(" %")
        self.val_split.setValue(20)
        self.val_split.setToolTip("Share of each class held out to measure accuracy")
        self.val_split.valueChanged.connect(self._on_split_changed)
        self.val_split_label = QLabel("Hold out for validation:")

        self.error_label = make_label("datasetError", _ERROR)
        self.error_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

    def _make_layout(self) -> None:
        grid = QGridLayout(self)
        grid.setColumnStretch(1, 1)
        grid.addWidget(QLabel("Source:"), 0, 0)
        grid.addWidget(self.kind_combo, 0, 1, 1, 2)
        self._folder_row: tuple[QWidget, ...] = (self.folder_edit, self.folder_button)
        grid.addWidget(self.folder_edit, 1, 0, 1, 2)
        grid.addWidget(self.folder_button, 1, 2)
        self._tv_row = (self.tv_name, self.tv_root, self.tv_button)
        tv_line = QHBoxLayout()
        tv_line.addWidget(self.tv_name)
        tv_line.addWidget(self.tv_root, 1)
        grid.addLayout(tv_line, 2, 0, 1, 2)
        grid.addWidget(self.tv_button, 2, 2)
        split_line = QHBoxLayout()
        split_line.addWidget(self.val_split_label)
        split_line.addWidget(self.val_split)
        split_line.addStretch(1)
        grid.addLayout(split_line, 3, 0, 1, 3)
        grid.addWidget(self.val_check, 4, 0, 1, 3)
        grid.addWidget(self.val_edit, 5, 0, 1, 2)
        grid.addWidget(self.val_button, 5, 2)
        grid.addWidget(self.error_label, 6, 0, 1, 3)

    # ------------------------------------------------------------------ what the box shows
    def show_choice(self, choice: DatasetChoice) -> None:
        """Show ``choice`` in the widgets (nothing is opened, no signal is sent)."""
        spec = choice.data
        if spec.startswith("demo:"):
            self.show_kind("demo")
        elif spec.startswith("torchvision:"):
            _, name, root = (spec.split(":", 2) + ["", ""])[:3]
            self.show_kind("torchvision")
            index = self.tv_name.findText(name, Qt.MatchFlag.MatchFixedString)
            if index >= 0:
                self.tv_name.setCurrentIndex(index)
            self.tv_root.setText(root)
        else:
            self.show_kind("folder")
            self.folder_edit.setText(spec)
        self.val_split.blockSignals(True)
        self.val_split.setValue(round(choice.val_split * 100))
        self.val_split.blockSignals(False)
        self.val_check.blockSignals(True)
        self.val_check.setChecked(bool(choice.val_data))
        self.val_check.blockSignals(False)
        self.val_edit.setText(choice.val_data or "")
        self.show_val(bool(choice.val_data))

    def show_kind(self, kind: str) -> None:
        self.kind_combo.setCurrentIndex(self.kind_combo.findData(kind))
        for widget in self._folder_row:
            widget.setVisible(kind == "folder")
        for widget in self._tv_row:
            widget.setVisible(kind == "torchvision")

    def show_val(self, separate: bool) -> None:
        self.val_edit.setVisible(separate)
        self.val_button.setVisible(separate)
        self.val_split.setEnabled(not separate)
        self.val_split_label.setEnabled(not separate)

    def load_folder(self, path: str) -> None:
        """As if the user chose ``path`` with the folder dialog (or dropped it)."""
        self.show_kind("folder")
        self.folder_edit.setText(path)
        self.open_requested.emit(dataclasses.replace(self._current(), data=path, split="train"))

    # ------------------------------------------------------------------ the user's edits
    @Slot(int)
    def _on_kind_activated(self, _index: int) -> None:
        kind = self.kind_combo.currentData()
        self.show_kind(kind)
        if kind == "demo":
            self.open_requested.emit(dataclasses.replace(self._current(), data=DEMO_SPEC, split="train"))
        elif kind == "folder" and self.folder_edit.text().strip():
            self._on_folder_entered()
        elif kind == "torchvision" and self.tv_root.text().strip():
            self._on_torchvision_entered()

    @Slot()
    def _choose_folder(self) -> None:
        start = self.folder_edit.text().strip() or str(Path.home())
        path = QFileDialog.getExistingDirectory(self, "Choose an image folder", start)
        if path:
            self.load_folder(path)

    @Slot()
    def _on_folder_entered(self) -> None:
        text = self.folder_edit.text().strip()
        if text:
            self.load_folder(text)

    @Slot()
    def _choose_torchvision_root(self) -> None:
        start = self.tv_root.text().strip() or str(Path.home())
        path = QFileDialog.getExistingDirectory(self, "Choose the data set's root folder", start)
        if path:
            self.tv_root.setText(path)
            self._on_torchvision_entered()

    @Slot()
    def _on_torchvision_entered(self) -> None:
        root = self.tv_root.text().strip()
        if root:
            spec = f"torchvision:{self.tv_name.currentText()}:{root}"
            self.open_requested.emit(dataclasses.replace(self._current(), data=spec, split="train"))

    @Slot(bool)
    def _on_val_toggled(self, checked: bool) -> None:
        self.show_val(checked)
        if not checked and self._current().val_data:
            self.open_requested.emit(dataclasses.replace(self._current(), val_data=None))
        elif checked and self.val_edit.text().strip():
            self._on_val_entered()

    @Slot()
    def _choose_val_folder(self) -> None:
        start = self.val_edit.text().strip() or self.folder_edit.text().strip() or str(Path.home())
        path = QFileDialog.getExistingDirectory(self, "Choose a validation folder", start)
        if path:
            self.val_edit.setText(path)
            self._on_val_entered()

    @Slot()
    def _on_val_entered(self) -> None:
        text = self.val_edit.text().strip()
        if text:
            self.open_requested.emit(dataclasses.replace(self._current(), val_data=text))

    @Slot(int)
    def _on_split_changed(self, percent: int) -> None:
        self.split_changed.emit(percent / 100)
