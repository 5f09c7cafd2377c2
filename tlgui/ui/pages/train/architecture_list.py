"""A searchable list of every architecture, grouped by family, with size and input side."""

from __future__ import annotations

from PySide6.QtCore import QItemSelection, QModelIndex, QPersistentModelIndex, QSortFilterProxyModel, Qt, Signal, Slot
from PySide6.QtGui import QStandardItem, QStandardItemModel
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QLineEdit,
    QTreeView,
    QVBoxLayout,
    QWidget,
)

from tlgui.core.models.registry import browser_of, family_rank
from tlgui.core.models.zoo import architecture_info, family_of, list_architectures

NAME_ROLE = Qt.ItemDataRole.UserRole + 1
SEARCH_ROLE = Qt.ItemDataRole.UserRole + 2


def human_count(n: int) -> str:
    if n >= 1_000_000:
        return f"{n / 1_000_000:.1f} M"
    if n >= 1_000:
        return f"{n / 1_000:.0f} k"
    return str(n)



def make_model_view(object_name: str, model) -> QTreeView:
    """A read-only, single-selection list of models whose first column stretches."""
    view = QTreeView()
    view.setObjectName(object_name)
    view.setModel(model)
    view.setUniformRowHeights(True)
    view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    view.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
    view.setAlternatingRowColors(True)
    header = view.header()
    header.setStretchLastSection(False)
    header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
    return view


class QuietChoice:
    """Moving the list's current row from code (a filter, a restored choice) is not a user's
    pick: ``_quiet`` tells the selection slot to emit nothing meanwhile. Needs ``view``."""

    _quiet = False
    view: QTreeView

    def _show_quietly(self, proxy: QModelIndex) -> None:
        """Make ``proxy`` current and visible, or clear the selection when it is invalid."""
        self._quiet = True
        try:
            if proxy.isValid():
                self.view.setCurrentIndex(proxy)
                self.view.scrollTo(proxy)
            else:
                self.view.selectionModel().clearSelection()
                self.view.selectionModel().clearCurrentIndex()
        finally:
            self._quiet = False


