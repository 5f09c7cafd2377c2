"""Table models and small widgets shared by the library dialogs (weights, my models, health).

:class:`RowsModel` holds plain :class:`Row` values (display text, sort keys, a payload), so a
dialog fills it from core dataclasses in one call; :class:`RowsFilter` adds word search and
an optional row predicate on top (the weights dialog's rows come from
:mod:`~tlgui.ui.dialogs.weights_library`). :class:`ProgressRow` is the progress bar + Cancel
line every dialog uses; :class:`ArchitectureDialog` asks which architecture an unrecognised weight file is for.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    QSortFilterProxyModel,
    Qt,
    Signal,
    Slot,
)
from PySide6.QtGui import QBrush, QColor, QFont
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QCompleter,
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QProgressBar,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

SORT_ROLE = Qt.ItemDataRole.UserRole + 1
PAYLOAD_ROLE = Qt.ItemDataRole.UserRole + 2
OK_COLOUR = QColor("#1b7a2f")
MISSING_COLOUR = QColor("#8a8a8a")
ERROR_COLOUR = QColor("#b00020")
WEIGHT_COLUMNS = ("Architecture", "Entry", "On this computer", "Size", "Top-1 (ImageNet)", "Parameters", "File name")
PRESENT_COLUMN = 2
WEIGHT_SUFFIXES = (".pth", ".pt", ".safetensors", ".bin")


def human_size(n: int | None) -> str:
    if n is None:
        return "—"
    for unit, scale in (("GB", 2**30), ("MB", 2**20), ("kB", 2**10)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n} B"


def human_count(n: int | None) -> str:
    if n is None:
        return "—"
    return f"{n / 1e6:.1f} M" if n >= 1e6 else f"{n:,}"


@dataclass
class Row:
    cells: Sequence[str]
    keys: Sequence[Any] = ()  # sort key per column (defaults to the text)
    payload: Any = None
    search: str = ""  # what the search box matches (defaults to all cells)
    tooltips: dict[int, str] = field(default_factory=dict)
    colours: dict[int, QColor] = field(default_factory=dict)
    bold: bool = False


class RowsModel(QAbstractTableModel):
    """Read-only rows of text with sort keys; ``payload(row)`` gives back the source object."""

    def __init__(self, headers: Sequence[str], parent=None, right: Sequence[int] = ()):
        super().__init__(parent)
        self._headers = list(headers)
        self._right = set(right)  # columns of numbers, aligned right
        self._rows: list[Row] = []

    def set_rows(self, rows: list[Row]) -> None:
        self.beginResetModel()
        self._rows = list(rows)
        self.endResetModel()

    def rows(self) -> list[Row]:
        return list(self._rows)

    def row(self, index: int) -> Row:
        return self._rows[index]

    def rowCount(self, parent=QModelIndex()) -> int:  # noqa: B008 - Qt's signature
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent=QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._headers)

    def headerData(self, section, orientation, role=Qt.ItemDataRole.DisplayRole):
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return self._headers[section]
        return None

    def data(self, index, role=Qt.ItemDataRole.DisplayRole):
        if not index.isValid():
            return None
        row, col = self._rows[index.row()], index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return row.cells[col]
        if role == SORT_ROLE:
            key = row.keys[col] if col < len(row.keys) else None
            return row.cells[col].lower() if key is None else key
        if role == PAYLOAD_ROLE:
            return row.payload
        if role == Qt.ItemDataRole.ToolTipRole:
            return row.tooltips.get(col) or (row.cells[col] if len(row.cells[col]) > 30 else None)
        if role == Qt.ItemDataRole.TextAlignmentRole and col in self._right:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == Qt.ItemDataRole.ForegroundRole and col in row.colours:
            return QBrush(row.colours[col])
        if role == Qt.ItemDataRole.FontRole and (row.bold or col in row.colours):
            font = QFont()
            font.setBold(row.bold or row.colours.get(col) == OK_COLOUR)
            return font
        return None


class RowsFilter(QSortFilterProxyModel):
    """Every word typed must appear in the row's search text; ``predicate`` may hide more."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._words: list[str] = []
        self._predicate: Callable[[Any], bool] | None = None
        self.setSortRole(SORT_ROLE)

    def _refilter(self, change: Callable[[], None]) -> None:
        if hasattr(self, "beginFilterChange"):  # Qt >= 6.10; invalidateFilter is deprecated
            self.beginFilterChange()
            change()
            self.endFilterChange(QSortFilterProxyModel.Direction.Rows)
        else:
            change()
            self.invalidateFilter()

    def set_text(self, text: str) -> None:
        self._refilter(lambda: setattr(self, "_words", text.lower().replace("_", " ").split()))

    def set_predicate(self, predicate: Callable[[Any], bool] | None) -> None:
        self._refilter(lambda: setattr(self, "_predicate", predicate))

    def filterAcceptsRow(self, source_row: int, parent: QModelIndex | QPersistentModelIndex) -> bool:  # Qt override
        model = self.sourceModel()
        if (not self._words and self._predicate is None) or not isinstance(model, RowsModel):
            return True
        row = model.row(source_row)
        if self._predicate is not None and not self._predicate(row.payload):
            return False
        haystack = (row.search or " ".join(row.cells)).lower()
        flat = haystack.replace("_", " ")
        return all(w in haystack or w in flat for w in self._words)


