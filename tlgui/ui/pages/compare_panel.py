"""“Did transfer help?”: train the chosen model three ways (from scratch, head only,
fine-tune) on the chosen data and say in plain words whether the pretrained weights helped.

Before running, the advisor's recommendation for this data and model is shown. The check
runs on its own QThread (:mod:`tlgui.workers.compare`); curves redraw on a timer.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtCore import Qt, QTimer, QUrl, Signal, Slot
from PySide6.QtWidgets import (
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
from tlgui.ui.widgets.gallery import NumericItem
from tlgui.ui.widgets.plots import REDRAW_MS
from tlgui.ui.widgets.strategy_curves import StrategyCurves
from tlgui.workers.compare import CompareController

INTRO = ("Trains your model three ways on the same data — <b>from scratch</b> (random weights), "
         "<b>head only</b> (pretrained weights frozen, only the new last layer learns) and <b>fine-tune</b> "
         "(pretrained weights, every layer learns) — and tells you whether the pretrained weights helped.")

NO_WEIGHTS = "Choose pretrained weights in the Model tab: with random weights there is nothing to transfer."


def _advice_job(data: str, model: str, weights: str, job):
    """Worker thread: the advisor's recommendation for this data and model."""
    from tlgui.core.data.catalog import open_source
    from tlgui.core.workflows.advisor import advise, summarize_image_set

    summary = summarize_image_set(open_source(data, "train"))
    size = channels = None
    path = Path(weights).expanduser() if weights not in ("none", "default", "demo:source") else None
    if path is not None and path.is_file():
        try:
            from tlgui.core.models.checkpoint import load_checkpoint

            ckpt = load_checkpoint(path)
            size, channels = int(ckpt["preprocessing"]["crop"]), int(ckpt.get("in_channels", 3))
        except Exception:  # noqa: BLE001 - a plain weight file: the architecture's defaults apply
            pass
    return advise(summary, model, weights, size, channels)


