"""A thumbnail gallery whose pictures are decoded on a background thread, plus the small
view helpers the result panels share: a numerically sortable table item, placeholder text
for empty views and a top-k probability bar delegate (curve plots: :mod:`tlgui.ui.widgets.curves`).

The gallery shows its captions at once; thumbnails arrive in batches from a job that any
object with ``load(description) -> PIL.Image | RawImage`` feeds (e.g. ``core.run_evaluation.ImageLookup``).
Deep and multi-channel images are shown as Fiji shows them (``core.data.display``); the job keeps
each one small and raw, so a :class:`ChannelToggle` re-renders them without reading files again.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from PySide6.QtCore import QRectF, QSize, Qt, Signal, Slot
from PySide6.QtGui import QColor, QFont, QFontMetrics, QIcon, QImage, QPainter, QPalette, QPixmap
from PySide6.QtWidgets import (
    QCheckBox,
    QHBoxLayout,
    QListView,
    QListWidget,
    QListWidgetItem,
    QStyledItemDelegate,
    QTableWidgetItem,
    QWidget,
)

from tlgui.ui.base.background import Job, TaskRunner
from tlgui.ui.widgets.channel_toggle import ChannelToggle, render, rgb_qimage

if TYPE_CHECKING:
    from tlgui.core.results.explain import Explainer

THUMB = 88  # thumbnail side in the gallery (pixels)
SORT_ROLE = Qt.ItemDataRole.UserRole + 1
DESCRIPTION_ROLE = Qt.ItemDataRole.UserRole + 2
TOP_ROLE = Qt.ItemDataRole.UserRole + 3  # [(label, probability)] for TopClassesDelegate
_BAR = QColor(66, 133, 244)
_BATCH = 12  # thumbnails per report


@dataclass(frozen=True)
class GalleryItem:
    description: str  # what the lookup loads: a file path or "NAME #i"
    caption: str  # one or two short lines under the picture
    tooltip: str = ""


def short_name(description: str) -> str:
    """A file's name, or ``#i`` for an in-memory sample ("demo:target (test) #12")."""
    if " #" in description and not Path(description).suffix:
        return "#" + description.rsplit(" #", 1)[1]
    return Path(description).name or description


def percent(value: float, digits: int = 1) -> str:
    return f"{100 * float(value):.{digits}f} %"


@dataclass
class Thumb:
    """One decoded thumbnail: ``rgb`` as first shown (all channels), ``small`` the image itself
    fitted to the thumbnail (a PIL picture or a RawImage) and ``channels`` it can toggle."""

    rgb: np.ndarray  # uint8 (H, W, 3)
    small: Any
    channels: int


def thumbnail(image, side: int) -> Thumb:
    """``image`` fitted into ``side`` x ``side`` and rendered for the screen (worker thread)."""
    from tlgui.core.data.display import channel_count, display_rgb, shrink

    small = shrink(image, side)
    return Thumb(np.ascontiguousarray(display_rgb(small)), small, channel_count(small))


def thumbnail_array(image, side: int) -> np.ndarray:
    """An RGB uint8 array of ``image`` fitted into ``side`` x ``side`` (worker thread)."""
    return thumbnail(image, side).rgb


def to_qimage(array: np.ndarray) -> QImage:
    return rgb_qimage(array)


def load_thumbnails(lookup, descriptions: list[str], generation: object, side: int, job: Job) -> int:
    """Worker thread: decode each description, report ``(generation, [(row, Thumb|None)])``; ``generation``
    is the caller's tag (a counter, or a (counter, first row) pair) that tells its reports apart."""
    batch: list[tuple[int, Any]] = []
    made = 0
    for row, description in enumerate(descriptions):
        if job.cancelled():
            return made
        try:
            batch.append((row, thumbnail(lookup.load(description), side)))
            made += 1
        except Exception:  # noqa: BLE001 - a missing or broken file gets a blank tile
            batch.append((row, None))
        if len(batch) >= _BATCH:
            job.report((generation, batch))
            batch = []
    if batch:
        job.report((generation, batch))
    return made


class HeatmapLookup:
    """A lookup whose pictures carry the model's Grad-CAM heatmap (worker thread only: the
    model is built there, on first use, and never touched by the GUI thread)."""

    def __init__(self, lookup, model_path: str):
        self.lookup, self.model_path = lookup, model_path
        self._explainer: Explainer | None = None

    def load(self, description: str):
        from PIL import Image

        if self._explainer is None:
            from tlgui.core.models.checkpoint import load_checkpoint
            from tlgui.core.results.explain import Explainer

            self._explainer = Explainer(load_checkpoint(self.model_path), "cpu")
        return Image.fromarray(self._explainer.explain(self.lookup.load(description)).overlay)


