"""The dataset panel: where the images come from, what classes they hold, a peek at them.

Opening a data set (and telling the kind of its images) and decoding thumbnails happen on
background threads; the GUI thread only turns small arrays into pixmaps. Lab images (16-bit,
multi-channel) are shown as Fiji shows them, with a channel toggle; their channel, intensity and
stack choices live in :mod:`image_values`.
"""

from __future__ import annotations

import dataclasses
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
    QScrollArea,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from tlgui.ui.base.background import TaskRunner
from tlgui.ui.base.choices import DatasetChoice, DatasetSummary
from tlgui.ui.base.formatting import breakable_path
from tlgui.ui.pages.train.dataset_jobs import (
    THUMB,
    Loaded,
    kind_text,
    needs_image_values,
    open_data,
    problems,
    read_thumbnails,
    torchvision_names,
)
from tlgui.ui.pages.train.dataset_widgets import (
    ClassBars,
    SamplesView,
    dropped_path,
    make_button,
    make_label,
    make_line,
)
from tlgui.ui.pages.train.image_values import ImageValuesBox

DEMO_SPEC = "demo:target"
MAX_CLASS_ROWS = 24  # thumbnail rows; more classes are summarised
_KINDS = (
    ("demo", "Demo shapes (built in)"),
    ("folder", "Image folder, IDX folder or CSV file"),
    ("torchvision", "Torchvision data set from a local folder"),
)
_ERROR = "color: #b00020;"
_WARN = "color: #8a5300;"


