"""The Predict page's table: one row per picture, its thumbnail, its file and the model's top classes
(drawn as bars by :class:`~tlgui.ui.widgets.gallery.TopClassesDelegate`)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QIcon, QImage, QPixmap
from PySide6.QtWidgets import QHeaderView, QTableWidget, QTableWidgetItem, QWidget

from tlgui.ui.widgets.gallery import TOP_ROLE, NumericItem, TopClassesDelegate, paint_placeholder, percent

if TYPE_CHECKING:
    from tlgui.core.results.predict import Prediction

ICON = 64


class PredictionsTable(QTableWidget):
    """Rows of predictions; ``placeholder`` is painted while the table is empty."""

    def __init__(self, placeholder: str, parent: QWidget | None = None):
        super().__init__(0, 3, parent)
        self.setObjectName("predictionsTable")
        self.placeholder = placeholder
        self.setHorizontalHeaderLabels(["Picture", "File", "Model says"])
        self.verticalHeader().setVisible(False)
        self.setIconSize(QSize(ICON, ICON))
        self.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.setSelectionBehavior(QTableWidget.SelectionBehavior.SelectRows)
        header = self.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Fixed)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Interactive)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
        self.setColumnWidth(0, ICON + 12)
        self.setColumnWidth(1, 220)
        self.setWordWrap(False)
        self.setItemDelegateForColumn(2, TopClassesDelegate(self))

    def paintEvent(self, event) -> None:  # Qt override
        super().paintEvent(event)
        if self.rowCount() == 0:
            paint_placeholder(self, self.viewport(), self.placeholder)

    def add_rows(self, predictions: Sequence[Prediction]) -> None:
        """Rows for ``predictions`` below those shown (their text comes with :meth:`show_top`)."""
        row = self.rowCount()
        self.setRowCount(row + len(predictions))
        for offset, p in enumerate(predictions):
            r = row + offset
            picture = NumericItem("", None)
            self.setItem(r, 0, picture)
            name = NumericItem(Path(p.path).name, p.path)
            name.setToolTip(p.path)
            self.setItem(r, 1, name)
            self.setItem(r, 2, NumericItem("", p.probability))

    def show_top(self, predictions: Sequence[Prediction], k: int) -> None:
        """Each row's ``k`` likeliest classes (row r shows ``predictions[r]``)."""
        height = max(ICON + 6, (self.fontMetrics().height() + 2) * min(k, 8) + 10)
        for r, p in enumerate(predictions):
            item = self.item(r, 2)
            if item is None:
                continue
            top = p.top[:k]
            item.setData(TOP_ROLE, [(label, float(prob)) for label, prob in top])
            item.setData(Qt.ItemDataRole.UserRole, [label for label, _ in top])
            item.setToolTip("\n".join(f"{label}: {percent(prob, 2)}" for label, prob in p.top[:max(k, 10)]))
            self.setRowHeight(r, height)

    def shown_top(self, row: int) -> list[str]:
        """The class names shown in ``row`` (best first)."""
        item = self.item(row, 2)
        return list(item.data(Qt.ItemDataRole.UserRole) or []) if item is not None else []

    @staticmethod
    def set_icon(item: QTableWidgetItem, image: QImage) -> None:
        item.setIcon(QIcon(QPixmap.fromImage(image).scaled(
            ICON, ICON, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.FastTransformation)))

    def icon_image(self, row: int) -> QImage:
        """The picture shown in ``row``."""
        item = self.item(row, 0)
        return item.icon().pixmap(ICON, ICON).toImage() if item is not None else QImage()

    def icon_count(self) -> int:
        """Rows whose picture has arrived."""
        items = [self.item(r, 0) for r in range(self.rowCount())]
        return len([item for item in items if item is not None and not item.icon().isNull()])