def heatmap_toggle(gallery: Gallery, name: str | None = None) -> QCheckBox:
    """"Show where it looked": the gallery's pictures with the model's heatmap over them."""
    box = QCheckBox("Show where it looked", objectName=name or f"{gallery.objectName()}_heatmaps")
    box.setToolTip("Colour each picture by where the model looked to make its choice (Grad-CAM):\n"
                   "red is where the evidence was, blue where there was none. Computed in the background.")
    box.toggled.connect(gallery.set_heatmaps)
    return box


def spread_row(*widgets: QWidget) -> QHBoxLayout:
    """The widgets in a row, the first at the left, the others at the right."""
    row = QHBoxLayout()
    for widget in widgets:
        row.addWidget(widget)
    row.insertStretch(1, 1)
    return row


def channel_toggle_for(gallery: Gallery) -> ChannelToggle:
    """A channel toggle that follows ``gallery``'s pictures and re-renders them."""
    toggle = ChannelToggle()
    toggle.setObjectName(f"{gallery.objectName()}_channel_toggle")
    gallery.channels_found.connect(toggle.set_channels)
    toggle.changed.connect(gallery.set_visible_channels)
    return toggle


class NumericItem(QTableWidgetItem):
    """A table cell that shows text but sorts by a number (``SORT_ROLE``)."""

    def __init__(self, text: str, value: float | int | str | None):
        super().__init__(text)
        self.setData(SORT_ROLE, value)
        self.setFlags(self.flags() & ~Qt.ItemFlag.ItemIsEditable)
        if isinstance(value, (int, float)):
            self.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)

    def __lt__(self, other) -> bool:
        a, b = self.data(SORT_ROLE), other.data(SORT_ROLE)
        if a is None or b is None:
            return (a is None) > (b is None)  # empty cells sort last going up
        if isinstance(a, str) and isinstance(b, str):
            return a.casefold() < b.casefold()
        try:
            return a < b
        except TypeError:
            return str(a) < str(b)


def paint_placeholder(widget: QWidget, viewport: QWidget, text: str) -> None:
    """Grey centred text on an empty view (call from the view's paintEvent)."""
    painter = QPainter(viewport)
    colour = widget.palette().color(QPalette.ColorGroup.Disabled, QPalette.ColorRole.Text)
    painter.setPen(colour)
    rect = viewport.rect().adjusted(16, 16, -16, -16)
    painter.drawText(rect, int(Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap), text)
    painter.end()


