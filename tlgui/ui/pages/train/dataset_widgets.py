"""Dataset views: a painted bar chart of class counts and a grid of sample thumbnails
(deep and multi-channel ones re-rendered when the channel toggle changes)."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QRectF, QSize, Qt, QUrl
from PySide6.QtGui import QColor, QImage, QPainter, QPalette, QPixmap
from PySide6.QtWidgets import (
    QGridLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from tlgui.ui.widgets.channel_toggle import ChannelToggle, render, rgb_qimage

_BAR = QColor(66, 133, 244)
_SMALL = QColor(230, 145, 56)  # classes far below the largest one stand out


class ClassBars(QWidget):
    """Counts per class; rows scale with the font, the widget grows with the class count."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._names: list[str] = []
        self._counts: list[int] = []
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)

    def set_counts(self, names: list[str], counts: list[int]) -> None:
        self._names = [str(n) for n in names]
        self._counts = [int(c) for c in counts]
        self.setToolTip("\n".join(f"{n}: {c:,}" for n, c in zip(self._names, self._counts, strict=True)))
        self.updateGeometry()
        self.setMinimumHeight(self.sizeHint().height())
        self.update()

    def counts(self) -> dict[str, int]:
        return dict(zip(self._names, self._counts, strict=True))

    def _row_height(self) -> int:
        return self.fontMetrics().height() + 4

    def sizeHint(self) -> QSize:
        return QSize(240, max(1, len(self._names)) * self._row_height() + 4)

    def minimumSizeHint(self) -> QSize:
        return QSize(160, self._row_height() + 4)

    def paintEvent(self, _event) -> None:
        if not self._names:
            return
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        metrics = self.fontMetrics()
        row = self._row_height()
        width = self.width()
        name_width = min(
            max(metrics.horizontalAdvance(n) for n in self._names) + 14, int(width * 0.38)
        )
        biggest = max(self._counts) or 1
        count_width = metrics.horizontalAdvance(f"{biggest:,}") + 8
        bar_space = max(10, width - name_width - count_width - 4)
        text_colour = self.palette().color(QPalette.ColorRole.WindowText)
        for i, (name, count) in enumerate(zip(self._names, self._counts, strict=True)):
            top = 2 + i * row
            painter.setPen(text_colour)
            label = metrics.elidedText(name, Qt.TextElideMode.ElideRight, name_width - 6)
            painter.drawText(
                QRectF(0, top, name_width - 4, row),
                int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter),
                label,
            )
            length = bar_space * count / biggest
            colour = _SMALL if count * 3 < biggest else _BAR
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(colour)
            painter.drawRoundedRect(QRectF(name_width, top + 3, max(1.0, length), row - 6), 2, 2)
            painter.setPen(text_colour)
            painter.drawText(
                QRectF(name_width + length + 4, top, count_width, row),
                int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter),
                f"{count:,}",
            )
        painter.end()