class ComparePanel(QWidget):
    comparison_finished = Signal(object)  # core.compare.CompareResult
    running_changed = Signal(bool)
    rank_requested = Signal()  # the advisor's "which model?" link: the shell shows that page

    def __init__(self, parent: QWidget | None = None, controller: CompareController | None = None):
        super().__init__(parent)
        self.setObjectName("comparePanel")
        self.context: dict | None = None
        self.advice = None
        self.result = None
        self.last_error = ""
        self.controller = controller or CompareController(self)
        self._advisor = TaskRunner(self)
        self._locked = False
        self._build()
        c = self.controller
        c.strategy_started.connect(self._on_strategy_started)
        c.run_started.connect(self._on_run_started)
        c.progress.connect(self._on_progress)
        c.stage.connect(self._on_stage)
        c.epoch_finished.connect(self._on_epoch)
        c.strategy_finished.connect(self._on_strategy_finished)
        c.failed.connect(self._on_failed)
        c.finished.connect(self._on_finished)
        c.running_changed.connect(self._on_running_changed)
        self.timer = QTimer(self)
        self.timer.setInterval(REDRAW_MS)
        self.timer.timeout.connect(self.redraw)

    # -- construction -----------------------------------------------------------------
    def _build(self) -> None:
        intro = QLabel(INTRO, wordWrap=True)
        self.context_label = QLabel("Choose data and a model with pretrained weights first.",
                                    objectName="compareContextLabel", wordWrap=True)
        self.advice_label = QLabel("", objectName="adviceLabel", wordWrap=True)
        self.advice_label.setTextFormat(Qt.TextFormat.RichText)
        self.epochs_spin = QSpinBox(minimum=1, maximum=500, value=5)
        self.epochs_spin.setObjectName("compareEpochsSpin")
        self.epochs_spin.setToolTip("Epochs for each of the three trainings; the check takes about three times as "
                                    "long as one training.")
        self.run_button = QPushButton("Run the transfer check", objectName="runCompareButton")
        self.run_button.clicked.connect(self.start)
        self.stop_button = QPushButton("Stop", objectName="stopCompareButton", enabled=False)
        self.stop_button.clicked.connect(self.stop)
        row = QHBoxLayout()
        row.addWidget(QLabel("Epochs per strategy:"))
        row.addWidget(self.epochs_spin)
        row.addStretch(1)
        row.addWidget(self.run_button)
        row.addWidget(self.stop_button)
        setup = QGroupBox("Did transfer help?")
        setup_layout = QVBoxLayout(setup)
        self.rank_link = QLabel('<a href="rank">Not sure which model? Rank the backbones on this computer '
                                "for this data</a>", objectName="rankLink")
        self.rank_link.linkActivated.connect(lambda _link: self.rank_requested.emit())
        for widget in (intro, self.context_label, self.advice_label, self.rank_link):
            setup_layout.addWidget(widget)
        setup_layout.addLayout(row)

        self.progress = QProgressBar(textVisible=False)
        self.progress.setObjectName("compareProgress")
        self.progress.setVisible(False)
        self.progress.setRange(0, 1000)
        self.progress_label = QLabel("", objectName="compareProgressLabel")

        self.curves = StrategyCurves(self)
        self.plot = self.curves.plot
        self.table = QTableWidget(0, 4, objectName="compareResultsTable")
        self.table.setHorizontalHeaderLabels(["Strategy", "Best", "Final", "Seconds"])
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.table.setMinimumWidth(self.fontMetrics().horizontalAdvance("from scratch  100.0 %  100.0 %  10000.0") + 60)
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(self.plot)
        splitter.addWidget(self.table)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 2)
        splitter.setChildrenCollapsible(False)

        self.verdict_label = QLabel("", objectName="verdictLabel", wordWrap=True)
        self.verdict_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.verdict_label.setVisible(False)
        self.folder_label = QLabel("", objectName="compareFolderLabel", openExternalLinks=True)
        self.error_label = QLabel("", objectName="compareErrorLabel", wordWrap=True, visible=False)
        self.error_label.setStyleSheet("color: #c0392b;")

        layout = QVBoxLayout(self)
        layout.addWidget(setup)
        layout.addWidget(self.progress_label)
        layout.addWidget(self.progress)
        layout.addWidget(self.error_label)
        layout.addWidget(self.verdict_label)
        layout.addWidget(splitter, 1)
        layout.addWidget(self.folder_label)
        self._update_buttons()

    # -- public API -------------------------------------------------------------------
    def set_context(self, data: str, val_data: str | None, model: str, weights: str, epochs: int,
                    seed: int, batch_size: int, lr: float | None, *, split: str = "train",
                    val_split: float = 0.2, device: str = "auto", optimizer: str = "adam",
                    schedule: str = "cosine", image_size: int | None = None) -> None:
        """The main window's current choices; the advisor looks at them in the background."""
        from tlgui.core.workflows.compare import describe_weights

        self.context = dict(data=data, val_data=val_data, model=model, weights=weights or "none",
                            epochs=int(epochs), seed=int(seed), batch_size=int(batch_size), lr=lr,
                            split=split, val_split=float(val_split), device=device,
                            optimizer=optimizer, schedule=schedule, image_size=image_size)
        if not self.controller.is_running():
            self.epochs_spin.setValue(max(1, int(epochs)))
            if self.result is None and not self.curves.has_curves():
                self.curves.fit_epochs(self.epochs_spin.value())
        validation = f", checked on {breakable_path(val_data)}" if val_data else ""
        self.context_label.setText(
            f"Data: <b>{breakable_path(data)}</b>{validation} · Model: <b>{model}</b> · Pretrained weights: "
            f"<b>{describe_weights(weights or 'none', model)}</b> · seed {seed}")
        self.advice = None
        self.advice_label.setText("<i>Looking at your data…</i>")
        self._advisor.cancel_all()
        self._advisor.start(lambda job: _advice_job(data, model, weights or "none", job),
                            self._on_advice, self._on_advice_error, name="advisor")
        self._update_buttons()

    def is_running(self) -> bool:
        return self.controller.is_running()

    def set_locked(self, locked: bool) -> None:
        """While the main window trains, the check cannot start (both would share the CPU/GPU)."""
        self._locked = bool(locked)
        self._update_buttons()

    @Slot()
    def start(self) -> None:
        """Start the check with the current context (the button calls this)."""
        if self.context is None or self.controller.is_running() or self._locked:
            return
        from tlgui import paths
        from tlgui.core.workflows.compare import STRATEGIES, CompareConfig
        from tlgui.workers.training import new_run_dir

        ctx = self.context
        epochs = self.epochs_spin.value()
        out = new_run_dir(paths.runs_dir(), f"compare-{ctx['model']}")
        config = CompareConfig(data=ctx["data"], val_data=ctx["val_data"], model=ctx["model"], weights=ctx["weights"],
                               out=str(out), epochs=epochs, seed=ctx["seed"], batch_size=ctx["batch_size"],
                               lr=ctx["lr"],
                               split=ctx.get("split", "train"), val_split=ctx.get("val_split", 0.2),
                               device=ctx.get("device", "auto"), optimizer=ctx.get("optimizer", "adam"),
                               schedule=ctx.get("schedule", "cosine"), image_size=ctx.get("image_size"))
        self.result, self.last_error = None, ""
        self.error_label.setVisible(False)
        self.verdict_label.setVisible(False)
        self.folder_label.setText("")
        self.table.setRowCount(0)
        self.curves.reset(STRATEGIES, epochs)
        self.progress.setValue(0)
        self.progress.setVisible(True)
        self.progress_label.setText("Starting…")
        try:
            self.controller.start(config)
        except Exception as exc:  # noqa: BLE001
            self._show_error(f"The transfer check could not start: {exc}")
            return
        self.timer.start()

    @Slot()
    def stop(self) -> None:
        if self.controller.is_running():
            self.controller.stop()
            self.stop_button.setEnabled(False)
            self.progress_label.setText("Stopping after the current batch…")

    def shutdown(self, timeout_ms: int = 30000) -> bool:
        self._advisor.shutdown()
        self.timer.stop()
        return self.controller.shutdown(timeout_ms)

    def wait_idle(self, msecs: int = 30000) -> bool:
        return self._advisor.wait(msecs)

    def closeEvent(self, event) -> None:  # Qt override
        self.shutdown()
        super().closeEvent(event)

    def curve_data(self, name: str) -> tuple[np.ndarray, np.ndarray] | None:
        return self.curves.curve_data(name)

    # -- advisor ----------------------------------------------------------------------
    @Slot(object)
    def _on_advice(self, advice) -> None:
        from html import escape

        self.advice = advice
        reasons = "".join(f"<li>{escape(r)}</li>" for r in advice.reasons)
        text = advice.text.replace("'tlgui compare'", "the transfer check below")
        self.advice_label.setText(f"<b>{escape(text)}</b><ul style='margin-top:2px'>{reasons}</ul>")

    @Slot(object)
    def _on_advice_error(self, exc) -> None:
        self.advice_label.setText(f"<i>No recommendation: {exc}</i>")

    # -- worker signals ---------------------------------------------------------------
    @Slot(bool)
    def _on_running_changed(self, running: bool) -> None:
        if not running:
            self.timer.stop()
            self.redraw()
        self._update_buttons()
        self.running_changed.emit(running)

    @Slot(object)
    def _on_strategy_started(self, started) -> None:
        row = self.table.rowCount()
        self.table.insertRow(row)
        label = NumericItem(started.label, started.index)
        label.setTextAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        self.table.setItem(row, 0, label)
        for column in (1, 2, 3):
            self.table.setItem(row, column, NumericItem("running…" if column == 1 else "", None))
        self.progress_label.setText(f"Strategy {started.index} of {started.count}: {started.label} — preparing…")
        self.progress.setValue(int(1000 * (started.index - 1) / max(1, started.count)))

    @Slot(object)
    def _on_run_started(self, info) -> None:
        self.curves.show_chance(len(info.classes))

    @Slot(object)
    def _on_progress(self, p) -> None:
        self.progress_label.setText(p.text())
        self.progress.setValue(int(1000 * p.fraction))

    @Slot(str)
    def _on_stage(self, text: str) -> None:
        if self.stop_button.isEnabled():
            self.progress_label.setText(text)

    @Slot(str, object)
    def _on_epoch(self, name: str, stats) -> None:
        self.curves.append(name, stats.epoch, 100 * float(stats.val_accuracy))

    @Slot(object)
    def _on_strategy_finished(self, done) -> None:
        from tlgui.core.workflows.compare import LABELS

        for row in range(self.table.rowCount()):
            if self.table.item(row, 0).text() == LABELS.get(done.name, done.name):
                for column, value in ((1, done.best_val_accuracy), (2, done.final_val_accuracy)):
                    text = f"{100 * value:.1f} %" if value is not None else "—"
                    self.table.setItem(row, column, NumericItem(text, value))
                self.table.setItem(row, 3, NumericItem(f"{done.seconds:.1f}", done.seconds))

    @Slot(str, str)
    def _on_failed(self, message: str, _details: str) -> None:
        self._show_error(message)

    @Slot(object)
    def _on_finished(self, result) -> None:
        if result is None:
            self.progress_label.setText("The transfer check did not finish.")
            return
        self.result = result
        self.progress.setValue(1000 if result.status == "completed" else self.progress.value())
        self.progress_label.setText("Done." if result.status == "completed" else "Stopped.")
        self._show_verdict(result)
        url = QUrl.fromLocalFile(result.out).toString()
        self.folder_label.setText(f"Saved in <a href='{url}'>{Path(result.out).name}</a> "
                                  "(each strategy is an ordinary run; see the Runs tab).")
        self.comparison_finished.emit(result)

    # -- views ------------------------------------------------------------------------
    @Slot()
    def redraw(self) -> None:
        self.curves.redraw()

    def _show_verdict(self, result) -> None:
        text = result.verdict
        if "Transfer helped" in text:
            colour = "#2b8a3e"
        elif "did NOT" in text:
            colour = "#e67700"
        else:
            colour = "#868e96"
        self.verdict_label.setStyleSheet(
            f"QLabel {{ border: 2px solid {colour}; border-radius: 6px; padding: 8px; font-size: 12pt; }}")
        self.verdict_label.setText(text)
        self.verdict_label.setVisible(True)

    def _show_error(self, message: str) -> None:
        self.last_error = message
        self.error_label.setText(message)
        self.error_label.setVisible(True)
        self.progress_label.setText("The transfer check failed.")

    def _update_buttons(self) -> None:
        running = self.controller.is_running()
        ready = self.context is not None and (self.context.get("weights") or "none") != "none"
        self.run_button.setEnabled(ready and not running and not self._locked)
        self.stop_button.setEnabled(running)
        self.epochs_spin.setEnabled(not running)
        if self.context is not None and not ready:
            self.run_button.setToolTip(NO_WEIGHTS)
            self.progress_label.setText(NO_WEIGHTS)
        else:
            self.run_button.setToolTip("")
            if self.progress_label.text() == NO_WEIGHTS:
                self.progress_label.setText("")
