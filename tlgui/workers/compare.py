"""The transfer check ("did transfer help?") off the GUI thread.

:class:`CompareController` (GUI thread) owns one QThread per check and a parent-less
:class:`CompareWorker` moved onto it. The worker calls the blocking core
``run_comparison`` and turns its events into signals: strategy start/finish and each epoch
as they come; batch progress and preparation stages at most ``emit_hz`` times a second.
Errors never escape: ``failed(message, details)`` and then always ``finished``.
"""

from __future__ import annotations

import logging
import time
import traceback
from dataclasses import dataclass

from PySide6.QtCore import QObject, QThread, Signal, Slot

from . import registry
from .training import DEFAULT_EMIT_HZ, default_num_threads, describe_exception

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CompareProgress:
    """Where the check is: strategy ``index`` of ``count``, epoch and batch within it."""

    index: int
    count: int
    label: str
    epoch: int
    epochs: int
    batch: int
    batches: int

    @property
    def fraction(self) -> float:
        within = ((self.epoch - 1) + self.batch / max(1, self.batches)) / max(1, self.epochs)
        return min(1.0, ((self.index - 1) + within) / max(1, self.count))

    def text(self) -> str:
        return f"Strategy {self.index} of {self.count}: {self.label} — epoch {self.epoch}/{self.epochs}"


class CompareWorker(QObject):
    strategy_started = Signal(object)  # core.compare.StrategyStarted
    run_started = Signal(object)  # core.events.RunStarted of the current strategy
    progress = Signal(object)  # CompareProgress (throttled)
    stage = Signal(str)  # preparation step in words (throttled)
    epoch_finished = Signal(str, object)  # strategy name, core.events.EpochStats
    strategy_finished = Signal(object)  # core.compare.StrategyFinished
    failed = Signal(str, str)  # message, details
    finished = Signal(object)  # core.compare.CompareResult, or None after a failure

    def __init__(self, config, control, compare_fn=None, num_threads=None, emit_hz: float = DEFAULT_EMIT_HZ):
        super().__init__()  # parent-less: it moves to the worker thread
        self._config = config
        self._control = control
        self._compare_fn = compare_fn
        self._num_threads = num_threads
        self._min_interval = 1.0 / emit_hz if emit_hz > 0 else 0.0
        self._last_emit = 0.0
        self._current = None  # StrategyStarted
        self._pending = None  # latest CompareProgress not yet sent

    @Slot()
    def run(self) -> None:
        result = None
        try:
            try:
                import torch

                torch.set_num_threads(int(self._num_threads or default_num_threads()))  # per thread
            except Exception:  # noqa: BLE001 - a tuning knob
                log.debug("could not set torch threads", exc_info=True)
            compare = self._compare_fn
            if compare is None:
                from ..core.compare import run_comparison as compare
            result = compare(self._config, self._on_event, self._control)
        except BaseException as exc:  # noqa: BLE001 - nothing may escape the thread
            details = traceback.format_exc()
            log.error("transfer check failed:\n%s", details)
            message = describe_exception(exc).replace("Training stopped because of", "The transfer check stopped because of")
            self.failed.emit(message, details)
        finally:
            self._flush()
            self.finished.emit(result)

    def _on_event(self, event) -> None:  # worker thread, called by the core for every event
        from ..core import compare
        from ..core import events as ev

        if isinstance(event, ev.BatchStats):
            current = self._current
            if current is not None:
                self._pending = CompareProgress(current.index, current.count, current.label, event.epoch,
                                                int(self._config.epochs), event.batch, event.batches)
                self._maybe_flush()
        elif isinstance(event, ev.EpochStats):
            self._flush()
            if self._current is not None:
                self.epoch_finished.emit(self._current.name, event)
        elif isinstance(event, compare.StrategyStarted):
            self._current = event
            self._pending = None
            self.strategy_started.emit(event)
        elif isinstance(event, compare.StrategyFinished):
            self._flush()
            self.strategy_finished.emit(event)
        elif isinstance(event, ev.RunStarted):
            self.run_started.emit(event)
        elif isinstance(event, ev.Stage):
            now = time.monotonic()
            if now - self._last_emit >= self._min_interval:
                self._last_emit = now
                self.stage.emit(event.detail or event.name)

    def _maybe_flush(self) -> None:
        if time.monotonic() - self._last_emit >= self._min_interval:
            self._flush()

    def _flush(self) -> None:
        if self._pending is not None:
            pending, self._pending = self._pending, None
            self.progress.emit(pending)
        self._last_emit = time.monotonic()


class CompareController(QObject):
    """The GUI's handle on one transfer check at a time; signals arrive on the GUI thread."""

    strategy_started = Signal(object)
    run_started = Signal(object)
    progress = Signal(object)
    stage = Signal(str)
    epoch_finished = Signal(str, object)
    strategy_finished = Signal(object)
    failed = Signal(str, str)
    finished = Signal(object)
    running_changed = Signal(bool)

    def __init__(self, parent: QObject | None = None, compare_fn=None, num_threads=None):
        super().__init__(parent)
        self.compare_fn = compare_fn  # None: core.compare.run_comparison (tests may inject)
        self.num_threads = num_threads
        self.emit_hz = DEFAULT_EMIT_HZ
        self._thread: QThread | None = None
        self._worker: CompareWorker | None = None
        self._control = None

    def is_running(self) -> bool:
        return self._thread is not None

    @property
    def thread(self) -> QThread | None:
        return self._thread

    def start(self, config, control=None) -> None:
        if self._thread is not None:
            raise RuntimeError("a transfer check is already running")
        if control is None:
            from ..core.training import TrainControl

            control = TrainControl()
        self._control = control
        thread = QThread()
        thread.setObjectName("tlgui-compare")
        worker = CompareWorker(config, control, self.compare_fn, self.num_threads, self.emit_hz)
        worker.moveToThread(thread)
        thread.started.connect(worker.run)
        for name in ("strategy_started", "run_started", "progress", "stage", "epoch_finished",
                     "strategy_finished", "failed", "finished"):
            getattr(worker, name).connect(getattr(self, name))
        worker.finished.connect(thread.quit)  # direct: same thread, quits once run() returns
        thread.finished.connect(self._on_thread_finished)
        self._thread, self._worker = thread, worker
        registry.register(thread)
        thread.start()
        self.running_changed.emit(True)

    def stop(self) -> None:
        """End the current strategy after its current batch; later strategies do not start."""
        if self._control is not None and self._thread is not None:
            self._control.stop()

    def shutdown(self, timeout_ms: int = 30000) -> bool:
        """Stop and wait (closing the window). True if no thread is left running."""
        thread = self._thread
        if thread is None:
            return True
        self.stop()
        thread.quit()
        if not thread.wait(timeout_ms):
            log.error("transfer check thread did not stop within %d ms", timeout_ms)
            return False
        self._on_thread_finished()
        return True

    @Slot()
    def _on_thread_finished(self) -> None:
        thread = self._thread
        if thread is None or thread.isRunning():
            return
        thread.wait()
        self._thread = self._worker = self._control = None
        self.running_changed.emit(False)
