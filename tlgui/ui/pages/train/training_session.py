"""One training run as the window shows it: start, resume, pause, stop, live events, the result.

:class:`TrainingSession` owns the :class:`TrainingController` (the worker thread) and
turns its signals into what the person sees: the training panel's state and progress,
the plots, the status bar and its run, device and elapsed-time labels. The main window
builds the config from its panels and hands it over; it keeps no run state of its own.
"""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import QElapsedTimer, QObject, QTimer, QUrl, Signal, Slot

from tlgui.ui.base.errors import show_error
from tlgui.ui.pages.train.run_result import result_html
from tlgui.ui.pages.train.training_panel import IDLE, PAUSED, RUNNING, STOPPING
from tlgui.workers.training import TrainingController

log = logging.getLogger(__name__)


def past_epochs(run_dir: str, epochs: int) -> list:
    """EpochStats of a stopped run's completed epochs, as its metrics.csv recorded them."""
    from tlgui.core.base.events import EpochStats
    from tlgui.core.results.runs import read_metrics, read_summary

    done = int((read_summary(run_dir) or {}).get("epochs_completed") or 0)
    rows = {(r["epoch"], r["phase"]): r for r in read_metrics(run_dir) if r["epoch"] <= done}
    past = []
    for epoch in range(1, done + 1):
        train, val = rows.get((epoch, "train")), rows.get((epoch, "val"))
        if train and val:
            past.append(EpochStats(epoch, epochs, train["loss"], train["accuracy"], val["loss"],
                                   val["accuracy"], val["lr"], val["seconds"], 0.0))
    return past


