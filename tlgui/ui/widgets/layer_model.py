"""Item model for the layer tree: a module hierarchy with tri-state "trainable" checkboxes.

Freezing is kept per module as one flag for the parameters registered directly on it
(``own_frozen``); a row's check state is derived from cached trainable counts, so a toggle
costs O(size of the toggled subtree + depth) and never rescans the whole tree.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QAbstractItemModel, QModelIndex, QObject, QPersistentModelIndex, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QFont, QIcon, QPixmap

from tlgui.core.models.layers import LayerNode

COLUMNS = ("Layer", "Type", "Parameters", "Trainable", "LR ×")
BN_TYPES = frozenset({"BatchNorm1d", "BatchNorm2d", "BatchNorm3d", "SyncBatchNorm"})
_GREY = QBrush(QColor(128, 128, 128))
_NO_PARENT = QModelIndex()  # the invisible root (a shared, never-modified default)


class _Item:
    __slots__ = ("node", "parent", "row", "children", "own_frozen", "trainable", "index_id")

    def __init__(self, node: LayerNode, parent: _Item | None, row: int, index_id: int):
        self.node = node
        self.parent = parent
        self.row = row
        self.children: list[_Item] = []
        self.own_frozen = False
        self.trainable = node.total_params  # cached: trainable parameters in this subtree
        self.index_id = index_id

    @property
    def total(self) -> int:
        return self.node.total_params

    def recount(self) -> None:
        own = 0 if self.own_frozen else self.node.own_params
        self.trainable = own + sum(c.trainable for c in self.children)


class LayerTreeModel(QAbstractItemModel):
    """Rows are modules (the model itself is the invisible root); column 0 is checkable."""

    # emitted after the user (or a preset) changed which parameters train
    freeze_changed = Signal()

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._items: list[_Item] = []  # index_id -> item, in pre-order (= forward order)
        self._root: _Item | None = None
        self._by_path: dict[str, _Item] = {}
        self._head_path = ""
        self._locked = False
        # Optional view hook: a collapsed subtree holds no data in any view, so change
        # signals stop there (QTreeView looks up every changed range linearly, which made
        # toggling EfficientNet-B7's backbone cost 70 ms instead of a few).
        self.is_expanded: Callable[[QModelIndex], bool] | None = None
        self._blank_icon: QIcon | None = None  # lines parameter-free rows up with checkboxes
        self._bold = QFont()
        self._bold.setBold(True)
        self._lr_scales: dict[str, tuple[float, float]] = {}  # --layer-lr-decay: path -> (low, high)

    def set_indicator_width(self, width: int) -> None:
        pixmap = QPixmap(max(1, width), max(1, width))
        pixmap.fill(QColor(0, 0, 0, 0))
        self._blank_icon = QIcon(pixmap)

    # ------------------------------------------------------------------ building

    def set_tree(self, root: LayerNode, head_path: str) -> None:
        self.beginResetModel()
        self._items = []
        self._by_path = {}
        self._head_path = head_path
        stack: list[tuple[LayerNode, _Item | None, int]] = [(root, None, 0)]
        while stack:  # iterative pre-order: deep models must not hit the recursion limit
            node, parent, row = stack.pop()
            item = _Item(node, parent, row, len(self._items))
            self._items.append(item)
            self._by_path[node.path] = item
            if parent is not None:
                parent.children.append(item)
            for child_row in range(len(node.children) - 1, -1, -1):
                stack.append((node.children[child_row], item, child_row))
        self._root = self._items[0] if self._items else None
        self.endResetModel()

    @property
    def root(self) -> _Item | None:
        return self._root

    @property
    def head_path(self) -> str:
        return self._head_path

    def item(self, path: str) -> _Item | None:
        return self._by_path.get(path)

    def items(self) -> list[_Item]:
        """All modules in forward (registration) order, the root first."""
        return self._items

    def set_lr_scales(self, scales: dict[str, tuple[float, float]]) -> None:
        """The "LR ×" column: each module's multiple of the run's rate (empty: all 1)."""
        self._lr_scales = dict(scales)
        if self._items:
            self._emit_all()

    def lr_text(self, item: _Item) -> str:
        if item.total == 0:
            return "–"
        low, high = self._lr_scales.get(item.node.path, (1.0, 1.0))
        return f"{low:.3g}" if low == high else f"{low:.3g}–{high:.3g}"

    def set_locked(self, locked: bool) -> None:
        self._locked = bool(locked)
        if self._items:
            self._emit_all()

    # ------------------------------------------------------------------ Qt model API

    def index(self, row: int, column: int, parent=_NO_PARENT) -> QModelIndex:
        parent_item = self._item_of(parent)
        if parent_item is None or not (0 <= row < len(parent_item.children)):
            return QModelIndex()
        if not (0 <= column < len(COLUMNS)):
            return QModelIndex()
        return self.createIndex(row, column, parent_item.children[row].index_id)

    # Qt's model API: parent(index) beside QObject.parent(); the stub can't express both in one override
    def parent(self, index=_NO_PARENT) -> QModelIndex:  # type: ignore[override]
        if not index.isValid():
            return QModelIndex()
        item = self._items[index.internalId()]
        parent = item.parent
        if parent is None or parent is self._root:
            return QModelIndex()
        return self.createIndex(parent.row, 0, parent.index_id)

    def rowCount(self, parent=_NO_PARENT) -> int:
        if parent.isValid() and parent.column() != 0:
            return 0
        item = self._item_of(parent)
        return len(item.children) if item is not None else 0

    def columnCount(self, parent=_NO_PARENT) -> int:
        return len(COLUMNS)

    def hasChildren(self, parent=_NO_PARENT) -> bool:
        return self.rowCount(parent) > 0

    def headerData(self, section, orientation, role=Qt.ItemDataRole.DisplayRole):
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[section]
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.TextAlignmentRole:
            if section == 2:
                return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None

    def flags(self, index) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        flags = Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
        item = self._items[index.internalId()]
        if index.column() == 0 and item.total > 0 and not self._locked:
            flags |= Qt.ItemFlag.ItemIsUserCheckable
        return flags

    def data(self, index, role=Qt.ItemDataRole.DisplayRole):
        if not index.isValid():
            return None
        item = self._items[index.internalId()]
        column = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            if column == 0:
                return item.node.name
            if column == 1:
                return item.node.type_name + ("  (head)" if item.node.path == self._head_path else "")
            if column == 2:
                return f"{item.total:,}" if item.total else "–"
            if column == 3:
                return _trainable_text(item)
            if column == 4:
                return self.lr_text(item)
            return None
        if role == Qt.ItemDataRole.CheckStateRole and column == 0 and item.total > 0:
            return self.check_state(item)
        if role == Qt.ItemDataRole.TextAlignmentRole and column == 2:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == Qt.ItemDataRole.ForegroundRole and item.total == 0:
            return _GREY  # parameter-free layers (ReLU, pooling) cannot be frozen
        if role == Qt.ItemDataRole.DecorationRole and column == 0 and item.total == 0:
            return self._blank_icon
        if role == Qt.ItemDataRole.FontRole and item.node.path == self._head_path:
            return self._bold
        if role == Qt.ItemDataRole.ToolTipRole:
            return _tooltip(item, self._head_path)
        if role == Qt.ItemDataRole.UserRole:
            return item.node.path
        return None

    def setData(self, index, value, role=Qt.ItemDataRole.EditRole) -> bool:
        if role != Qt.ItemDataRole.CheckStateRole or not index.isValid() or self._locked:
            return False
        item = self._items[index.internalId()]
        if item.total == 0 or index.column() != 0:
            return False
        state = Qt.CheckState(value) if not isinstance(value, Qt.CheckState) else value
        # a partially checked row clicked by the user becomes fully trainable
        self.set_trainable(item, state != Qt.CheckState.Unchecked)
        self.freeze_changed.emit()
        return True

    # ------------------------------------------------------------------ freezing

    @staticmethod
    def check_state(item: _Item) -> Qt.CheckState:
        if item.trainable == item.total:
            return Qt.CheckState.Checked
        if item.trainable == 0:
            return Qt.CheckState.Unchecked
        return Qt.CheckState.PartiallyChecked

    def set_trainable(self, item: _Item, trainable: bool) -> None:
        """Make ``item``'s whole subtree trainable or frozen and update its ancestors."""
        frozen = not trainable
        self._set_subtree(item, frozen)
        self._update_ancestors(item)
        self._emit_subtree(item)

    def set_frozen_flags(self, frozen_own: dict[int, bool], root_frozen: bool = False) -> None:
        """Bulk state: ``frozen_own`` maps index_id -> own_frozen (missing: trainable).

        The root's own parameters (e.g. a ViT's class token) can only be frozen by the
        "backbone" plan, so they are frozen only when ``root_frozen``.
        """
        for item in reversed(self._items):  # children before parents
            item.own_frozen = frozen_own.get(item.index_id, False)
            if item is self._root:
                item.own_frozen = root_frozen
            item.recount()
        self._emit_all()

    def trainable_params(self) -> int:
        return self._root.trainable if self._root else 0

    def total_params(self) -> int:
        return self._root.total if self._root else 0

    def topmost_frozen(self) -> list[str]:
        """Paths of frozen subtrees whose parent is not wholly frozen, in forward order."""
        result: list[str] = []
        if self._root is None:
            return result
        stack = list(reversed(self._root.children))
        while stack:
            item = stack.pop()
            if item.total == 0:
                continue
            if item.trainable == 0:
                result.append(item.node.path)
            elif item.trainable < item.total:
                stack.extend(reversed(item.children))
        return result

    def frozen_batchnorm(self) -> list[str]:
        return [
            i.node.path for i in self._items
            if i.node.type_name in BN_TYPES and i.total > 0 and i.trainable == 0
        ]

    def _set_subtree(self, item: _Item, frozen: bool) -> None:
        stack = [item]
        order = []
        while stack:
            current = stack.pop()
            current.own_frozen = frozen
            order.append(current)
            stack.extend(current.children)
        for current in reversed(order):  # children are recounted before their parents
            current.recount()

    def _update_ancestors(self, item: _Item) -> None:
        parent = item.parent
        while parent is not None:
            if parent is not self._root:
                # a list of frozen paths freezes a module's own parameters only together
                # with its whole subtree, so keep the flags expressible as such a list
                holders = [c for c in parent.children if c.total > 0]
                if holders:
                    parent.own_frozen = all(c.trainable == 0 for c in holders)
            else:
                parent.own_frozen = False
            parent.recount()
            parent = parent.parent

    # ------------------------------------------------------------------ change signals

    def _emit_subtree(self, item: _Item) -> None:
        last = len(COLUMNS) - 1
        # the toggled row and its ancestors, one index each
        current: _Item | None = item
        while current is not None and current is not self._root:
            self.dataChanged.emit(
                self.createIndex(current.row, 0, current.index_id),
                self.createIndex(current.row, last, current.index_id),
            )
            current = current.parent
        # one range per parent below it, as deep as the view shows
        expanded = self.is_expanded
        stack = [item]
        while stack:
            current = stack.pop()
            if not current.children:
                continue
            if current is not self._root and expanded is not None:
                if not expanded(self.createIndex(current.row, 0, current.index_id)):
                    continue
            first, final = current.children[0], current.children[-1]
            self.dataChanged.emit(
                self.createIndex(first.row, 0, first.index_id),
                self.createIndex(final.row, last, final.index_id),
            )
            stack.extend(c for c in current.children if c.children)

    def _emit_all(self) -> None:
        if self._root is not None and self._root.children:
            self._emit_subtree(self._root)

    def _item_of(self, index) -> _Item | None:
        if isinstance(index, QPersistentModelIndex):
            index = QModelIndex(index)
        if not index.isValid():
            return self._root
        return self._items[index.internalId()]


def _trainable_text(item: _Item) -> str:
    if item.total == 0:
        return "–"
    if item.trainable == item.total:
        return "yes"
    if item.trainable == 0:
        return "frozen"
    return f"partly ({item.trainable:,})"


def _tooltip(item: _Item, head_path: str) -> str:
    node = item.node
    lines = [node.path or "(model)", f"{node.type_name}: {node.total_params:,} parameters"]
    if node.own_params and node.children:
        lines.append(f"{node.own_params:,} of them belong to this module itself")
    if node.path == head_path:
        lines.append("classification head (replaced for your classes)")
    if node.total_params == 0:
        lines.append("no parameters: nothing to train or freeze")
    return "\n".join(lines)
