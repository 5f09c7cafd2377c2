"""Runs: every training run in one sortable table; overlay the curves of several; see which
settings differ; evaluate, export or reuse a run's model.

Reading a run is a few small JSON/CSV files, done on the GUI thread. Runs of a transfer
check (a folder with ``compare.json``) are listed as ``folder/strategy``.
"""

from __future__ import annotations

import datetime as _dt
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from tlgui.ui.pages.runs.run_info import RunInfo, config_diff, discover_runs, read_run, weights_text
from tlgui.ui.widgets.curves import curve_colour, legend_for, make_curve_plot
from tlgui.ui.widgets.gallery import NumericItem, paint_placeholder
from tlgui.ui.widgets.plots import is_dark

if TYPE_CHECKING:
    from tlgui.ui.dialogs.export_dialog import ExportDialog

COLUMNS = ("Run", "Status", "Model", "Weights", "Freeze", "Best val.", "Final val.", "Epochs", "Time", "Date")
PATH_ROLE = Qt.ItemDataRole.UserRole + 5
NO_RUNS_TEXT = "No runs yet.\nTrain a model (it appears here when it finishes), or use “Open run folder…”."


def _pct(value) -> str:
    return f"{100 * value:.1f} %" if isinstance(value, (int, float)) else "—"


def _processes_note(summary: dict[str, Any]) -> str:
    """How a run trained on several processes (torchrun) is told apart; nothing for one process."""
    world = summary.get("world_size")
    return f"\ntrained on {world} processes (torchrun)" if isinstance(world, int) and world > 1 else ""


class _RunsTable(QTableWidget):
    def paintEvent(self, event) -> None:  # Qt override
        super().paintEvent(event)
        if self.rowCount() == 0:
            paint_placeholder(self, self.viewport(), NO_RUNS_TEXT)