class ThumbnailGrid(QWidget):
    """Sample images in rows, one row per class (name on the left); filled incrementally."""

    def __init__(self, thumb: int = 64, max_rows: int = 24, parent=None):
        super().__init__(parent)
        self._thumb = thumb
        self._max_rows = max_rows
        self._layout = QGridLayout(self)
        self._layout.setContentsMargins(4, 4, 4, 4)
        self._layout.setHorizontalSpacing(6)
        self._layout.setVerticalSpacing(6)
        self._rows: dict[int, int] = {}  # class index -> grid row
        self._filled: dict[int, int] = {}  # class index -> thumbnails placed
        self._names: list[str] = []
        self._count = 0
        self._smalls: list[tuple[QLabel, object]] = []  # tiles with channels to toggle
        self._visible: list[bool] | None = None

    def clear(self) -> None:
        while self._layout.count():
            item = self._layout.takeAt(0)
            widget = item.widget() if item is not None else None
            if widget is not None:
                widget.deleteLater()
        self._rows, self._filled, self._names, self._count = {}, {}, [], 0
        self._smalls, self._visible = [], None

    def set_classes(self, names: list[str]) -> None:
        self.clear()
        self._names = list(names)
        for class_index, name in enumerate(self._names[: self._max_rows]):
            label = QLabel(name)
            label.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            label.setMaximumWidth(140)
            label.setToolTip(name)
            self._layout.addWidget(label, class_index, 0)
            self._rows[class_index] = class_index
            self._filled[class_index] = 0
        hidden = len(self._names) - len(self._rows)
        if hidden > 0:
            more = QLabel(f"… and {hidden} more classes")
            more.setEnabled(False)
            self._layout.addWidget(more, len(self._rows), 0, 1, 8)
        self._layout.setColumnStretch(99, 1)

    def add(self, class_index: int, image: QImage, tooltip: str, small=None) -> bool:
        """Place ``image``; ``small`` (a RawImage with channels) lets the toggle re-render it."""
        row = self._rows.get(class_index)
        if row is None:
            return False
        label = QLabel()
        label.setObjectName("datasetThumbnail")
        if small is not None:
            self._smalls.append((label, small))
            if self._visible is not None:
                image = render(small, self._visible)
        label.setPixmap(self._scaled(image))
        label.setFixedSize(self._thumb, self._thumb)
        label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        label.setToolTip(tooltip)
        self._filled[class_index] += 1
        self._layout.addWidget(label, row, self._filled[class_index])
        self._count += 1
        return True

    def _scaled(self, image: QImage) -> QPixmap:
        small = image.width() < self._thumb
        return QPixmap.fromImage(image).scaled(
            self._thumb, self._thumb, Qt.AspectRatioMode.KeepAspectRatio,
            Qt.TransformationMode.FastTransformation if small else Qt.TransformationMode.SmoothTransformation,
        )

    def set_visible_channels(self, visible: list[bool] | None) -> None:
        """Show only the flagged channels in the tiles that have channels (display only)."""
        self._visible = list(visible) if visible is not None else None
        for label, small in self._smalls:
            label.setPixmap(self._scaled(render(small, self._visible)))

    def count(self) -> int:
        return self._count

    def classes_shown(self) -> list[str]:
        return [self._names[i] for i, n in self._filled.items() if n > 0]


class SamplesView(QWidget):
    """The thumbnail grid in a scroll area, with a channel toggle over it for lab images."""

    def __init__(self, thumb: int, max_rows: int, parent=None):
        super().__init__(parent)
        self.grid = ThumbnailGrid(thumb, max_rows)
        self.grid.setObjectName("datasetThumbnails")
        self.channel_toggle = ChannelToggle()
        self.channel_toggle.changed.connect(self.grid.set_visible_channels)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(self.grid)
        scroll.setMinimumHeight(2 * thumb + 20)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.channel_toggle)
        layout.addWidget(scroll, 1)

    def set_classes(self, names: list[str]) -> None:
        self.grid.set_classes(names)
        self.channel_toggle.set_channels(0)  # back once thumbnails with channels arrive

    def add_batch(self, batch, classes: list[str]) -> None:
        """``[(class index, sample, Thumb, description)]`` from ``dataset_jobs.read_thumbnails``."""
        for class_index, sample, thumb, where in batch:
            self.channel_toggle.grow_to(thumb.channels)
            small = thumb.small if thumb.channels else None
            tip = f"{classes[class_index]} (#{sample})\n{where}"
            self.grid.add(class_index, rgb_qimage(thumb.rgb), tip, small)


def dropped_path(mime) -> str | None:
    """The first local folder (or CSV manifest) among dragged URLs, else None."""
    if mime is None or not mime.hasUrls():
        return None
    for url in mime.urls():
        if isinstance(url, QUrl) and url.isLocalFile():
            local = Path(url.toLocalFile())
            if local.is_dir() or local.suffix.lower() == ".csv":
                return str(local)
    return None


def make_line(name: str, placeholder: str, on_enter) -> QLineEdit:
    edit = QLineEdit()
    edit.setObjectName(name)
    edit.setPlaceholderText(placeholder)
    edit.returnPressed.connect(on_enter)
    return edit


def make_button(text: str, name: str, on_click) -> QPushButton:
    button = QPushButton(text)
    button.setObjectName(name)
    button.clicked.connect(on_click)
    return button


def make_label(name: str, style: str = "") -> QLabel:
    label = QLabel("")
    label.setObjectName(name)
    label.setWordWrap(True)
    if style:
        label.setStyleSheet(style)
        label.hide()  # errors and warnings show only when there are some
    return label
