"""A row of checkable "C1 C2 C3 C4" buttons, each in its channel's display colour, that says
which channels a viewer shows (as Fiji's channels tool does). Display only: what the model sees
never depends on it. Hidden while the images have no channels to toggle (8-bit pictures)."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Signal, Slot
from PySide6.QtGui import QColor, QImage
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QWidget

from tlgui.core.data.display import CHANNEL_COLOUR_NAMES, channel_colour, display_rgb


def rgb_qimage(array: np.ndarray) -> QImage:
    """A QImage (its own copy) of a uint8 (H, W, 3) array."""
    array = np.ascontiguousarray(array, dtype=np.uint8)
    h, w = array.shape[:2]
    return QImage(array.data, w, h, array.strides[0], QImage.Format.Format_RGB888).copy()


def render(item, visible: list[bool] | None = None) -> QImage:
    """``item`` (a PIL picture or a small RawImage) as the screen shows it."""
    return rgb_qimage(display_rgb(item, visible))


class ChannelToggle(QWidget):
    """``changed`` carries one flag per channel after each click."""

    changed = Signal(object)  # list[bool]

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("channel_toggle")
        self._layout = QHBoxLayout(self)
        self._layout.setContentsMargins(0, 0, 0, 0)
        self._layout.setSpacing(4)
        self._label = QLabel("Show channels:")
        self._layout.addWidget(self._label)
        self._layout.addStretch(1)
        self.buttons: list[QPushButton] = []
        self.setToolTip("Which channels the pictures show (display only: the model always gets its chosen channels)")
        self.setVisible(False)

    def channel_count(self) -> int:
        return len(self.buttons)

    def set_channels(self, count: int) -> None:
        """Offer ``count`` channels (all shown); hide the row when there is nothing to toggle."""
        count = max(0, int(count))
        if count != len(self.buttons):
            for button in self.buttons:
                self._layout.removeWidget(button)
                button.deleteLater()
            self.buttons = [self._make_button(i) for i in range(count)]
            for i, button in enumerate(self.buttons):
                self._layout.insertWidget(1 + i, button)
        else:
            for button in self.buttons:
                button.blockSignals(True)
                button.setChecked(True)
                button.blockSignals(False)
        self.setVisible(count > 0)

    def grow_to(self, count: int) -> None:
        """Offer at least ``count`` channels, keeping the current choice of the others."""
        if count <= len(self.buttons):
            return
        flags = self.visible_channels()
        self.set_channels(count)
        for button, on in zip(self.buttons, flags, strict=False):
            button.setChecked(on)

    def visible_channels(self) -> list[bool]:
        return [button.isChecked() for button in self.buttons]

    def set_visible_channels(self, flags: list[bool]) -> None:
        for button, on in zip(self.buttons, flags, strict=False):
            button.blockSignals(True)
            button.setChecked(bool(on))
            button.blockSignals(False)
        self.changed.emit(self.visible_channels())

    def _make_button(self, index: int) -> QPushButton:
        button = QPushButton(f"C{index + 1}")
        button.setObjectName(f"channel_toggle_{index + 1}")
        button.setCheckable(True)
        button.setChecked(True)
        name = CHANNEL_COLOUR_NAMES[index % len(CHANNEL_COLOUR_NAMES)]
        button.setToolTip(f"Channel {index + 1} (shown in {name}): click to hide or show it")
        r, g, b = channel_colour(index)
        light = (0.299 * r + 0.587 * g + 0.114 * b) > 140
        text = "black" if light else "white"
        edge = QColor(r, g, b).darker(150 if light else 110)  # a white channel still has an edge
        button.setStyleSheet(
            f"QPushButton {{ border: 2px solid {edge.name()}; border-radius: 3px; padding: 1px 6px;"
            " font-weight: bold; }"
            f"QPushButton:checked {{ background-color: rgb({r},{g},{b}); color: {text}; }}"
            "QPushButton:!checked { background-color: transparent; color: palette(mid); }"
        )
        width = button.fontMetrics().horizontalAdvance(f"C{index + 1}") + 22
        button.setFixedWidth(width)
        button.toggled.connect(self._on_toggled)
        return button

    @Slot(bool)
    def _on_toggled(self, _checked: bool) -> None:
        self.changed.emit(self.visible_channels())
