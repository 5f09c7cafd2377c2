"""The "Review suggestions" grid: unlabelled images sorted by the model's confidence for one
class, best first. Select many (click, Shift/Ctrl+click, Ctrl+A) and accept them as that class
in one go. Thumbnails are decoded lazily: only the tiles the view paints are asked for."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QAbstractListModel, QSize, Qt, Signal, Slot
from PySide6.QtGui import QColor, QIcon, QPixmap
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QLabel,
    QListView,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from tlgui.ui.pages.label.image_cache import ImageCache, fitted
from tlgui.ui.pages.label.label_queue import Pick

SIDE = 96
PATH_ROLE = Qt.ItemDataRole.UserRole + 20


class SuggestionModel(QAbstractListModel):
    """Picks as tiles: caption (name and confidence), a picture from the cache once decoded."""

    def __init__(self, cache: ImageCache, parent=None):
        super().__init__(parent)
        self.cache = cache
        self.picks: list[Pick] = []
        self._rows: dict[str, int] = {}
        blank = QPixmap(SIDE, SIDE)
        blank.fill(QColor(128, 128, 128, 40))
        self._blank = QIcon(blank)
        self._icons: dict[str, QIcon] = {}
        cache.loaded.connect(self._on_loaded)

    def set_picks(self, picks: list[Pick]) -> None:
        self.beginResetModel()
        self.picks = list(picks)
        self._rows = {p.path: i for i, p in enumerate(self.picks)}
        self._icons = {}
        self.endResetModel()

    def remove(self, paths) -> None:
        gone = set(paths)
        self.set_picks([p for p in self.picks if p.path not in gone])

    def rowCount(self, parent=None) -> int:  # Qt override
        return 0 if parent is not None and parent.isValid() else len(self.picks)

    def data(self, index, role=Qt.ItemDataRole.DisplayRole):  # Qt override
        if not index.isValid() or index.row() >= len(self.picks):
            return None
        pick = self.picks[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            confidence = "" if pick.confidence is None else f"{100 * pick.confidence:.0f} %"
            return f"{Path(pick.path).name}\n{confidence}"
        if role == Qt.ItemDataRole.DecorationRole:
            return self._icon(pick.path)
        if role == Qt.ItemDataRole.ToolTipRole:
            problem = self.cache.error(pick.path)
            return pick.path + (f"\n{problem}" if problem else "")
        if role == PATH_ROLE:
            return pick.path
        return None

    def _icon(self, path: str) -> QIcon:
        icon = self._icons.get(path)
        if icon is None:
            pixmap = self.cache.get(path)  # asks for it when missing: lazy, only painted tiles
            if pixmap is None:
                return self._blank
            icon = self._icons[path] = QIcon(fitted(pixmap, SIDE, SIDE))
        return icon

    @Slot(str)
    def _on_loaded(self, path: str) -> None:
        row = self._rows.get(path)
        if row is not None:
            index = self.index(row)
            self.dataChanged.emit(index, index, [Qt.ItemDataRole.DecorationRole])


class ReviewGrid(QWidget):
    """``rank_requested(cls)``: show the likeliest images of ``cls``; ``accept_requested(cls, picks)``."""

    rank_requested = Signal(str)
    accept_requested = Signal(str, object)  # class, list[Pick]

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("labelReviewGrid")
        self.cache = ImageCache(SIDE, limit=600, parent=self)
        self.model = SuggestionModel(self.cache, self)
        self.class_combo = QComboBox()
        self.class_combo.setObjectName("labelReviewClassCombo")
        self.show_button = QPushButton("Show the likeliest", objectName="labelReviewShowButton", clicked=self._show)
        self.status = QLabel("Choose a class: the unlabelled images the model thinks most likely to be it come "
                             "first. Select many (Shift/Ctrl+click, Ctrl+A) and accept them in one go.",
                             objectName="labelReviewStatus", wordWrap=True)
        self.view = QListView()
        self.view.setObjectName("labelReviewView")
        self.view.setViewMode(QListView.ViewMode.IconMode)
        self.view.setModel(self.model)
        self.view.setIconSize(QSize(SIDE, SIDE))
        line = self.view.fontMetrics().height()
        self.view.setGridSize(QSize(SIDE + 36, SIDE + 2 * line + 12))
        self.view.setResizeMode(QListView.ResizeMode.Adjust)
        self.view.setMovement(QListView.Movement.Static)
        self.view.setUniformItemSizes(True)
        self.view.setLayoutMode(QListView.LayoutMode.Batched)  # a long list lays out in steps
        self.view.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        self.view.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.view.selectionModel().selectionChanged.connect(self._update_buttons)
        self.accept_button = QPushButton("Accept selected", objectName="labelReviewAcceptButton",
                                         clicked=self._accept)
        top = QHBoxLayout()
        top.addWidget(QLabel("Images most likely to be"))
        top.addWidget(self.class_combo, 1)
        top.addWidget(self.show_button)
        bottom = QHBoxLayout()
        bottom.addStretch(1)
        bottom.addWidget(self.accept_button)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.status)
        layout.addWidget(self.view, 1)
        layout.addLayout(bottom)
        self._shown_class = ""
        self._update_buttons()

    def set_classes(self, classes: list[str]) -> None:
        current = self.class_combo.currentText()
        self.class_combo.clear()
        self.class_combo.addItems(classes)
        if current in classes:
            self.class_combo.setCurrentText(current)
        self._update_buttons()

    def set_busy(self, busy: bool, text: str = "") -> None:
        self.show_button.setEnabled(not busy and bool(self.class_combo.currentText()))
        if text:
            self.status.setText(text)

    def show_ranked(self, cls: str, picks: list[Pick], text: str) -> None:
        self._shown_class = cls
        self.model.set_picks(picks)
        self.status.setText(text)
        self._update_buttons()

    def clear(self, text: str = "") -> None:
        self.show_ranked("", [], text or self.status.text())

    def selected(self) -> list[Pick]:
        rows = sorted(index.row() for index in self.view.selectionModel().selectedIndexes())
        return [self.model.picks[r] for r in rows if r < len(self.model.picks)]

    def remove(self, paths) -> None:
        self.model.remove(paths)
        self._update_buttons()

    @Slot()
    def _show(self) -> None:
        if self.class_combo.currentText():
            self.rank_requested.emit(self.class_combo.currentText())

    @Slot()
    def _accept(self) -> None:
        picks = self.selected()
        if picks and self._shown_class:
            self.accept_requested.emit(self._shown_class, picks)

    @Slot()
    def _update_buttons(self, *_args) -> None:
        count = len(self.view.selectionModel().selectedIndexes()) if self.view.selectionModel() else 0
        self.accept_button.setEnabled(bool(count and self._shown_class))
        self.accept_button.setText(f"Accept {count} selected as {self._shown_class}" if count and self._shown_class
                                   else "Accept selected")
        self.show_button.setEnabled(bool(self.class_combo.currentText()))

    def shutdown(self) -> None:
        self.cache.shutdown()
