"""The dataset panel: where the images come from, what classes they hold, a peek at them.

Opening a data set (and telling the kind of its images) and decoding thumbnails happen on
background threads; the GUI thread only turns small arrays into pixmaps. Lab images (16-bit,
multi-channel) are shown as Fiji shows them, with a channel toggle; their channel, intensity and
stack choices live in :mod:`image_values`.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

from PySide6.QtCore import Signal, Slot
from PySide6.QtWidgets import QGroupBox, QScrollArea, QVBoxLayout, QWidget

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
)
from tlgui.ui.pages.train.dataset_source import DEMO_SPEC, SourceBox
from tlgui.ui.pages.train.dataset_widgets import ClassBars, SamplesView, dropped_path, make_label
from tlgui.ui.pages.train.image_values import ImageValuesBox

if TYPE_CHECKING:
    from PySide6.QtGui import QCloseEvent, QDragEnterEvent, QDropEvent

    from tlgui.core.data.sources import ImageSet

MAX_CLASS_ROWS = 24  # thumbnail rows; more classes are summarised
_WARN = "color: #8a5300;"


class DatasetPanel(QWidget):
    dataset_changed = Signal(object)  # DatasetChoice (a valid one)
    dataset_loaded = Signal(object)  # DatasetSummary

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("datasetPanel")
        self.setAcceptDrops(True)
        self._runner = TaskRunner(self)
        self._thumb_runner = TaskRunner(self)
        self._generation = 0
        self._choice = DatasetChoice(DEMO_SPEC)
        self._summary: DatasetSummary | None = None
        self._images: ImageSet | None = None
        self._locked = False

        self._make_source_widgets()
        self._make_layout()

        self._show_kind("demo")
        self.source.show_val(False)
        self.set_choice(self._choice)

    def _make_source_widgets(self) -> None:
        self.source = SourceBox(self.choice)  # the "Images" box: where the images come from
        self.source.open_requested.connect(self._open)
        self.source.split_changed.connect(self._on_split_changed)
        # its widgets, by their old names (tests and automation reach them)
        src = self.source
        self.kind_combo, self.folder_edit, self.folder_button = src.kind_combo, src.folder_edit, src.folder_button
        self.tv_name, self.tv_root, self.tv_button = src.tv_name, src.tv_root, src.tv_button
        self.val_check, self.val_edit, self.val_button = src.val_check, src.val_edit, src.val_button
        self.val_split, self.val_split_label, self.error_label = src.val_split, src.val_split_label, src.error_label

        self.status = make_label("datasetStatus")
        self.warnings_label = make_label("datasetWarnings", _WARN)
        self.kind_label = make_label("data_kind_label")  # "4 channels, 16-bit (12-bit values), 600 images"
        self.image_values = ImageValuesBox()
        self.image_values.stack_changed.connect(self._on_stack_changed)

    def _make_layout(self) -> None:
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
        layout.addWidget(self.source)
        layout.addWidget(self.image_values)
        layout.addWidget(content_box, 1)

    # ------------------------------------------------------------------ public API

    def choice(self) -> DatasetChoice:
        """The last choice that opened successfully (or the one being opened at start)."""
        return self._choice

    def set_choice(self, choice: DatasetChoice) -> None:
        """Show ``choice`` in the widgets and open it in the background."""
        self.source.show_choice(choice)
        self._open(choice)

    def summary(self) -> DatasetSummary | None:
        return self._summary

    def image_set(self) -> ImageSet | None:
        """The opened ImageSet (read-only use; e.g. for a preview elsewhere)."""
        return self._images

    def load_folder(self, path: str) -> None:
        """As if the user chose ``path`` with the folder dialog (or dropped it)."""
        self.source.load_folder(path)

    def image_choices(self) -> dict[str, str]:
        """``channels``, ``intensity`` and ``stack`` for the TrainConfig. Raises ConfigError."""
        return self.image_values.values()

    def set_image_choices(self, values: dict) -> None:
        self.image_values.set_values(values)

    def set_locked(self, locked: bool) -> None:
        self._locked = bool(locked)
        self.source.setEnabled(not self._locked)
        self.image_values.setEnabled(not self._locked)
        self.setAcceptDrops(not self._locked)

    def is_loading(self) -> bool:
        return self._runner.busy()

    def wait_idle(self, msecs: int = 10000) -> bool:
        return self._runner.wait(msecs) and self._thumb_runner.wait(msecs)

    def closeEvent(self, event: QCloseEvent) -> None:
        self._runner.shutdown()
        self._thumb_runner.shutdown()
        super().closeEvent(event)

    # ------------------------------------------------------------------ drag and drop

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if not self._locked and dropped_path(event.mimeData()) is not None:
            event.acceptProposedAction()
        else:
            event.ignore()

    def dropEvent(self, event: QDropEvent) -> None:
        path = dropped_path(event.mimeData())
        if path is None or self._locked:
            event.ignore()
            return
        event.acceptProposedAction()
        self.load_folder(path)

    # ------------------------------------------------------------------ source widgets

    def _show_kind(self, kind: str) -> None:
        self.source.show_kind(kind)

    @Slot(float)
    def _on_split_changed(self, fraction: float) -> None:
        self._choice = dataclasses.replace(self._choice, val_split=fraction)
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
        images = loaded.images
        if loaded.error is not None or images is None:  # no images without an error
            self._show_error(loaded.error or "could not open the data")
            return
        counts = images.counts()
        self._images = images
        self._summary = summary = DatasetSummary(
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
        self._show_summary(summary, images, loaded.val_images)
        self._start_thumbnails(images)
        if changed:
            self.dataset_changed.emit(self._choice)
        self.dataset_loaded.emit(summary)

    @Slot(object)
    def _on_open_crashed(self, exc: BaseException) -> None:
        self._show_error(f"could not open the data: {exc}")

    def _show_error(self, message: str) -> None:
        keep = f" Still using {self._choice.data}." if self._summary is not None else ""
        message = message.strip()
        if message and message[-1] not in ".!?)":
            message += "."
        self.error_label.setText(message[:1].upper() + message[1:] + keep)
        self.error_label.show()
        self.status.setText(self._status_text(self._summary) if self._summary else "No data opened yet.")

    @staticmethod
    def _status_text(summary: DatasetSummary) -> str:
        total = sum(summary.counts)
        kind = {1: "grayscale", 3: "colour"}.get(summary.channels, f"{summary.channels}-channel")
        return (
            f"<b>{total:,}</b> {kind} images in <b>{len(summary.classes)}</b> classes "
            f"from <code>{breakable_path(summary.spec)}</code>" + (f", {summary.source}" if summary.source else "")
        )

    def _show_summary(self, summary: DatasetSummary, images: ImageSet, val_images: ImageSet | None) -> None:
        self.status.setText(self._status_text(summary))
        self.bars.set_counts(list(summary.classes), list(summary.counts))
        self._bars_scroll.setFixedHeight(min(self.bars.sizeHint().height() + 2, 180))
        lines = problems(images, val_images)
        if val_images is not None:
            self.status.setText(self.status.text() + f"; validation: {len(val_images):,} images")
        self.warnings_label.setText("\n".join("⚠ " + line[:1].upper() + line[1:] for line in lines))
        self.warnings_label.setVisible(bool(lines))
        if images.skipped:
            self.warnings_label.setToolTip("\n".join(f"{p}: {why}" for p, why in images.skipped[:30]))

    def _start_thumbnails(self, images: ImageSet) -> None:
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

