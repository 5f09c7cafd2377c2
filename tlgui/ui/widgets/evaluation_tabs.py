"""An evaluation's views beside its confusion matrix (the Results page): the per-class table, the
images of the chosen cell, and the images the model got wrong while most sure of itself."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QHeaderView, QLabel, QPushButton, QTableWidget, QTabWidget, QVBoxLayout, QWidget

from tlgui.ui.widgets import gallery as gw
from tlgui.ui.widgets.gallery import Gallery, GalleryItem, NumericItem, percent, short_name

if TYPE_CHECKING:
    from tlgui.core.results.evaluate import Evaluation

CELL_LIMIT = 400  # images shown for one confusion cell
TOP_LOSSES = 48
PER_CLASS_COLUMNS = ("Class", "Precision", "Recall", "F1", "Images")
CELL_HINT = "Click a cell of the confusion matrix to see its images here."


class EvaluationTabs(QTabWidget):
    """Three tabs: "Per class", "Selected cell" (with its Check labels button) and "Top mistakes"."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("resultsTabs")
        self.table = QTableWidget(0, len(PER_CLASS_COLUMNS), objectName="perClassTable")
        self.table.setHorizontalHeaderLabels(PER_CLASS_COLUMNS)
        self.table.verticalHeader().setVisible(False)
        self.table.setSortingEnabled(True)
        # no sort until the user clicks a header: rows in the confusion matrix's order
        self.table.horizontalHeader().setSortIndicator(-1, Qt.SortOrder.AscendingOrder)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.table.setToolTip("Precision: of the images the model called this class, the share that were.\n"
                              "Recall: of this class's images, the share the model found.\nF1: both in one number.")
        self.addTab(self.table, "Per class")
        self.addTab(self._build_cell_page(), "Selected cell")
        self.addTab(self._build_losses_page(), "Top mistakes")

    def _build_cell_page(self) -> QWidget:
        self.cell_label = QLabel(CELL_HINT, wordWrap=True)
        self.gallery = Gallery("resultsGallery", "No cell chosen yet.")
        cell_page = QWidget()
        cell_layout = QVBoxLayout(cell_page)
        cell_layout.setContentsMargins(4, 4, 4, 4)
        cell_layout.addWidget(self.cell_label)
        self.gallery_channels = gw.channel_toggle_for(self.gallery)
        cell_layout.addWidget(self.gallery_channels)
        self.check_cell_button = QPushButton("Check these labels…", objectName="checkCellLabelsButton", enabled=False)
        cell_layout.addLayout(gw.spread_row(gw.heatmap_toggle(self.gallery), self.check_cell_button))
        cell_layout.addWidget(self.gallery, 1)
        return cell_page

    def _build_losses_page(self) -> QWidget:
        self.top_losses = Gallery("topLossesGallery", "No mistakes: every image was classified correctly.")
        losses_page = QWidget()
        losses_layout = QVBoxLayout(losses_page)
        losses_layout.setContentsMargins(4, 4, 4, 4)
        note = QLabel("The images the model got wrong while being most sure of itself. Mislabelled "
                      "pictures and look-alike classes show up here first.", wordWrap=True)
        losses_layout.addWidget(note)
        self.top_losses_channels = gw.channel_toggle_for(self.top_losses)
        losses_layout.addWidget(self.top_losses_channels)
        losses_layout.addWidget(gw.heatmap_toggle(self.top_losses))
        losses_layout.addWidget(self.top_losses, 1)
        return losses_page

    def show_evaluation(self, ev: Evaluation, lookup: object) -> None:
        """A new evaluation: its table and top mistakes; no cell chosen yet."""
        self._fill_table(ev)
        self.gallery.clear_items(CELL_HINT)
        self.cell_label.setText(CELL_HINT)
        self._fill_top_losses(ev, lookup)

    def show_cell(self, ev: Evaluation, lookup: object, rows: np.ndarray, predicted: int, what: str) -> None:
        """The images ``rows`` of one cell (called ``predicted``), most confident first."""
        prob = ev.probabilities[rows, predicted] if len(rows) else np.zeros(0)
        order = rows[np.argsort(-prob, kind="stable")]
        items = []
        for r in order[:CELL_LIMIT]:
            d = ev.descriptions[r] if r < len(ev.descriptions) else f"#{r}"
            p = float(ev.probabilities[r, predicted])
            items.append(GalleryItem(d, f"{short_name(d)}\n{percent(p, 0)} sure",
                                     f"{d}\nprobability of {ev.classes[predicted]}: {percent(p)}"))
        self.gallery.set_items(items, lookup, note="No images here: the model never made this choice.")
        more = f" Showing the first {CELL_LIMIT}, most confident first." if len(rows) > CELL_LIMIT else ""
        self.cell_label.setText(f"<b>{what}.</b>{more}")
        self.setTabText(1, f"Selected cell ({len(rows)})")
        self.setCurrentIndex(1)

    def wait_idle(self, msecs: int = 30000) -> bool:
        return self.gallery.wait_idle(msecs) and self.top_losses.wait_idle(msecs)

    def shutdown(self) -> None:
        self.gallery.shutdown()
        self.top_losses.shutdown()

    def _fill_table(self, ev: Evaluation) -> None:
        m = ev.metrics()
        self.table.setSortingEnabled(False)
        self.table.setRowCount(len(ev.classes))
        for i, name in enumerate(ev.classes):
            cells = [NumericItem(name, name)]
            for key in ("precision", "recall", "f1"):
                cells.append(NumericItem(f"{m[key][i]:.3f}", float(m[key][i])))
            cells.append(NumericItem(f"{m['support'][i]:,}", int(m["support"][i])))
            for column, item in enumerate(cells):
                self.table.setItem(i, column, item)
        self.table.setSortingEnabled(True)
        for column in range(1, len(PER_CLASS_COLUMNS)):
            self.table.resizeColumnToContents(column)

    def _fill_top_losses(self, ev: Evaluation, lookup: object) -> None:
        items = [
            GalleryItem(
                t.path, f"true: {t.true}\nsaid: {t.predicted} {percent(t.probability, 0)}",
                f"{t.path}\ntrue class: {t.true}\nthe model said: {t.predicted} ({percent(t.probability)})\n"
                f"probability of the true class: {percent(t.true_probability)}",
            )
            for t in ev.top_losses(TOP_LOSSES)
        ]
        self.top_losses.set_items(items, lookup)
        self.setTabText(2, f"Top mistakes ({len(items)})")