class DatasetPanel(QWidget):
    dataset_changed = Signal(object)  # DatasetChoice (a valid one)
    dataset_loaded = Signal(object)  # DatasetSummary

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("datasetPanel")
        self.setAcceptDrops(True)
        self._runner = TaskRunner(self)
        self._thumb_runner = TaskRunner(self)
        self._generation = 0
        self._choice = DatasetChoice(DEMO_SPEC)
        self._summary: DatasetSummary | None = None
        self._images = None
        self._locked = False

        self._make_source_widgets()
        self._make_layout()

        self._show_kind("demo")
        self._show_val(False)
        self.set_choice(self._choice)

    def _make_source_widgets(self) -> None:
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

        self.status = make_label("datasetStatus")
        self.error_label = make_label("datasetError", _ERROR)
        self.error_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.warnings_label = make_label("datasetWarnings", _WARN)
        self.kind_label = make_label("data_kind_label")  # "4 channels, 16-bit (12-bit values), 600 images"
        self.image_values = ImageValuesBox()
        self.image_values.stack_changed.connect(self._on_stack_changed)

    def _make_layout(self) -> None:
        source_box = self._source_box = QGroupBox("Images")
        grid = QGridLayout(source_box)
        grid.setColumnStretch(1, 1)
        grid.addWidget(QLabel("Source:"), 0, 0)
        grid.addWidget(self.kind_combo, 0, 1, 1, 2)
        self._folder_row = (self.folder_edit, self.folder_button)
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

        self.bars = ClassBars()
        self.bars.setObjectName("classBars")
        self._bars_scroll = QScrollArea()
        self._bars_scroll.setWidgetResizable(True)
        self._bars_scroll.setWidget(self.bars)
        self._bars_scroll.setFrameShape(QScrollArea.Shape.NoFrame)

        self.samples = SamplesView(THUMB, MAX_CLASS_ROWS)  # the channel toggle over the thumbnails
        self.thumbnails, self.channel_toggle = self.samples.grid, self.samples.channel_toggle

        content_box = QGroupBox("Classes and samples")
        content = QVBoxLayout(content_box)
        content.addWidget(self.status)
        content.addWidget(self.kind_label)
        content.addWidget(self.warnings_label)
        content.addWidget(self._bars_scroll)
        content.addWidget(self.samples, 1)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(source_box)
        layout.addWidget(self.image_values)
        layout.addWidget(content_box, 1)

    # ------------------------------------------------------------------ public API

    def choice(self) -> DatasetChoice:
        """The last choice that opened successfully (or the one being opened at start)."""
        return self._choice

    def set_choice(self, choice: DatasetChoice) -> None:
        """Show ``choice`` in the widgets and open it in the background."""
        spec = choice.data
        if spec.startswith("demo:"):
            self._show_kind("demo")
        elif spec.startswith("torchvision:"):
            _, name, root = (spec.split(":", 2) + ["", ""])[:3]
            self._show_kind("torchvision")
            index = self.tv_name.findText(name, Qt.MatchFlag.MatchFixedString)
            if index >= 0:
                self.tv_name.setCurrentIndex(index)
            self.tv_root.setText(root)
        else:
            self._show_kind("folder")
            self.folder_edit.setText(spec)
        self.val_split.blockSignals(True)
        self.val_split.setValue(round(choice.val_split * 100))
        self.val_split.blockSignals(False)
        self.val_check.blockSignals(True)
        self.val_check.setChecked(bool(choice.val_data))
        self.val_check.blockSignals(False)
        self.val_edit.setText(choice.val_data or "")
        self._show_val(bool(choice.val_data))
        self._open(choice)

    def summary(self) -> DatasetSummary | None:
        return self._summary

    def image_set(self):
        """The opened ImageSet (read-only use; e.g. for a preview elsewhere)."""
        return self._images

    def load_folder(self, path: str) -> None:
        """As if the user chose ``path`` with the folder dialog (or dropped it)."""
        self._show_kind("folder")
        self.folder_edit.setText(path)
        self._open(dataclasses.replace(self._choice, data=path, split="train"))

    def image_choices(self) -> dict[str, str]:
        """``channels``, ``intensity`` and ``stack`` for the TrainConfig. Raises ConfigError."""
        return self.image_values.values()

    def set_image_choices(self, values: dict) -> None:
        self.image_values.set_values(values)

    def set_locked(self, locked: bool) -> None:
        self._locked = bool(locked)
        self._source_box.setEnabled(not self._locked)
        self.image_values.setEnabled(not self._locked)
        self.setAcceptDrops(not self._locked)

    def is_loading(self) -> bool:
        return self._runner.busy()

    def wait_idle(self, msecs: int = 10000) -> bool:
        return self._runner.wait(msecs) and self._thumb_runner.wait(msecs)

    def closeEvent(self, event) -> None:
        self._runner.shutdown()
        self._thumb_runner.shutdown()
        super().closeEvent(event)

    # ------------------------------------------------------------------ drag and drop

    def dragEnterEvent(self, event) -> None:
        if not self._locked and dropped_path(event.mimeData()) is not None:
            event.acceptProposedAction()
        else:
            event.ignore()

    def dropEvent(self, event) -> None:
        path = dropped_path(event.mimeData())
        if path is None or self._locked:
            event.ignore()
            return
        event.acceptProposedAction()
        self.load_folder(path)

    # ------------------------------------------------------------------ source widgets

    def _show_kind(self, kind: str) -> None:
        self.kind_combo.setCurrentIndex(self.kind_combo.findData(kind))
        for widget in self._folder_row:
            widget.setVisible(kind == "folder")
        for widget in self._tv_row:
            widget.setVisible(kind == "torchvision")

    def _show_val(self, separate: bool) -> None:
        self.val_edit.setVisible(separate)
        self.val_button.setVisible(separate)
        self.val_split.setEnabled(not separate)
        self.val_split_label.setEnabled(not separate)

    @Slot(int)
    def _on_kind_activated(self, _index: int) -> None:
        kind = self.kind_combo.currentData()
        self._show_kind(kind)
        if kind == "demo":
            self._open(dataclasses.replace(self._choice, data=DEMO_SPEC, split="train"))
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
            self._open(dataclasses.replace(self._choice, data=spec, split="train"))

    @Slot(bool)
    def _on_val_toggled(self, checked: bool) -> None:
        self._show_val(checked)
        if not checked and self._choice.val_data:
            self._open(dataclasses.replace(self._choice, val_data=None))
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
            self._open(dataclasses.replace(self._choice, val_data=text))

    @Slot(int)
    def _on_split_changed(self, percent: int) -> None:
        self._choice = dataclasses.replace(self._choice, val_split=percent / 100)
        self.dataset_changed.emit(self._choice)

    # ------------------------------------------------------------------ loading

    def _open(self, choice: DatasetChoice) -> None:
        self._generation += 1
        generation = self._generation
        self._runner.cancel_all()
        self.error_label.hide()
        self.status.setText(f"Opening {choice.data} …")
        stack = self.image_values.stack_combo.currentData()
        self._runner.start(
            lambda job: open_data(choice, generation, job, stack), self._on_opened, self._on_open_crashed,
            name="open-data",
        )

    @Slot(object)
    def _on_opened(self, loaded: Loaded) -> None:
        if loaded.generation != self._generation:
            return  # the user has chosen something else meanwhile
        if loaded.error is not None:
            self._show_error(loaded.error)
            return
        images = loaded.images
        counts = images.counts()
        self._images = images
        self._summary = DatasetSummary(
            spec=loaded.choice.data,
            classes=tuple(images.classes),
            counts=tuple(counts[c] for c in images.classes),
            skipped=len(images.skipped),
            channels=int(loaded.channels), source=images.source,
        )
        changed = loaded.choice != self._choice
        self._choice = loaded.choice
        self.image_values.set_kind(loaded.kind, needs_image_values(loaded.kind))
        self.kind_label.setText(kind_text(loaded.kind, len(images)))
        self.kind_label.setToolTip("\n".join(loaded.kind.notes) if loaded.kind is not None else "")
        self.kind_label.setVisible(bool(self.kind_label.text()))
        self._show_summary(images, loaded.val_images, loaded.channels)
        self._start_thumbnails(images)
        if changed:
            self.dataset_changed.emit(self._choice)
        self.dataset_loaded.emit(self._summary)

    @Slot(object)
    def _on_open_crashed(self, exc) -> None:
        self._show_error(f"could not open the data: {exc}")

    def _show_error(self, message: str) -> None:
        keep = f" Still using {self._choice.data}." if self._summary is not None else ""
        message = message.strip()
        if message and message[-1] not in ".!?)":
            message += "."
        self.error_label.setText(message[:1].upper() + message[1:] + keep)
        self.error_label.show()
        self.status.setText(self._status_text() if self._summary else "No data opened yet.")

    def _status_text(self) -> str:
        summary = self._summary
        total = sum(summary.counts)
        kind = {1: "grayscale", 3: "colour"}.get(summary.channels, f"{summary.channels}-channel")
        return (
            f"<b>{total:,}</b> {kind} images in <b>{len(summary.classes)}</b> classes "
            f"from <code>{breakable_path(summary.spec)}</code>" + (f", {summary.source}" if summary.source else "")
        )

    def _show_summary(self, images, val_images, channels: int) -> None:
        self.status.setText(self._status_text())
        self.bars.set_counts(list(self._summary.classes), list(self._summary.counts))
        self._bars_scroll.setFixedHeight(min(self.bars.sizeHint().height() + 2, 180))
        lines = problems(images, val_images)
        if val_images is not None:
            self.status.setText(self.status.text() + f"; validation: {len(val_images):,} images")
        self.warnings_label.setText("\n".join("⚠ " + line[:1].upper() + line[1:] for line in lines))
        self.warnings_label.setVisible(bool(lines))
        if images.skipped:
            self.warnings_label.setToolTip("\n".join(f"{p}: {why}" for p, why in images.skipped[:30]))

    def _start_thumbnails(self, images) -> None:
        self._thumb_runner.cancel_all()
        self.samples.set_classes(list(images.classes))
        per_class = 5 if len(images.classes) <= 10 else 3
        generation = self._generation
        stack = self.image_values.stack()
        self._thumb_runner.start(
            lambda job: read_thumbnails(images, generation, per_class, MAX_CLASS_ROWS, job, stack),
            None, None, self._on_thumbnails, name="thumbnails",
        )

    @Slot(object)
    def _on_thumbnails(self, payload) -> None:
        generation, batch = payload
        if generation != self._generation or self._images is None:
            return
        self.samples.add_batch(batch, self._images.classes)

    @Slot(str)
    def _on_stack_changed(self, _stack: str) -> None:
        if self._images is not None:
            self._start_thumbnails(self._images)  # show the stack as the model will see it

    def thumbnail_count(self) -> int:
        return self.thumbnails.count()

    def thumbnail_classes(self) -> list[str]:
        return self.thumbnails.classes_shown()