class ArchitectureDialog(QDialog):
    """Asks which architecture a weight file is for; type to filter the list."""

    def __init__(self, file_name: str, reason: str, parent=None):
        super().__init__(parent)
        from tlgui.core.models.zoo import list_architectures

        self.setObjectName("architectureDialog")
        self.setWindowTitle("Which architecture?")
        text = QLabel(
            f"tlgui could not tell which architecture <b>{file_name}</b> is for ({reason}).<br>"
            "If you know it, choose it and the file is checked against it:"
        )
        text.setWordWrap(True)
        self.combo = QComboBox()
        self.combo.setObjectName("architectureChoice")
        self.combo.setEditable(True)
        self.combo.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        self._names = sorted(list_architectures())
        self.combo.addItems(self._names)
        self.combo.setCurrentIndex(-1)
        edit = self.combo.lineEdit()  # (an editable combo always has one)
        if edit is not None:
            edit.setPlaceholderText("type to search, e.g. resnet")
        completer = QCompleter(self._names, self.combo)
        completer.setFilterMode(Qt.MatchFlag.MatchContains)
        completer.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        self.combo.setCompleter(completer)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        self.combo.currentTextChanged.connect(self._check)
        layout = QVBoxLayout(self)
        layout.addWidget(text)
        layout.addWidget(self.combo)
        layout.addStretch(1)
        layout.addWidget(self.buttons)
        self.setMinimumWidth(460)
        self._check()

    def architecture(self) -> str:
        return self.combo.currentText().strip()

    @Slot()
    def _check(self) -> None:
        ok = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        ok.setEnabled(self.architecture() in self._names)


def push_button(text: str, name: str, slot) -> QPushButton:
    button = QPushButton(text)
    button.setObjectName(name)
    button.setAutoDefault(False)  # Enter means the dialog's default button, not the focused one
    button.clicked.connect(slot)
    return button


def table_view(name: str, proxy, stretch: int | None = None, fit: bool = True) -> QTableView:
    """A sortable read-only table of whole rows with compact lines. Columns fit their
    contents (``fit``; else the user sizes them); ``stretch`` takes the spare width (None:
    the last column)."""
    table = QTableView()
    table.setObjectName(name)
    table.setModel(proxy)
    table.setSortingEnabled(True)
    table.sortByColumn(-1, Qt.SortOrder.AscendingOrder)  # the source's order until asked
    table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    table.setAlternatingRowColors(True)
    table.setWordWrap(False)
    table.verticalHeader().hide()
    table.verticalHeader().setDefaultSectionSize(table.fontMetrics().height() + 8)
    header = table.horizontalHeader()
    header.setResizeContentsPrecision(300)  # measure the first rows only: lists can be long
    header.setMinimumSectionSize(60)
    mode = QHeaderView.ResizeMode.ResizeToContents if fit else QHeaderView.ResizeMode.Interactive
    header.setSectionResizeMode(mode)
    if stretch is None:
        header.setStretchLastSection(True)
    else:
        header.setSectionResizeMode(stretch, QHeaderView.ResizeMode.Stretch)
    return table


class ProgressRow(QWidget):
    """``text`` + progress bar + Cancel; hidden while idle."""

    cancel_clicked = Signal()

    def __init__(self, name: str, parent=None):
        super().__init__(parent)
        self.setObjectName(name)
        self.label = QLabel()
        self.label.setObjectName(f"{name}Label")
        self.bar = QProgressBar()
        self.bar.setObjectName(f"{name}Bar")
        self.bar.setTextVisible(True)
        self.bar.setMinimumWidth(160)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setObjectName(f"{name}Cancel")
        self.cancel_button.clicked.connect(self.cancel_clicked)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.label)
        layout.addWidget(self.bar, 1)
        layout.addWidget(self.cancel_button)
        self.hide()

    def start(self, text: str) -> None:
        self.label.setText(text)
        self.bar.setRange(0, 0)  # busy until the first report
        self.bar.setFormat("")
        self.cancel_button.setEnabled(True)
        self.show()

    def set_progress(self, done: int, total: int | None, unit: str = "bytes", text: str | None = None) -> None:
        if text is not None:
            self.label.setText(text)
        if not total:
            self.bar.setRange(0, 0)
            self.bar.setFormat(human_size(done) if unit == "bytes" else f"{done:,}")
            return
        # QProgressBar holds an int: count bytes in kB so multi-GB files fit
        scale = 1024 if unit == "bytes" else 1
        self.bar.setRange(0, max(1, total // scale))
        self.bar.setValue(min(done, total) // scale)
        if unit == "bytes":
            self.bar.setFormat(f"{human_size(done)} of {human_size(total)}")
        else:
            self.bar.setFormat(f"{done:,} of {total:,} {unit}")

    def stop(self) -> None:
        self.hide()
