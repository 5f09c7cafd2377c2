"""The confusion matrix as a painted heatmap: rows = true class, columns = predicted.

Each cell shows its count; its colour is the share of that true class's images that
landed there (so small classes are as readable as big ones). Correct cells (the diagonal)
are blue, mistakes orange. Clicking a cell emits ``cell_clicked(true, predicted)``.
"""

from __future__ import annotations

import math

import numpy as np
from PySide6.QtCore import QEvent, QPointF, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QFont, QPainter, QPalette, QPen
from PySide6.QtWidgets import QSizePolicy, QToolTip, QWidget

_CORRECT = QColor(31, 111, 180)
_WRONG = QColor(217, 72, 15)
_PAD = 6


def _blend(base: QColor, colour: QColor, t: float) -> QColor:
    t = max(0.0, min(1.0, t))
    return QColor(
        round(base.red() + (colour.red() - base.red()) * t),
        round(base.green() + (colour.green() - base.green()) * t),
        round(base.blue() + (colour.blue() - base.blue()) * t),
    )


def _ink_for(fill: QColor) -> QColor:
    luminance = 0.299 * fill.red() + 0.587 * fill.green() + 0.114 * fill.blue()
    return QColor(20, 20, 20) if luminance > 140 else QColor(250, 250, 250)


