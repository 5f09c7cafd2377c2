"""The "Which model?" page: rank the pretrained backbones on this computer for the chosen data.

The rank runs in a background job (:func:`tlgui.core.workflows.rank.rank`); this page shows
each candidate's progress, then a table sortable by every column, a bar chart of the estimated
head-only accuracy with its spread across folds, and the recommendation. "Train this" hands
the chosen row (model, weights, strategy) to the shell, which fills the Train page.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtGui import QFontMetrics
from PySide6.QtWidgets import (
    QAbstractItemView,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QSplitter,
    QTableWidget,
    QVBoxLayout,
    QWidget,
)

from tlgui.ui.base.background import TaskRunner
from tlgui.ui.base.formatting import breakable_path
from tlgui.ui.widgets.curves import make_curve_plot
from tlgui.ui.widgets.gallery import NumericItem

INTRO = ("Which backbone suits your data? Each pretrained model on this computer runs once over your images; a "
         "linear classifier on its frozen features, scored by cross-validation, estimates what training the head "
         "alone would reach (kNN and LogME shown beside it). This costs less than training each one, and the "
         "features are kept, so training the head afterwards starts at once.")
COLUMNS = ("Model", "Weights", "Estimated accuracy", "± (folds)", "kNN", "LogME", "ms per image", "Parameters",
           "Status")
IMAGE_KEYS = ("channels", "intensity", "stack")  # the data panel's image values the rank takes; RankConfig's defaults


def _rank_job(config, stop: threading.Event, job):
    """Worker thread: the whole rank, reporting progress; partial results when stopped."""
    from tlgui.core.workflows.rank import rank

    return rank(config, job.report, stop)


def _pct(value) -> str:
    return "" if value is None else f"{value:.1%}"


class RankPanel(QWidget):
    train_requested = Signal(str, str, str)  # model, weights, strategy ("head" | "finetune" | "scratch")
    running_changed = Signal(bool)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("rankPanel")
        self.context: dict | None = None
        self.models = "auto"  # what to rank (tests name their own candidates)
        self.result = None
        self.last_error = ""
        self._rows: dict[tuple[str, str], int] = {}
        self._stop: threading.Event | None = None
        self._shown_file: Path | None = None  # the kept rank file the table shows (rank_store.rank_file)
        self._runner = TaskRunner(self)
        self._build()

    # -- construction -----------------------------------------------------------------
    def _build(self) -> None:
        self.context_label = QLabel("Choose data on the Train page first.", objectName="rankContextLabel",
                                    wordWrap=True)
        self.folds_spin = QSpinBox(minimum=2, maximum=10, value=5)
        self.folds_spin.setObjectName("rankFoldsSpin")
        self.folds_spin.setToolTip("Cross-validation folds of the linear probe: more folds, steadier estimates")
        self.run_button = QPushButton("Rank the backbones", objectName="rankButton", clicked=self.start)
        self.stop_button = QPushButton("Stop", objectName="stopRankButton", enabled=False, clicked=self.stop)
        row = QHBoxLayout()
        row.addWidget(QLabel("Folds:"))
        row.addWidget(self.folds_spin)
        row.addStretch(1)
        row.addWidget(self.run_button)
        row.addWidget(self.stop_button)
        setup = QGroupBox("Which model?")
        setup_layout = QVBoxLayout(setup)
        setup_layout.addWidget(QLabel(INTRO, wordWrap=True))
        setup_layout.addWidget(self.context_label)
        setup_layout.addLayout(row)
        self.progress = QProgressBar()
        self.progress.setObjectName("rankProgress")
        self.progress.setVisible(False)
        self.progress_label = QLabel("", objectName="rankProgressLabel", wordWrap=True)
        self.table = QTableWidget(0, len(COLUMNS), objectName="rankTable")
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(True)  # the status (a reason, a warning) gets the room left, scrolls when long
        self.table.itemSelectionChanged.connect(self._on_selection)
        self.chart = make_curve_plot("rankChart", "Estimated accuracy",
                                     "accuracy (%), bars ± spread over folds", self)
        self.chart.setYRange(0, 100, padding=0.02)
        self.chart.setLabel("bottom", "")
        self.advice_label = QLabel("", objectName="rankAdviceLabel", wordWrap=True)
        self.error_label = QLabel("", objectName="rankErrorLabel", wordWrap=True, visible=False)
        self.error_label.setStyleSheet("color: #c0392b;")
        self.train_button = QPushButton("Train this", objectName="trainThisButton", enabled=False,
                                        clicked=self.train_this)
        self.train_button.setToolTip("Fill the Train page with the selected model, its weights and the strategy")
        # the advice on a row of its own: a word-wrapped label beside a button in a row was given
        # one line too few and cut off its last line
        status_row = QHBoxLayout()
        status_row.addWidget(self.progress_label, 1)
        status_row.addWidget(self.train_button, 0, Qt.AlignmentFlag.AlignBottom)
        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(self.table)
        split.addWidget(self.chart)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 1)
        self.chart.setMinimumWidth(180)
        split.setSizes([860, 290])  # the table's nine columns first; the chart needs little width
        layout = QVBoxLayout(self)
        layout.addWidget(setup)
        layout.addWidget(self.progress)
        layout.addLayout(status_row)
        layout.addWidget(self.error_label)
        layout.addWidget(self.advice_label)
        layout.addWidget(split, 1)
        self._update_buttons()

    # -- context ------------------------------------------------------------------------
    def set_context(self, data: str | None, val_data: str | None = None, seed: int = 0, device: str = "auto",
                    image_size: int | None = None, image_values: dict | None = None,
                    problem: str | None = None) -> None:
        """The Train page's data choice; the rank prepares images exactly as a run on it would
        (``image_values``: its channels, intensity and stack). ``problem``: why there is none."""
        if not data or problem:
            self.context = None
            self.context_label.setText(problem or "Choose data on the Train page first.")
        else:
            values = {key: str(value) for key, value in (image_values or {}).items() if key in IMAGE_KEYS}
            self.context = {"data": data, "val_data": val_data, "seed": int(seed), "device": device,
                            "image_size": image_size, **values}
            defaults = _rank_defaults()
            shown = ", ".join(f"{key} {value}" for key, value in values.items() if value != defaults[key])
            self.context_label.setText(f"Data: <b>{breakable_path(data)}</b>"
                                       + (f", validation: {breakable_path(val_data)}" if val_data else "")
                                       + (f" ({shown})" if shown else ""))
        if not self.is_running() and not self.show_saved() and self.result is not None:
            self._clear()  # the table showed another data choice's rank
        self._update_buttons()

    def _clear(self) -> None:
        self.result, self._shown_file = None, None
        self.table.setSortingEnabled(False)
        self.table.setRowCount(0)
        self._rows.clear()
        self.chart.clear()
        self.advice_label.setText("")
        self.progress_label.setText("")

    def is_running(self) -> bool:
        return self._stop is not None

    def _update_buttons(self) -> None:
        running = self.is_running()
        self.run_button.setEnabled(not running and self.context is not None)
        self.stop_button.setEnabled(running)
        self.folds_spin.setEnabled(not running)
        self.train_button.setEnabled(not running and self._selected() is not None)

    # -- running ------------------------------------------------------------------------
    def _config(self):
        """The RankConfig for the current context and folds."""
        from tlgui.core.workflows.rank import RankConfig

        ctx = self.context
        return RankConfig(data=ctx["data"], val_data=ctx["val_data"], models=self.models,
                          folds=self.folds_spin.value(), seed=ctx["seed"], device=ctx["device"],
                          image_size=ctx["image_size"],
                          **{key: ctx[key] for key in IMAGE_KEYS if key in ctx})  # else RankConfig's defaults

    def show_saved(self) -> bool:
        """Show the last finished rank of this data choice (kept by every rank, the CLI's too),
        unless this one is already shown. True when one is shown."""
        from tlgui.core.workflows.rank_store import load_rank, rank_file

        if self.context is None or self.is_running():
            return False
        config = self._config()
        if self.result is not None and self._shown_file == rank_file(config):
            return True
        saved = load_rank(config)
        if saved is None:
            return False
        result, when = saved
        self._show(result, f"Ranked on {time.strftime('%Y-%m-%d %H:%M', time.localtime(when))} (kept from "
                           f"then; Rank the backbones again after changing the data or the models)")
        self._shown_file = rank_file(config)
        return True

    @Slot()
    def start(self) -> None:
        if self.context is None or self.is_running():
            return
        config = self._config()
        self._clear()
        self.last_error = ""
        self.error_label.setVisible(False)
        self.progress.setRange(0, 0)
        self.progress.setVisible(True)
        self.progress_label.setText("Looking for backbones on this computer…")
        self._stop = threading.Event()
        stop = self._stop
        self._runner.start(lambda job: _rank_job(config, stop, job), self._on_done, self._on_error,
                           self._on_progress, name="rank")
        self._update_buttons()
        self.running_changed.emit(True)

    @Slot()
    def stop(self) -> None:
        if self._stop is not None:
            self._stop.set()
            self.progress_label.setText("Stopping after the current batch…")

    def shutdown(self) -> None:
        if self._stop is not None:
            self._stop.set()
        self._runner.shutdown()

    def _on_progress(self, event) -> None:
        if not hasattr(event, "done"):
            return  # only RankProgress events drive the table
        key = (event.model, event.weights)
        if key not in self._rows:
            self._add_row(event.model, event.weights)
        self.progress.setRange(0, event.count)
        self.progress.setValue(event.index - 1 + (event.done is not None))
        if event.done is not None:
            self._fill_row(self._rows[key], event.done)
            self.progress_label.setText(f"{event.index} of {event.count} backbones done")
        else:
            self._set_status(self._rows[key], event.text)
            self.progress_label.setText(f"{event.index} of {event.count}: {event.model} — {event.text}")

    def _ended(self) -> None:
        self._stop = None
        self.progress.setVisible(False)
        self._update_buttons()
        self.running_changed.emit(False)

    def _on_done(self, result) -> None:
        from tlgui.core.workflows.rank_store import rank_file

        self._show(result, f"{len(result.candidates)} backbone(s) ranked in {result.seconds:.0f} s")
        self._shown_file = rank_file(self._config()) if self.context is not None else None
        self._ended()

    def _show(self, result, note: str) -> None:
        """Fill the table, the chart and the advice from a finished (or kept) rank."""
        self.result = result
        self.table.setRowCount(0)
        self._rows.clear()
        for candidate in result.candidates:
            self._fill_row(self._add_row(candidate.model, candidate.weights), candidate)
        self.table.setSortingEnabled(True)
        self.table.sortItems(2, Qt.SortOrder.DescendingOrder)  # best first, as ranked; failed ones last
        self._draw_chart(result.candidates)
        rec = result.recommendation
        stopped = " (stopped: only the backbones ranked so far)" if result.status == "stopped" else ""
        self.advice_label.setText(f"<b>Recommended{stopped}:</b> {rec.model} ({_short(rec.weights)}), "
                                  f"<b>{rec.strategy}</b>. {rec.why}")
        self.progress_label.setText(note)
        best = next((r for r in range(self.table.rowCount()) if self._row_ok(r)), None)
        if best is not None:
            self.table.selectRow(best)

    def _on_error(self, exc) -> None:
        self.last_error = str(exc)
        self.error_label.setText(f"Could not rank: {exc}")
        self.error_label.setVisible(True)
        self.progress_label.setText("")
        self._ended()

    # -- table and chart ------------------------------------------------------------------
    def _add_row(self, model: str, weights: str) -> int:
        row = self.table.rowCount()
        self.table.insertRow(row)
        self.table.setItem(row, 0, NumericItem(model, model))
        self.table.setItem(row, 1, NumericItem(_short(weights), weights))
        self.table.item(row, 1).setToolTip(weights)
        for column in range(2, len(COLUMNS)):
            self.table.setItem(row, column, NumericItem("", None))
        self._set_status(row, "waiting")
        self._rows[(model, weights)] = row
        return row

    def _set_status(self, row: int, text: str) -> None:
        item = NumericItem(text, text)
        item.setToolTip(text)
        self.table.setItem(row, len(COLUMNS) - 1, item)

    def _fill_row(self, row: int, c) -> None:
        ms = None if c.seconds_per_image is None else c.seconds_per_image * 1000
        values = ((_pct(c.accuracy), c.accuracy), (_pct(c.accuracy_std), c.accuracy_std),
                  (_pct(c.knn_accuracy), c.knn_accuracy), ("" if c.logme is None else f"{c.logme:.3f}", c.logme),
                  ("" if ms is None else f"{ms:.2f}", ms),
                  ("" if c.parameters is None else f"{c.parameters / 1e6:.2f} M", c.parameters))
        for column, (text, value) in enumerate(values, start=2):
            self.table.setItem(row, column, NumericItem(text, value))
        status = f"failed: {c.problem}" if c.problem else (c.note or ("done (features reused)" if c.features_reused
                                                                       else "done"))
        self._set_status(row, status)

    def _draw_chart(self, candidates) -> None:
        scored = [c for c in candidates if c.ok]
        self.chart.clear()
        if not scored:
            return
        x = np.arange(len(scored), dtype=float)
        height = np.array([100 * c.accuracy for c in scored])
        spread = np.array([100 * (c.accuracy_std or 0.0) for c in scored])
        self.bars = pg.BarGraphItem(x=x, height=height, width=0.6, brush=pg.mkBrush(70, 130, 180, 200))
        self.error_bars = pg.ErrorBarItem(x=x, y=height, height=2 * spread, beam=0.2, pen=pg.mkPen("#333", width=1.5))
        self.chart.addItem(self.bars)
        self.chart.addItem(self.error_bars)
        # one line per tick, elided to the bar's share of the width: the axis drops text that does not fit
        axis = self.chart.getPlotItem().getAxis("bottom")
        width = self.chart.getPlotItem().vb.width() or 0.85 * self.chart.width()
        room = max(48, int(width / max(1, len(scored))) - 8)
        metrics = QFontMetrics(axis.style.get("tickFont") or self.chart.font())
        from tlgui.core.models.registry import family_for

        names = [" ".join(filter(None, (family_for(c.model).short_name(c.model), _short(c.weights)))) for c in scored]
        axis.setTicks([[(i, metrics.elidedText(name, Qt.TextElideMode.ElideMiddle, room))
                        for i, name in enumerate(names)]])
        self.chart.setXRange(-0.6, len(scored) - 0.4, padding=0)
        self.chart.setYRange(0, 100, padding=0.02)

    def _row_ok(self, row: int) -> bool:
        item = self.table.item(row, 2)
        return item is not None and bool(item.text())

    def _selected(self) -> tuple[str, str] | None:
        rows = self.table.selectionModel().selectedRows() if self.table.selectionModel() else []
        if not rows or self.result is None:
            return None
        row = rows[0].row()
        if not self._row_ok(row):
            return None  # a failed candidate: nothing to train
        return self.table.item(row, 0).text(), self.table.item(row, 1).toolTip()

    @Slot()
    def _on_selection(self) -> None:
        self._update_buttons()

    @Slot()
    def train_this(self) -> None:
        """Emit the selected row with its own strategy (the rank advises one per candidate; the
        recommendation's for the recommended row, which may come from a transfer check)."""
        chosen = self._selected()
        if chosen is None or self.result is None:
            return
        from tlgui.core.training.strategy import Strategy

        rec = self.result.recommendation
        model, weights = chosen
        if model == rec.model and (weights == rec.weights or not rec.strategy.uses_weights):
            strategy = rec.strategy
        else:
            row = next((c for c in self.result.candidates if (c.model, c.weights) == chosen), None)
            strategy = Strategy(getattr(row, "strategy", None) or Strategy.HEAD)
        self.train_requested.emit(model, weights if strategy.uses_weights else "none", strategy.value)


def _rank_defaults() -> dict[str, str]:
    """RankConfig's own defaults for the image values, so the page shows only what differs."""
    import dataclasses

    from tlgui.core.workflows.rank import RankConfig

    return {f.name: str(f.default) for f in dataclasses.fields(RankConfig) if f.name in IMAGE_KEYS}  # (all str)


def _short(weights: str) -> str:
    if weights in ("none", "default") or ":" in weights and not Path(weights).exists():
        return weights
    path = Path(weights)
    return f"{path.parent.name}/{path.name}" if path.name in ("model.pt", "model.safetensors") else path.name