class TrainingSession(QObject):
    """Runs the window's training jobs. ``window`` provides the widgets it updates:
    ``training_panel``, ``plots``, ``statusBar()``, ``device_label``, ``run_label``,
    ``elapsed_label``, ``settings`` and ``set_locked(bool)`` / ``refresh_ready()``."""

    run_finished = Signal(object)  # RunResult (or None), once the training thread has ended

    def __init__(self, window) -> None:
        super().__init__(window)
        self.window = window
        self.controller = TrainingController(self)
        self.last_result = None
        self.last_error: tuple[str, str] | None = None
        self._pending_result = None
        self._run_info = None
        self._elapsed = QElapsedTimer()
        self._paused_ms = 0
        self._pause_started: QElapsedTimer | None = None
        self._tick = QTimer(self)
        self._tick.setInterval(500)
        self._tick.timeout.connect(self._update_elapsed)
        c = self.controller
        c.stage.connect(self._on_stage)
        c.message.connect(self._on_message)
        c.run_started.connect(self._on_run_started)
        c.batches.connect(self._on_batches)
        c.epoch_finished.connect(self._on_epoch)
        c.failed.connect(self._on_failed)
        c.finished.connect(self._on_finished)
        c.running_changed.connect(self._on_running_changed)

    @property
    def _panel(self):
        return self.window.training_panel

    def _status(self, text: str, ms: int = 0) -> None:
        self.window.statusBar().showMessage(text, ms)

    def is_running(self) -> bool:
        return self.controller.is_running()

    # ------------------------------------------------------------------ commands
    def start(self, config, resume: bool = False) -> None:
        self.last_result = None
        self.last_error = None
        self._pending_result = None
        self._run_info = None
        plots = self.window.plots
        plots.reset(epochs=config.epochs)
        plots.start()
        self._panel.reset_progress("Resuming…" if resume else "Starting…")
        self._panel.show_result("")
        self._panel.set_state(RUNNING)
        self.window.set_locked(True)
        self.window.run_label.setText("")
        self._elapsed.start()
        self._paused_ms = 0
        self._pause_started = None
        self._tick.start()
        self._update_elapsed()
        self._status(f"Resuming {Path(config.out).name}." if resume else "Training started.")
        try:
            self.controller.start(config, resume=resume)
        except Exception as exc:  # noqa: BLE001
            self._after_run()
            self.show_failure(f"Training could not start: {exc}", None)
            return
        if resume:
            for past in past_epochs(config.out, config.epochs):  # the curves so far, from metrics.csv
                plots.add_epoch(past)

    def pause(self) -> None:
        if self.controller.is_running() and not self.controller.is_paused():
            self.controller.pause()
            self._pause_started = QElapsedTimer()
            self._pause_started.start()
            self._panel.set_state(PAUSED)
            self._panel.progress.setFormat("Paused")
            self._status("Paused. Press Resume to go on where it left off.")

    def resume(self) -> None:
        if self.controller.is_paused():
            self.controller.resume()
            self._end_pause()
            self._panel.set_state(RUNNING)
            self._status("Training resumed.", 4000)

    def stop(self) -> None:
        if self.controller.is_running():
            self._end_pause()
            self.controller.stop()
            self._panel.set_state(STOPPING)
            self._panel.show_busy("Stopping after this batch…")
            self._status("Stopping after the current batch; the model is kept.")

    def shutdown(self) -> None:
        """Stop and wait for the thread (closing the window)."""
        while self.controller.is_running():
            if not self.controller.shutdown():
                break  # logged; an endless wait would hang the app
        self._tick.stop()

    def _end_pause(self) -> None:
        if self._pause_started is not None:
            self._paused_ms += self._pause_started.elapsed()
            self._pause_started = None

    # ------------------------------------------------------------------ controller signals
    @Slot(object)
    def _on_stage(self, stage) -> None:
        text = stage.detail or stage.name
        if self._panel.state() in (RUNNING, STOPPING):
            self._panel.show_busy(text + "…" if not text.endswith("…") else text)
        self._status(text)

    @Slot(object)
    def _on_message(self, message) -> None:
        prefix = "Note: " if message.level == "warning" else ""
        self._status(prefix + message.text, 10000)

    @Slot(object)
    def _on_run_started(self, info) -> None:
        self._run_info = info
        self.window.device_label.setText(f"Device: {info.device}")
        self._show_run_dir(info.run_dir)
        self._status(
            f"Training on {info.train_images} images ({len(info.classes)} classes), "
            f"checking on {info.val_images}; {info.trainable_params:,} parameters train, "
            f"{info.frozen_params:,} frozen."
        )

    @Slot(object)
    def _on_batches(self, stats) -> None:
        if not stats:
            return
        b = stats[-1]
        info = self._run_info
        epochs = info.epochs if info is not None else b.epoch
        start_epoch = info.start_epoch if info is not None else 1
        if self._panel.state() in (RUNNING, PAUSED):
            self._panel.update_progress(b.epoch, epochs, b.batch, b.batches, b.elapsed, start_epoch)

    @Slot(object)
    def _on_epoch(self, e) -> None:
        self._status(
            f"Epoch {e.epoch} of {e.epochs}: validation accuracy {100 * e.val_accuracy:.1f} % "
            f"(training {100 * e.train_accuracy:.1f} %)."
        )

    @Slot(str, str)
    def _on_failed(self, message: str, details: str) -> None:
        self.show_failure(message, details)

    @Slot(object)
    def _on_finished(self, result) -> None:
        self._pending_result = result

    @Slot(bool)
    def _on_running_changed(self, running: bool) -> None:
        if running:
            return
        result = self._pending_result
        self._after_run()
        self.last_result = result
        if result is not None:
            self._report_result(result)
        self.run_finished.emit(result)

    # ------------------------------------------------------------------ showing the outcome
    def _after_run(self) -> None:
        self._tick.stop()
        self._update_elapsed()
        if self.window.plots is not None:
            self.window.plots.stop()
        self.window.set_locked(False)
        self._panel.set_state(IDLE)
        self.window.refresh_ready()

    def _report_result(self, result) -> None:
        summary = result.summary or {}
        if result.run_dir and Path(result.run_dir).is_dir():
            self._show_run_dir(result.run_dir)
            self.window.settings.last_run_dir = result.run_dir
        acc = summary.get("final_val_accuracy")
        acc_text = f"validation accuracy {100 * acc:.1f} %" if isinstance(acc, (int, float)) else ""
        if result.status == "completed":
            text = f"Finished: {acc_text}. The model is saved in the run folder."
            self._panel.show_done(f"Done — {acc_text}" if acc_text else "Done", 1.0)
        elif result.status == "stopped" and not summary:
            text = result.message or "Stopped before training began."
            self._panel.show_done("Stopped")
        elif result.status == "stopped":
            done = summary.get("epochs_completed", 0)
            text = f"Stopped after {done} complete epoch(s); the model so far is saved."
            self._panel.show_done("Stopped")
        else:
            text = f"Training failed: {result.message}" if result.message else "Training failed."
            self._panel.show_done("Failed")
        # a finished run is told by the progress bar and the result box; the rest need words
        self._panel.set_note("" if result.status == "completed" else text)
        self._panel.show_result(result_html(result) if summary else "")
        self._status(text)

    def show_failure(self, message: str, details: str | None) -> None:
        self.last_error = (message, details or "")
        self._panel.set_note(f"Training failed: {message}")
        show_error(self.window, message, details, title="Training failed")

    def _show_run_dir(self, run_dir: str) -> None:
        path = Path(run_dir)
        url = QUrl.fromLocalFile(str(path)).toString()
        self.window.run_label.setText(f'Run: <a href="{url}">{path.name}</a>')
        self.window.run_label.setToolTip(f"{path}\nClick to open the folder.")

    @Slot()
    def _update_elapsed(self) -> None:
        if not self._elapsed.isValid():
            return
        paused = self._paused_ms + (self._pause_started.elapsed() if self._pause_started else 0)
        seconds = max(0, (self._elapsed.elapsed() - paused) // 1000)
        minutes, seconds = divmod(int(seconds), 60)
        self.window.elapsed_label.setText(f"Elapsed: {minutes}:{seconds:02d}")