class ConfusionMatrixView(QWidget):
    cell_clicked = Signal(int, int)  # true class, predicted class

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("confusionMatrix")
        self.classes: list[str] = []
        self.confusion = np.zeros((0, 0), dtype=np.int64)
        self._selected: tuple[int, int] | None = None
        self._hover: tuple[int, int] | None = None
        self.setMouseTracking(True)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMinimumSize(260, 240)
        self.setCursor(Qt.CursorShape.PointingHandCursor)

    # -- data -------------------------------------------------------------------------
    def set_data(self, classes: list[str], confusion: np.ndarray) -> None:
        self.classes = [str(c) for c in classes]
        self.confusion = np.asarray(confusion, dtype=np.int64)
        self._selected = self._hover = None
        self.update()

    def clear(self) -> None:
        self.set_data([], np.zeros((0, 0), dtype=np.int64))

    def selected(self) -> tuple[int, int] | None:
        return self._selected

    def select(self, true: int, predicted: int, emit: bool = True) -> None:
        self._selected = (int(true), int(predicted))
        self.update()
        if emit:
            self.cell_clicked.emit(int(true), int(predicted))

    def sizeHint(self) -> QSize:
        return QSize(460, 440)

    # -- geometry ---------------------------------------------------------------------
    def _layout(self) -> tuple[float, float, float, bool]:
        """(left, top, cell size, rotate the column labels)."""
        n = max(1, len(self.classes))
        metrics = self.fontMetrics()
        line = metrics.height()
        widest = max((metrics.horizontalAdvance(c) for c in self.classes), default=0) + 8
        left = line + _PAD + min(widest, self.width() * 0.32)
        flat_top = 2 * line + 2 * _PAD
        cell = min((self.width() - left - _PAD) / n, (self.height() - flat_top - _PAD) / n)
        rotate = widest > cell
        top: float = flat_top
        if rotate:
            top = line + 2 * _PAD + min(widest, self.height() * 0.28)
            cell = min((self.width() - left - _PAD) / n, (self.height() - top - _PAD) / n)
        return left, top, max(4.0, cell), rotate

    def cell_rect(self, true: int, predicted: int) -> QRectF:
        left, top, cell, _ = self._layout()
        return QRectF(left + predicted * cell, top + true * cell, cell, cell)

    def cell_at(self, pos: QPointF) -> tuple[int, int] | None:
        n = len(self.classes)
        if n == 0:
            return None
        left, top, cell, _ = self._layout()
        col = int((pos.x() - left) // cell)
        row = int((pos.y() - top) // cell)
        if 0 <= row < n and 0 <= col < n and pos.x() >= left and pos.y() >= top:
            return row, col
        return None

    def describe_cell(self, true: int, predicted: int) -> str:
        count = int(self.confusion[true, predicted])
        total = int(self.confusion[true].sum())
        share = f" ({100 * count / total:.0f} % of the {total} {self.classes[true]} images)" if total else ""
        if true == predicted:
            return f"{count} {self.classes[true]} image(s) recognised correctly{share}"
        return f"{count} {self.classes[true]} image(s) taken for {self.classes[predicted]}{share}"

    # -- events -----------------------------------------------------------------------
    def mousePressEvent(self, event) -> None:  # Qt override
        cell = self.cell_at(event.position())
        if cell is not None and event.button() == Qt.MouseButton.LeftButton:
            self.select(*cell)
            return
        super().mousePressEvent(event)

    def mouseMoveEvent(self, event) -> None:  # Qt override
        cell = self.cell_at(event.position())
        if cell != self._hover:
            self._hover = cell
            self.update()
        super().mouseMoveEvent(event)

    def leaveEvent(self, event) -> None:  # Qt override
        self._hover = None
        self.update()
        super().leaveEvent(event)

    def event(self, event) -> bool:  # Qt override
        if event.type() == QEvent.Type.ToolTip:
            cell = self.cell_at(QPointF(event.pos()))
            if cell is not None:
                QToolTip.showText(event.globalPos(), self.describe_cell(*cell) + "\nClick to see these images.", self)
            else:
                QToolTip.hideText()
            return True
        return super().event(event)

    # -- painting ---------------------------------------------------------------------
    def paintEvent(self, _event) -> None:  # Qt override
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        palette = self.palette()
        text = palette.color(QPalette.ColorRole.WindowText)
        base = palette.color(QPalette.ColorRole.Base)
        painter.fillRect(self.rect(), palette.color(QPalette.ColorRole.Window))
        n = len(self.classes)
        if n == 0:
            painter.setPen(palette.color(QPalette.ColorGroup.Disabled, QPalette.ColorRole.Text))
            painter.drawText(self.rect(), int(Qt.AlignmentFlag.AlignCenter), "No evaluation yet")
            painter.end()
            return
        left, top, cell, rotate = self._layout()
        metrics = self.fontMetrics()
        line = metrics.height()
        size = n * cell
        self._paint_titles(painter, text, left, top, size, line, rotate)
        self._paint_labels(painter, text, left, top, cell, rotate)
        rows = self.confusion.sum(axis=1)
        count_font = QFont(self.font())
        count_font.setBold(True)
        fits = metrics.horizontalAdvance(f"{int(self.confusion.max()) if self.confusion.size else 0}") + 4 <= cell
        fits = fits and line <= cell
        painter.setFont(count_font)
        for i in range(n):
            for j in range(n):
                rect = self.cell_rect(i, j)
                count = int(self.confusion[i, j])
                share = count / rows[i] if rows[i] else 0.0
                # a faint tint even for 1 image, so a single mistake is never invisible
                strength = 0.0 if count == 0 else 0.12 + 0.88 * share
                fill = _blend(base, _CORRECT if i == j else _WRONG, strength)
                painter.fillRect(rect, fill)
                painter.setPen(QPen(QColor(text.red(), text.green(), text.blue(), 40), 1))
                painter.drawRect(rect)
                if fits:
                    painter.setPen(_ink_for(fill) if count else QColor(text.red(), text.green(), text.blue(), 110))
                    painter.drawText(rect, int(Qt.AlignmentFlag.AlignCenter), str(count))
        painter.setFont(self.font())
        for cell_pos, colour, width in (
            (self._hover, palette.color(QPalette.ColorRole.Highlight), 1.5),
            (self._selected, palette.color(QPalette.ColorRole.Highlight), 3.0),
        ):
            if cell_pos is not None and max(cell_pos) < n:
                painter.setPen(QPen(colour, width))
                painter.setBrush(Qt.BrushStyle.NoBrush)
                painter.drawRect(self.cell_rect(*cell_pos).adjusted(1, 1, -1, -1))
        painter.end()

    def _paint_titles(self, painter, text, left, top, size, line, rotate) -> None:
        bold = QFont(self.font())
        bold.setBold(True)
        painter.setFont(bold)
        painter.setPen(text)
        painter.drawText(QRectF(left, _PAD / 2, size, line), int(Qt.AlignmentFlag.AlignCenter), "Predicted class")
        painter.save()
        painter.translate(_PAD / 2, top + size / 2)
        painter.rotate(-90)
        painter.drawText(QRectF(-size / 2, 0, size, line), int(Qt.AlignmentFlag.AlignCenter), "True class")
        painter.restore()
        painter.setFont(self.font())

    def _paint_labels(self, painter, text, left, top, cell, rotate) -> None:
        metrics = self.fontMetrics()
        line = metrics.height()
        label_left = line + _PAD
        painter.setPen(text)
        step = max(1, math.ceil(line / cell))  # many classes: label every step-th row/column
        for i, name in enumerate(self.classes):
            if i % step:
                continue
            row = QRectF(label_left, top + (i + 0.5) * cell - line / 2, left - label_left - 6, line)
            shown = metrics.elidedText(name, Qt.TextElideMode.ElideRight, int(row.width()))
            painter.drawText(row, int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter), shown)
        label_top = line + _PAD
        for j, name in enumerate(self.classes):
            if j % step:
                continue
            if rotate:
                room = top - label_top - 4
                shown = metrics.elidedText(name, Qt.TextElideMode.ElideRight, int(room))
                painter.save()
                painter.translate(left + (j + 0.5) * cell - line / 2, top - 4)
                painter.rotate(-90)
                painter.drawText(QRectF(0, 0, room, line), int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop),
                                 shown)
                painter.restore()
            else:
                rect = QRectF(left + j * cell, label_top, cell, top - label_top - 2)
                shown = metrics.elidedText(name, Qt.TextElideMode.ElideRight, int(cell))
                painter.drawText(rect, int(Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignBottom), shown)