class _ArchitectureFilter(QSortFilterProxyModel):
    """Every word typed must appear in the name (underscores optional) or the family."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self._words: list[str] = []
        self.setRecursiveFilteringEnabled(True)

    def set_text(self, text: str) -> None:
        if hasattr(self, "beginFilterChange"):  # Qt >= 6.10; invalidateFilter is deprecated
            self.beginFilterChange()
            self._words = text.lower().split()
            self.endFilterChange(QSortFilterProxyModel.Direction.Rows)
        else:
            self._words = text.lower().split()
            self.invalidateFilter()

    def filterAcceptsRow(self, row: int, parent: QModelIndex | QPersistentModelIndex) -> bool:
        haystack = self.sourceModel().index(row, 0, parent).data(SEARCH_ROLE)
        if haystack is None:  # a family row: shown when one of its models is
            return not self._words
        return all(word in haystack for word in self._words)


def _architecture_model(parent) -> QStandardItemModel:
    model = QStandardItemModel(0, 3, parent)
    model.setHorizontalHeaderLabels(["Model", "Parameters", "Input"])
    families: dict[str, QStandardItem] = {}
    # model families in registry order (smallcnn before torchvision), their groups in name order;
    # inside a group, smallest model first
    names = sorted(
        (n for n in list_architectures() if browser_of(n) == ArchitectureList.BROWSER),
        key=lambda n: (family_rank(n), family_of(n).lower(), architecture_info(n).num_params, n),
    )
    for name in names:
        family = family_of(name)
        group = families.get(family)
        if group is None:
            group = families[family] = QStandardItem(family)
            font = group.font()
            font.setBold(True)
            group.setFont(font)
            row = [group, QStandardItem(""), QStandardItem("")]
            for item in row:
                item.setFlags(Qt.ItemFlag.ItemIsEnabled)
            model.appendRow(row)
        info = architecture_info(name)
        row = [
            QStandardItem(name),
            QStandardItem(human_count(info.num_params)),
            QStandardItem(f"{info.input_size} px"),
        ]
        row[0].setData(name, NAME_ROLE)
        row[0].setData(f"{name} {name.replace('_', '')} {family.lower()}", SEARCH_ROLE)
        row[0].setToolTip(
            f"{name}: {info.num_params:,} parameters, {info.input_size}×{info.input_size} input"
        )
        for item in row:
            item.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable)
        row[1].setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        group.appendRow(row)
    return model


class ArchitectureList(QuietChoice, QWidget):
    """Search box over a family-grouped list; ``chosen`` fires only for user picks."""

    BROWSER = "torchvision"  # the families whose BROWSER this is are listed here
    chosen = Signal(str)

    def __init__(self, parent=None):
        super().__init__(parent)
        self._current = ""
        self._quiet = False

        self.search = QLineEdit()
        self.search.setObjectName("modelSearch")
        self.search.setPlaceholderText("Search models (e.g. resnet, vit b, efficient)")
        self.search.setClearButtonEnabled(True)
        self.search.textChanged.connect(self._on_search)
        self.search.returnPressed.connect(self._select_first_match)

        self._source = _architecture_model(self)
        self._proxy = _ArchitectureFilter(self)
        self._proxy.setSourceModel(self._source)
        self.view = make_model_view("modelList", self._proxy)
        header = self.view.header()
        for column, sample in ((1, "Parameters"), (2, "Input")):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.Fixed)
            header.resizeSection(column, self.fontMetrics().horizontalAdvance(sample) + 28)
        self.view.expandAll()
        # a pick is a selection: focus moving into the view makes a row current without picking it
        self.view.selectionModel().selectionChanged.connect(self._on_selection_changed)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.search)
        layout.addWidget(self.view, 1)

    def current(self) -> str:
        return self._current

    def select(self, name: str) -> None:
        """Show ``name`` as chosen (clearing a search that hides it); emits nothing."""
        source = self._source_index(name)
        if not source.isValid():
            from tlgui.core.models.zoo import check_architecture

            check_architecture(name)  # raises ModelError naming close matches
            return
        proxy = self._proxy.mapFromSource(source)
        if not proxy.isValid():
            self.search.clear()
            proxy = self._proxy.mapFromSource(source)
        self._current = name
        self._show_quietly(proxy)

    def clear_choice(self) -> None:
        """Nothing chosen here (the architecture was picked in another list); emits nothing."""
        self._current = ""
        self._show_quietly(QModelIndex())

    def visible_names(self) -> list[str]:
        names = []
        for family_row in range(self._proxy.rowCount()):
            family = self._proxy.index(family_row, 0)
            names += [self._proxy.index(r, 0, family).data(NAME_ROLE) for r in range(self._proxy.rowCount(family))]
        return names

    def proxy_index(self, name: str) -> QModelIndex:
        return self._proxy.mapFromSource(self._source_index(name))

    def _source_index(self, name: str) -> QModelIndex:
        for family_row in range(self._source.rowCount()):
            family = self._source.item(family_row, 0)
            for row in range(family.rowCount()):
                if family.child(row, 0).data(NAME_ROLE) == name:
                    return self._source.indexFromItem(family.child(row, 0))
        return QModelIndex()

    @Slot(str)
    def _on_search(self, text: str) -> None:
        # filtering moves Qt's current row when it is hidden: that is not a user's pick
        self._quiet = True
        try:
            self._proxy.set_text(text)
            self.view.expandAll()
        finally:
            self._quiet = False
        self._show_quietly(self.proxy_index(self._current))

    @Slot()
    def _select_first_match(self) -> None:
        for family_row in range(self._proxy.rowCount()):
            family = self._proxy.index(family_row, 0)
            if self._proxy.rowCount(family):
                self.view.setCurrentIndex(self._proxy.index(0, 0, family))
                return

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
