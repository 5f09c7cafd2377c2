"""A searchable list of timm architectures, marking those whose weights are on this computer.

About 1,300 names: no model is built for the list (parameter counts would take minutes);
the model panel shows the chosen one's details. "Weights" means a usable snapshot in the
Hugging Face hub cache or timm weights imported into tlgui's library.
"""

from __future__ import annotations

from PySide6.QtCore import QItemSelection, QModelIndex, QPersistentModelIndex, QSortFilterProxyModel, Qt, Signal, Slot
from PySide6.QtGui import QStandardItem, QStandardItemModel
from PySide6.QtWidgets import (
    QCheckBox,
    QHeaderView,
    QLabel,
    QLineEdit,
    QVBoxLayout,
    QWidget,
)

from tlgui.core.models.timm_zoo import INSTALL_HINT, TIMM_PREFIX, timm_available, timm_model_names
from tlgui.ui.pages.train.architecture_list import QuietChoice, make_model_view

NAME_ROLE = Qt.ItemDataRole.UserRole + 1
SEARCH_ROLE = Qt.ItemDataRole.UserRole + 2
PRESENT_ROLE = Qt.ItemDataRole.UserRole + 3
ON_THIS_COMPUTER = "on this computer"


def timm_weights_present() -> dict[str, str]:
    """Model name (``resnet18``) -> where its weights are: hub cache snapshots, then the library."""
    from tlgui.core.library.catalog import list_custom_weights
    from tlgui.core.library.hub_cache import hub_models_present
    from tlgui.core.models.registry import browser_of
    from tlgui.core.models.timm_zoo import split_name

    present = {name: str(snap.weights) for name, snap in hub_models_present().items()}
    for row in list_custom_weights():
        if row.problem is None and row.architecture and browser_of(row.architecture) == TimmArchitectureList.BROWSER:
            present.setdefault(split_name(row.architecture)[0], row.path)
    return present