class Gallery(QListWidget):
    """Thumbnails with captions in a wrapping grid; call :meth:`shutdown` before closing.
    ``channels_found`` tells a :class:`ChannelToggle` how many channels the pictures have;
    its ``changed`` goes to :meth:`set_visible_channels`."""

    channels_found = Signal(int)  # the most channels among the pictures shown (0: nothing to toggle)

    def __init__(self, object_name: str, placeholder: str = "", side: int = THUMB, parent=None):
        super().__init__(parent)
        self.setObjectName(object_name)
        self.placeholder = placeholder
        self._side = side
        self._generation = 0
        self._runner = TaskRunner(self)
        self.setViewMode(QListView.ViewMode.IconMode)
        self.setIconSize(QSize(side, side))
        line = self.fontMetrics().height()
        self.setGridSize(QSize(side + 40, side + 2 * line + 14))
        self.setResizeMode(QListView.ResizeMode.Adjust)
        self.setMovement(QListView.Movement.Static)
        self.setUniformItemSizes(True)
        self.setWordWrap(False)  # captions are two short lines; long names are elided
        self.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        self.setSelectionMode(QListWidget.SelectionMode.SingleSelection)
        self.setSpacing(2)
        self._blank = self._blank_icon()
        self._smalls: dict[int, Any] = {}  # row -> the small raw image, for re-rendering
        self._visible: list[bool] | None = None  # channels shown (None: all)
        self._channels = 0
        self.model_path: str | None = None  # the model whose heatmaps "show where it looked" draws
        self.heatmaps = False
        self._shown: tuple = ([], None, "")

    def _blank_icon(self) -> QIcon:
        pixmap = QPixmap(self._side, self._side)
        pixmap.fill(QColor(128, 128, 128, 40))
        return QIcon(pixmap)

    def set_items(self, items: list[GalleryItem], lookup, note: str = "") -> None:
        """Show ``items`` now (blank tiles) and load their pictures in the background."""
        self._reset()
        self._shown = (list(items), lookup, note)
        if self.heatmaps and self.model_path and lookup is not None:
            lookup = HeatmapLookup(lookup, self.model_path)
        for item in items:
            entry = QListWidgetItem(self._blank, item.caption)
            entry.setData(DESCRIPTION_ROLE, item.description)
            entry.setToolTip(item.tooltip or item.description)
            entry.setTextAlignment(Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop)
            self.addItem(entry)
        if note:
            self.placeholder = note
        if items and lookup is not None:
            generation = self._generation
            descriptions = [i.description for i in items]
            self._runner.start(
                lambda job: load_thumbnails(lookup, descriptions, generation, self._side, job),
                None, None, self._on_thumbnails, name="thumbnails",
            )
        self.viewport().update()

    @Slot(bool)
    def set_heatmaps(self, on: bool) -> None:
        """Show the pictures with (True) or without the model's heatmap; reloads them."""
        self.heatmaps = bool(on)
        items, lookup, note = self._shown
        if items:
            self.set_items(items, lookup, note)

    def _reset(self) -> None:
        self._runner.cancel_all()
        self._generation += 1
        self.clear()
        self._smalls, self._visible = {}, None
        if self._channels:
            self._channels = 0
            self.channels_found.emit(0)

    def clear_items(self, placeholder: str | None = None) -> None:
        self._reset()
        if placeholder is not None:
            self.placeholder = placeholder
        self.viewport().update()

    @Slot(object)
    def _on_thumbnails(self, payload) -> None:
        generation, batch = payload
        if generation != self._generation:
            return
        found = self._channels
        for row, thumb in batch:
            entry = self.item(row)
            if entry is None or thumb is None:
                continue
            self._smalls[row] = thumb
            found = max(found, thumb.channels)
            shown = render(thumb.small, self._visible) if thumb.channels and self._visible else to_qimage(thumb.rgb)
            entry.setIcon(QIcon(self._scaled(shown)))
        if found != self._channels:
            self._channels = found
            self.channels_found.emit(found)

    @Slot(object)
    def set_visible_channels(self, visible: list[bool] | None) -> None:
        """Show only the channels flagged True (display only); re-renders the loaded tiles."""
        self._visible = list(visible) if visible is not None else None
        for row, thumb in self._smalls.items():
            entry = self.item(row)
            if entry is not None and thumb.channels:
                entry.setIcon(QIcon(self._scaled(render(thumb.small, self._visible))))

    def channel_count(self) -> int:
        return self._channels

    def _scaled(self, image: QImage) -> QPixmap:
        """Small images (28 px digits) are enlarged with sharp pixels, big ones smoothed."""
        small = max(image.width(), image.height()) < self._side
        mode = Qt.TransformationMode.FastTransformation if small else Qt.TransformationMode.SmoothTransformation
        return QPixmap.fromImage(image).scaled(self._side, self._side, Qt.AspectRatioMode.KeepAspectRatio, mode)

    def descriptions(self) -> list[str]:
        return [self.item(i).data(DESCRIPTION_ROLE) for i in range(self.count())]

    def loaded_count(self) -> int:
        """How many tiles have their picture (for tests)."""
        blank = self._blank.cacheKey()
        return sum(1 for i in range(self.count()) if self.item(i).icon().cacheKey() != blank)

    def busy(self) -> bool:
        return self._runner.busy()

    def wait_idle(self, msecs: int = 10000) -> bool:
        return self._runner.wait(msecs)

    def shutdown(self) -> None:
        self._runner.shutdown()

    def paintEvent(self, event) -> None:  # Qt override
        super().paintEvent(event)
        if self.count() == 0 and self.placeholder:
            paint_placeholder(self, self.viewport(), self.placeholder)


class TopClassesDelegate(QStyledItemDelegate):
    """One line per class: name, a bar as long as its probability, the percentage."""

    def paint(self, painter, option, index) -> None:  # Qt override
        top = index.data(TOP_ROLE) or []
        super().paint(painter, option, index)  # background and selection
        if not top:
            return
        painter.save()
        rect = option.rect.adjusted(6, 4, -6, -4)
        bold = QFont(option.font)
        bold.setBold(True)
        metrics = QFontMetrics(bold)  # the widest (bold) line decides the name column
        line = metrics.height() + 2
        shown = max(1, min(len(top), int(rect.height() // line)))
        name_w = min(max(metrics.horizontalAdvance(label) for label, _ in top[:shown]) + 12, rect.width() * 0.4)
        pct_w = metrics.horizontalAdvance("100.0 %") + 8
        bar_w = max(10.0, rect.width() - name_w - pct_w)
        y = rect.top() + (rect.height() - shown * line) / 2
        text = option.palette.color(QPalette.ColorRole.Text)
        for rank, (label, prob) in enumerate(top[:shown]):
            font = QFont(option.font)
            font.setBold(rank == 0)
            painter.setFont(font)
            painter.setPen(text)
            row = QRectF(rect.left(), y + rank * line, name_w, line)
            painter.drawText(row, int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter),
                             metrics.elidedText(label, Qt.TextElideMode.ElideRight, int(name_w) - 6))
            colour = QColor(_BAR)
            colour.setAlpha(255 if rank == 0 else 130)
            painter.fillRect(QRectF(rect.left() + name_w, row.top() + 3, max(1.0, bar_w * prob), line - 6), colour)
            painter.drawText(QRectF(rect.left() + name_w + bar_w, row.top(), pct_w, line),
                             int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter), percent(prob))
        painter.restore()