class RunsPanel(QWidget):
    evaluate_requested = Signal(str)  # run folder
    use_weights_requested = Signal(str, str)  # architecture, model.pt path
    resume_requested = Signal(str)  # run folder of a stopped run

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("runsPanel")
        self.runs: list[RunInfo] = []
        self.extra: list[Path] = []
        self.export_dialog: ExportDialog | None = None
        self._build()
        self.refresh()

    def _build(self) -> None:
        self.table = _RunsTable(0, len(COLUMNS), objectName="runsTable")
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.verticalHeader().setVisible(False)
        self.table.setSelectionBehavior(QTableWidget.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QTableWidget.SelectionMode.ExtendedSelection)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.setSortingEnabled(True)
        self.table.horizontalHeader().setSortIndicator(COLUMNS.index("Date"), Qt.SortOrder.DescendingOrder)
        self.table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.table.itemSelectionChanged.connect(self._on_selection)
        self.table.setToolTip("Select one run to evaluate, export or reuse it; Ctrl+click several to compare them.")

        self.open_button = QPushButton("Open run folder…", objectName="openRunButton")
        self.open_button.clicked.connect(self._open_folder)
        self.refresh_button = QPushButton("Refresh", objectName="refreshRunsButton")
        self.refresh_button.clicked.connect(self.refresh)
        self.evaluate_button = QPushButton("Evaluate", objectName="evaluateRunButton")
        self.evaluate_button.setToolTip("Accuracy per class, confusion matrix and mistakes of this run's model")
        self.evaluate_button.clicked.connect(self._on_evaluate)
        self.weights_button = QPushButton("Use as starting weights", objectName="useWeightsButton")
        self.weights_button.setToolTip("Start a new training from this run's model (transfer from your own model)")
        self.weights_button.clicked.connect(self._on_use_weights)
        self.resume_button = QPushButton("Resume", objectName="resumeRunButton")
        self.resume_button.setToolTip("Continue a stopped run from its last completed epoch, with its own settings")
        self.resume_button.clicked.connect(self._on_resume)
        self.export_button = QPushButton("Export…", objectName="exportRunButton")
        self.export_button.setToolTip("Save the model as PyTorch (.pt2), ONNX, TorchScript or a ready-to-use bundle")
        self.export_button.clicked.connect(self._on_export)
        buttons = QHBoxLayout()
        for button in (self.open_button, self.refresh_button):
            buttons.addWidget(button)
        buttons.addStretch(1)
        for button in (self.resume_button, self.evaluate_button, self.weights_button, self.export_button):
            buttons.addWidget(button)

        self.hint = QLabel("", objectName="runsHint", wordWrap=True)
        self.accuracy_plot = make_curve_plot("runsAccuracyPlot", "Validation accuracy", "accuracy (%)", self)
        self.accuracy_plot.setYRange(0, 100, padding=0.02)
        self.loss_plot = make_curve_plot("runsLossPlot", "Loss (solid: validation, dashed: training)", "loss", self)
        self.legend = legend_for(self.accuracy_plot, self)
        plots = QWidget()
        plots_layout = QHBoxLayout(plots)
        plots_layout.setContentsMargins(0, 0, 0, 0)
        plots_layout.addWidget(self.accuracy_plot)
        plots_layout.addWidget(self.loss_plot)

        self.diff_table = QTableWidget(0, 0, objectName="configDiffTable")
        self.diff_table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.diff_label = QLabel("", objectName="configDiffLabel", wordWrap=True)
        diff_page = QWidget()
        diff_layout = QVBoxLayout(diff_page)
        diff_layout.setContentsMargins(4, 4, 4, 4)
        diff_layout.addWidget(self.diff_label)
        diff_layout.addWidget(self.diff_table, 1)
        self.tabs = QTabWidget()
        self.tabs.setObjectName("runsTabs")
        self.tabs.addTab(plots, "Curves")
        self.tabs.addTab(diff_page, "Settings that differ")

        top = QWidget()
        top_layout = QVBoxLayout(top)
        top_layout.setContentsMargins(0, 0, 0, 0)
        top_layout.addWidget(self.table, 1)
        top_layout.addLayout(buttons)
        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(top)
        splitter.addWidget(self.tabs)
        splitter.setChildrenCollapsible(False)
        splitter.setStretchFactor(0, 1)
        splitter.setStretchFactor(1, 1)
        layout = QVBoxLayout(self)
        layout.addWidget(splitter, 1)
        layout.addWidget(self.hint)

    # -- public API -------------------------------------------------------------------
    @Slot()
    def refresh(self) -> None:
        """Read the runs again, keeping the selection where the runs still exist."""
        from tlgui import paths

        selected = {str(r.path) for r in self.selected_runs()}
        self.runs = discover_runs(paths.runs_dir(), self.extra)
        self._fill_table(selected)

    @Slot(str)
    def add_run(self, run_dir: str) -> None:
        """A run finished (or was opened): list it and select it."""
        path = Path(run_dir)
        if not any(r.path.resolve() == path.resolve() for r in discover_runs(self._root(), [])):
            if path not in self.extra:
                self.extra.append(path)
        self.refresh()
        self.select_runs([str(path)])

    def select_runs(self, run_dirs: list[str]) -> None:
        wanted = {str(Path(p).resolve()) for p in run_dirs}
        self.table.clearSelection()
        model = self.table.selectionModel()
        from PySide6.QtCore import QItemSelectionModel

        for row in range(self.table.rowCount()):
            if str(Path(self.table.item(row, 0).data(PATH_ROLE)).resolve()) in wanted:
                model.select(self.table.model().index(row, 0),
                             QItemSelectionModel.SelectionFlag.Select | QItemSelectionModel.SelectionFlag.Rows)

    def selected_runs(self) -> list[RunInfo]:
        selection = self.table.selectionModel()
        rows = sorted({i.row() for i in selection.selectedRows()}) if selection else []
        by_path = {str(r.path): r for r in self.runs}
        out = []
        for row in rows:
            item = self.table.item(row, 0)
            if item is not None and item.data(PATH_ROLE) in by_path:
                out.append(by_path[item.data(PATH_ROLE)])
        return out

    def closeEvent(self, event) -> None:  # Qt override
        if self.export_dialog is not None:
            self.export_dialog.close()
        super().closeEvent(event)

    # -- table ------------------------------------------------------------------------
    def _root(self) -> Path:
        from tlgui import paths

        return paths.runs_dir()

    def _fill_table(self, selected: set[str]) -> None:
        from tlgui.ui.base.formatting import format_duration

        self.table.setSortingEnabled(False)
        self.table.blockSignals(True)
        self.table.setRowCount(len(self.runs))
        for row, run in enumerate(self.runs):
            s, c = run.summary, run.config
            done, planned = s.get("epochs_completed"), s.get("epochs_planned", c.get("epochs"))
            seconds = s.get("train_seconds")
            cells = [
                NumericItem(run.name, run.name.casefold()),
                NumericItem(run.status, run.status),
                NumericItem(run.architecture, run.architecture),
                NumericItem(weights_text(c.get("weights")), weights_text(c.get("weights"))),
                NumericItem(str(c.get("freeze", "")), str(c.get("freeze", ""))),
                NumericItem(_pct(s.get("best_val_accuracy")), s.get("best_val_accuracy")),
                NumericItem(_pct(s.get("final_val_accuracy")), s.get("final_val_accuracy")),
                NumericItem(f"{done}/{planned}" if done is not None else f"–/{planned}", done),
                NumericItem(format_duration(seconds) if isinstance(seconds, (int, float)) else "—", seconds),
                NumericItem(_dt.datetime.fromtimestamp(run.created).strftime("%Y-%m-%d %H:%M"), run.created),
            ]
            cells[0].setData(PATH_ROLE, str(run.path))
            cells[0].setToolTip(str(run.path) + _processes_note(s))
            for column, item in enumerate(cells):
                self.table.setItem(row, column, item)
        self.table.setSortingEnabled(True)
        for column in range(1, len(COLUMNS)):
            self.table.resizeColumnToContents(column)
        self.table.blockSignals(False)
        self.select_runs(sorted(selected))
        self._on_selection()

    # -- selection views --------------------------------------------------------------
    @Slot()
    def _on_selection(self) -> None:
        runs = self.selected_runs()
        one = runs[0] if len(runs) == 1 else None
        for button in (self.evaluate_button, self.weights_button, self.export_button):
            button.setEnabled(one is not None and one.has_model)
        self.resume_button.setEnabled(one is not None and one.resumable)
        if not self.runs:
            self.hint.setText("")
        elif not runs:
            self.hint.setText("Select a run to see its curves; Ctrl+click (⌘+click) to compare several.")
        elif one is not None and not one.has_model:
            self.hint.setText(f"{one.name} has no saved model yet (still training, or it failed).")
        else:
            self.hint.setText(f"{len(runs)} run(s) selected."
                              + ("" if one else " Select just one to evaluate, export or reuse it."))
        self._plot(runs)
        self._show_diff(runs)
        self._mark_colours(runs)

    def _plot(self, runs: list[RunInfo]) -> None:
        from tlgui.core.results.runs import read_metrics

        dark = is_dark(self.palette())
        self.accuracy_plot.clear()
        self.loss_plot.clear()
        self.legend.clear()
        self.curves: dict[str, list] = {}
        longest = 1
        for index, run in enumerate(runs):
            rows = read_metrics(run.path)
            colour = curve_colour(index, dark)
            val = [r for r in rows if r["phase"] == "val"]
            train = [r for r in rows if r["phase"] == "train"]
            x = np.array([r["epoch"] for r in val], dtype=float)
            longest = max(longest, int(x.max()) if len(x) else 1)
            acc = self.accuracy_plot.plot(x, 100 * np.array([r["accuracy"] for r in val], dtype=float),
                                          pen=pg.mkPen(colour, width=2), symbol="o", symbolSize=6,
                                          symbolBrush=colour, name=run.name)
            loss = self.loss_plot.plot(x, np.array([r["loss"] for r in val], dtype=float),
                                       pen=pg.mkPen(colour, width=2))
            self.loss_plot.plot(np.array([r["epoch"] for r in train], dtype=float),
                                np.array([r["loss"] for r in train], dtype=float),
                                pen=pg.mkPen(colour, width=1.5, style=Qt.PenStyle.DashLine))
            self.curves[str(run.path)] = [acc, loss]
        longest = max(longest, 5) if not runs else longest
        for plot in (self.accuracy_plot, self.loss_plot):
            plot.setXRange(0.8, longest + 0.2, padding=0)
        if not runs:
            hint = pg.TextItem("Select runs above to see their curves here.", color="#888", anchor=(0.5, 0.5))
            hint.setPos(3, 50)
            self.accuracy_plot.addItem(hint)

    def _mark_colours(self, runs: list[RunInfo]) -> None:
        """A colour swatch beside each plotted run's name, matching its curves."""
        from PySide6.QtGui import QColor, QIcon, QPixmap

        dark = is_dark(self.palette())
        colours = {str(r.path): curve_colour(i, dark) for i, r in enumerate(runs)}
        side = self.fontMetrics().height() - 4
        for row in range(self.table.rowCount()):
            item = self.table.item(row, 0)
            colour = colours.get(item.data(PATH_ROLE))
            if colour is None:
                item.setIcon(QIcon())
                continue
            swatch = QPixmap(side, side)
            swatch.fill(QColor(colour))
            item.setIcon(QIcon(swatch))

    def _show_diff(self, runs: list[RunInfo]) -> None:
        table = self.diff_table
        table.clear()
        if len(runs) < 2:
            table.setRowCount(0)
            table.setColumnCount(0)
            self.diff_label.setText("Select two or more runs (Ctrl+click) to see which settings differ.")
            return
        configs = [r.config for r in runs]
        keys = config_diff(configs)
        self.diff_label.setText(
            f"{len(keys)} setting(s) differ between the {len(runs)} selected runs." if keys
            else f"The {len(runs)} selected runs used the same settings.")
        table.setRowCount(len(keys))
        table.setColumnCount(len(runs))
        table.setHorizontalHeaderLabels([r.name for r in runs])
        table.setVerticalHeaderLabels(keys)
        for row, key in enumerate(keys):
            for column, config in enumerate(configs):
                value = config.get(key, "(not set)")
                table.setItem(row, column, QTableWidgetItem("—" if value is None else str(value)))
        table.resizeColumnsToContents()

    # -- buttons ----------------------------------------------------------------------
    def _single(self) -> RunInfo | None:
        runs = self.selected_runs()
        return runs[0] if len(runs) == 1 and runs[0].has_model else None

    @Slot()
    def _on_evaluate(self) -> None:
        if (run := self._single()) is not None:
            self.evaluate_requested.emit(str(run.path))

    @Slot()
    def _on_resume(self) -> None:
        runs = self.selected_runs()
        if len(runs) == 1 and runs[0].resumable:
            self.resume_requested.emit(str(runs[0].path))

    @Slot()
    def _on_use_weights(self) -> None:
        if (run := self._single()) is not None:
            self.use_weights_requested.emit(run.architecture, str(run.path / "model.pt"))

    @Slot()
    def _on_export(self) -> None:
        if (run := self._single()) is None:
            return
        from tlgui.ui.dialogs.export_dialog import ExportDialog

        if self.export_dialog is not None:
            self.export_dialog.close()
        self.export_dialog = ExportDialog(str(run.path / "model.pt"), self)
        self.export_dialog.open()

    @Slot()
    def _open_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Open a run folder", str(self._root()))
        if not folder:
            return
        if read_run(folder) is None:
            self.hint.setText(f"{folder} is not a tlgui run folder (it has no config.json).")
            return
        self.add_run(folder)