class _Filter(QSortFilterProxyModel):
    """Every word typed must appear in the name (underscores optional); optionally only
    models with local weights."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self._words: list[str] = []
        self._only_present = False

    def set_filter(self, text: str, only_present: bool) -> None:
        if hasattr(self, "beginFilterChange"):  # Qt >= 6.10; invalidateFilter is deprecated
            self.beginFilterChange()
            self._words, self._only_present = text.lower().split(), only_present
            self.endFilterChange(QSortFilterProxyModel.Direction.Rows)
        else:
            self._words, self._only_present = text.lower().split(), only_present
            self.invalidateFilter()

    def filterAcceptsRow(self, row: int, parent: QModelIndex | QPersistentModelIndex) -> bool:
        index = self.sourceModel().index(row, 0, parent)
        if self._only_present and not index.data(PRESENT_ROLE):
            return False
        haystack = index.data(SEARCH_ROLE) or ""
        return all(word in haystack for word in self._words)


class TimmArchitectureList(QuietChoice, QWidget):
    """Search box over timm's names; ``chosen`` fires only for user picks (``timm:NAME``)."""

    BROWSER = "timm"  # the families whose BROWSER this is are listed here
    chosen = Signal(str)

    def __init__(self, parent=None):
        super().__init__(parent)
        self._current = ""
        self._quiet = False
        self.available = timm_available()

        self.search = QLineEdit()
        self.search.setObjectName("timmSearch")
        self.search.setPlaceholderText("Search timm models (e.g. convnext, vit small, mobilenetv3)")
        self.search.setClearButtonEnabled(True)
        self.only_present = QCheckBox("Only models with weights on this computer")
        self.only_present.setObjectName("timmOnlyPresent")
        self.note = QLabel()
        self.note.setObjectName("timmNote")
        self.note.setWordWrap(True)
        self.note.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        self._source = QStandardItemModel(0, 2, self)
        self._source.setHorizontalHeaderLabels(["Model", "Weights"])
        self._proxy = _Filter(self)
        self._proxy.setSourceModel(self._source)
        self.view = make_model_view("timmList", self._proxy)
        self.view.setRootIsDecorated(False)
        self.view.header().setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.search)
        layout.addWidget(self.only_present)
        layout.addWidget(self.view, 1)
        layout.addWidget(self.note)

        self.search.textChanged.connect(self._on_filter)
        self.only_present.toggled.connect(self._on_filter)
        self.search.returnPressed.connect(self._select_first_match)
        # a pick is a selection: focus moving into the view makes a row current without picking it
        self.view.selectionModel().selectionChanged.connect(self._on_selection_changed)
        if not self.available:
            for widget in (self.search, self.only_present, self.view):
                widget.setEnabled(False)
            self.note.setText(f"timm architectures need the timm extra, which is not installed: {INSTALL_HINT}")
        self.refresh()

    # ------------------------------------------------------------------ public API

    def refresh(self) -> None:
        """(Re)build the rows and which of them have local weights."""
        if not self.available:
            return
        present = timm_weights_present()
        self._source.removeRows(0, self._source.rowCount())
        # models with local weights first: those are the ones a user can start from offline
        names = sorted(timm_model_names(), key=lambda n: (n not in present, n))
        for name in names:
            where = present.get(name)
            row = [QStandardItem(TIMM_PREFIX + name), QStandardItem(ON_THIS_COMPUTER if where else "")]
            row[0].setData(TIMM_PREFIX + name, NAME_ROLE)
            row[0].setData(f"{name} {name.replace('_', '')}", SEARCH_ROLE)
            row[0].setData(bool(where), PRESENT_ROLE)
            row[0].setToolTip(f"weights: {where}" if where else f"{name}: no weights on this computer")
            if where:
                row[1].setForeground(Qt.GlobalColor.darkGreen)
            for item in row:
                item.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable)
            self._source.appendRow(row)
        count = len(present)
        self.note.setText(
            f"{len(names):,} timm architectures; {count} with weights on this computer "
            "(Hugging Face hub cache or the weights library)"
        )
        if self._current:
            self.select(self._current)

    def current(self) -> str:
        return self._current

    def present_names(self) -> list[str]:
        return [self._source.item(r, 0).data(NAME_ROLE) for r in range(self._source.rowCount())
                if self._source.item(r, 0).data(PRESENT_ROLE)]

    def visible_names(self) -> list[str]:
        return [self._proxy.index(r, 0).data(NAME_ROLE) for r in range(self._proxy.rowCount())]

    def proxy_index(self, name: str) -> QModelIndex:
        return self._proxy.mapFromSource(self._source_index(name))

    def select(self, name: str) -> None:
        """Show ``name`` as chosen (clearing a filter that hides it); emits nothing. ModelError
        naming close matches when timm cannot build it."""
        source = self._source_index(name)
        if not source.isValid():
            from tlgui.core.models.zoo import check_architecture

            check_architecture(name)  # raises for unknown names and when timm is not installed
            return
        self._current = name
        proxy = self._proxy.mapFromSource(source)
        if not proxy.isValid():
            self.search.clear()
            self.only_present.setChecked(False)
            proxy = self._proxy.mapFromSource(source)
        self._show_quietly(proxy)

    def clear_choice(self) -> None:
        """Nothing chosen here (the architecture was picked in another list); emits nothing."""
        self._current = ""
        self._show_quietly(QModelIndex())

    # ------------------------------------------------------------------ slots

    def _source_index(self, name: str) -> QModelIndex:
        hits = self._source.match(self._source.index(0, 0), NAME_ROLE, name, 1, Qt.MatchFlag.MatchExactly)
        return hits[0] if hits else QModelIndex()

    @Slot()
    def _on_filter(self, *_args) -> None:
        self._quiet = True
        try:
            self._proxy.set_filter(self.search.text(), self.only_present.isChecked())
        finally:
            self._quiet = False
        self._show_quietly(self.proxy_index(self._current) if self._current else QModelIndex())

    @Slot()
    def _select_first_match(self) -> None:
        if self._proxy.rowCount():
            self.view.setCurrentIndex(self._proxy.index(0, 0))

    @Slot(QItemSelection, QItemSelection)
    def _on_selection_changed(self, selected: QItemSelection, _deselected: QItemSelection) -> None:
        indexes = selected.indexes()
        if indexes:
            self._on_pick(indexes[0])

    def _on_pick(self, current: QModelIndex) -> None:
        name = current.siblingAtColumn(0).data(NAME_ROLE)
        if not name or self._quiet or name == self._current:
            return
        self._current = name
        self.chosen.emit(name)
