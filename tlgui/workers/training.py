"""Training off the GUI thread: a QObject worker on a dedicated QThread, and its controller.

The GUI only ever talks to :class:`TrainingController` (it lives in the GUI thread). The
controller creates a parent-less :class:`TrainingWorker`, moves it onto a fresh QThread,
and relays the worker's signals (queued, so slots run in the GUI thread). The worker calls
the blocking core ``train()`` and turns its events into Qt signals, throttled: per-batch
stats go out as lists at most ``emit_hz`` times a second; each epoch is one signal.

Errors never escape the thread: the worker emits ``failed(message, details)`` (a plain
sentence plus the traceback) and then always ``finished(RunResult)``.
"""

from __future__ import annotations

import datetime as _dt
import logging
import os
import re
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, QThread, Signal, Slot

from . import registry

log = logging.getLogger(__name__)

DEFAULT_EMIT_HZ = 15.0
STOPPED_BEFORE_START = "Stopped before training began; nothing was saved."


def default_num_threads() -> int:
    """Leave one core to the GUI on small machines, so the window stays smooth."""
    cores = os.cpu_count() or 1
    return max(1, cores - 1)


def new_run_dir(parent: str | Path, label: str = "run") -> Path:
    """A fresh, not-yet-existing ``parent/YYYYmmdd-HHMMSS-label`` path (suffixed if taken)."""
    parent = Path(parent)
    stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    label = re.sub(r"[^A-Za-z0-9_.-]+", "_", label).strip("_") or "run"
    candidate = parent / f"{stamp}-{label}"
    n = 2
    while candidate.exists():
        candidate = parent / f"{stamp}-{label}-{n}"
        n += 1
    return candidate


def describe_exception(exc: BaseException) -> str:
    """One plain sentence for a person; the traceback goes to the Details section."""
    from ..core.errors import TlguiError

    if isinstance(exc, TlguiError):
        return str(exc)
    name = type(exc).__name__
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    if isinstance(exc, MemoryError) or name == "OutOfMemoryError" or "out of memory" in text.lower():
        return (
            "Training ran out of memory. Try a smaller batch size, a smaller model, "
            "or freezing more layers."
        )
    if isinstance(exc, FileNotFoundError):
        return f"A file or folder could not be found: {exc.filename or text}"
    if isinstance(exc, PermissionError):
        return f"Permission denied: {exc.filename or text}"
    if isinstance(exc, OSError):
        return f"A file could not be read or written: {text or name}"
    return f"Training stopped because of an unexpected error ({name}: {text})."


class TrainingWorker(QObject):
    """Runs one training job. Create in the GUI thread, then ``moveToThread``."""

    stage = Signal(object)  # core.events.Stage
    message = Signal(object)  # core.events.Message
    run_started = Signal(object)  # core.events.RunStarted
    batches = Signal(object)  # list[core.events.BatchStats]
    epoch_finished = Signal(object)  # core.events.EpochStats
    failed = Signal(str, str)  # message, details (traceback)
    finished = Signal(object)  # core.events.RunResult

    def __init__(
        self,
        config,
        control,
        train_fn: Callable[..., Any] | None = None,
        num_threads: int | None = None,
        emit_hz: float = DEFAULT_EMIT_HZ,
        resume: bool = False,
    ) -> None:
        super().__init__()  # parent-less: it must be movable to another thread
        self._config = config
        self._resume = resume
        self._control = control
        self._train_fn = train_fn
        self._num_threads = num_threads
        self._min_interval = 1.0 / emit_hz if emit_hz > 0 else 0.0
        self._pending: list = []
        self._last_emit = 0.0
        self._run_dir = str(getattr(config, "out", "") or "")
        self.result = None  # the RunResult, also readable after the thread has ended

    @Slot()
    def run(self) -> None:
        from ..core.events import RunResult

        result = None
        try:
            self._set_threads()
            train = self._train_fn
            if train is None:
                from ..core.training import train
            extra = {"resume": True} if self._resume else {}
            result = train(self._config, on_event=self._on_event, control=self._control, **extra)
            self._flush()
        except BaseException as exc:  # noqa: BLE001 - nothing may escape the thread
            self._flush()
            details = traceback.format_exc()
            if getattr(self._control, "stopped", False):
                # Stop pressed before the first batch (e.g. while the demo source model was
                # pretrained): what the person asked for, not an error to show
                log.info("training stopped before it began:\n%s", details)
                result = RunResult("stopped", self._run_dir, {}, STOPPED_BEFORE_START)
            else:
                log.error("training failed:\n%s", details)
                message = describe_exception(exc)
                self.failed.emit(message, details)
                result = RunResult("failed", self._run_dir, {}, message)
        finally:
            if result is None:
                result = RunResult("failed", self._run_dir, {}, "training returned no result")
            self.result = result
            self.finished.emit(result)

    def _set_threads(self) -> None:
        n = self._num_threads if self._num_threads is not None else default_num_threads()
        try:
            import torch

            # per thread for OpenMP: must be set in the thread that trains
            torch.set_num_threads(int(n))
        except Exception:  # noqa: BLE001 - a tuning knob, not worth failing over
            log.debug("could not set torch threads", exc_info=True)

    # called in the worker thread by core.train for every event
    def _on_event(self, event) -> None:
        from ..core import events as ev

        if isinstance(event, ev.BatchStats):
            self._pending.append(event)
            now = time.monotonic()
            if now - self._last_emit >= self._min_interval:
                self._flush(now)
        elif isinstance(event, ev.EpochStats):
            self._flush()
            self.epoch_finished.emit(event)
        elif isinstance(event, ev.RunStarted):
            self._run_dir = event.run_dir
            self.run_started.emit(event)
        elif isinstance(event, ev.Stage):
            self.stage.emit(event)
        elif isinstance(event, ev.Message):
            self.message.emit(event)

    def _flush(self, now: float | None = None) -> None:
        if self._pending:
            batch, self._pending = self._pending, []
            self.batches.emit(batch)
        self._last_emit = time.monotonic() if now is None else now


class TrainingController(QObject):
    """Owns the QThread of the current run; the GUI's only handle on training.

    Signals mirror :class:`TrainingWorker` and arrive in the GUI thread. ``running_changed``
    goes True on :meth:`start` and False once the thread has ended.
    """

    stage = Signal(object)
    message = Signal(object)
    run_started = Signal(object)
    batches = Signal(object)
    epoch_finished = Signal(object)
    failed = Signal(str, str)
    finished = Signal(object)
    running_changed = Signal(bool)
    paused_changed = Signal(bool)

    def __init__(self, parent: QObject | None = None, train_fn=None, num_threads=None) -> None:
        super().__init__(parent)
        self.train_fn = train_fn  # None: tlgui.core.training.train (tests inject fakes)
        self.num_threads = num_threads
        self.emit_hz = DEFAULT_EMIT_HZ
        self._thread: QThread | None = None
        self._worker: TrainingWorker | None = None
        self._control = None
        self._paused = False
        self._delivered = False  # finished() already emitted for the current run

    # -- queries -----------------------------------------------------------------------
    def is_running(self) -> bool:
        return self._thread is not None

    def is_paused(self) -> bool:
        return self._paused

    @property
    def thread(self) -> QThread | None:
        return self._thread

    # -- commands (GUI thread) -----------------------------------------------------------
    def start(self, config, control=None, resume: bool = False) -> None:
        """Start training ``config`` on a new thread (``resume``: continue the run in
        ``config.out`` from its last checkpoint). Raises RuntimeError if one is running."""
        if self._thread is not None:
            raise RuntimeError("a training run is already going")
        if control is None:
            from ..core.training import TrainControl

            control = TrainControl()
        self._control = control
        self._paused = False
        self._delivered = False
        thread = QThread()
        thread.setObjectName("tlgui-training")
        worker = TrainingWorker(
            config, control, train_fn=self.train_fn, num_threads=self.num_threads,
            emit_hz=self.emit_hz, resume=resume,
        )
        worker.moveToThread(thread)
        thread.started.connect(worker.run)
        worker.stage.connect(self.stage)
        worker.message.connect(self.message)
        worker.run_started.connect(self.run_started)
        worker.batches.connect(self.batches)
        worker.epoch_finished.connect(self.epoch_finished)
        worker.failed.connect(self.failed)
        worker.finished.connect(self._on_worker_finished)
        # quit from the worker's side as soon as run() is done (direct: same thread)
        worker.finished.connect(thread.quit)
        thread.finished.connect(self._on_thread_finished)
        self._thread, self._worker = thread, worker
        registry.register(thread)
        thread.start()
        self.running_changed.emit(True)

    def pause(self) -> None:
        if self._control is not None and self._thread is not None and not self._paused:
            self._control.pause()
            self._paused = True
            self.paused_changed.emit(True)

    def resume(self) -> None:
        if self._control is not None and self._paused:
            self._control.resume()
            self._paused = False
            self.paused_changed.emit(False)

    def stop(self) -> None:
        """Ask the run to end after the current batch (it saves a usable model)."""
        if self._control is not None and self._thread is not None:
            self._control.stop()
            if self._paused:
                # a paused loop must wake up to see the stop
                self._control.resume()
                self._paused = False
                self.paused_changed.emit(False)

    def shutdown(self, timeout_ms: int = 30000) -> bool:
        """Stop, quit and wait (for closing the window). True if no thread is left running."""
        thread = self._thread
        if thread is None:
            return True
        self.stop()
        thread.quit()  # takes effect once run() returns to the thread's event loop
        done = thread.wait(timeout_ms)
        if not done:
            log.error("training thread did not stop within %d ms", timeout_ms)
            return False
        # the worker's queued finished() has not been delivered yet (we were blocked here)
        if self._worker is not None and self._worker.result is not None:
            self._deliver(self._worker.result)
        self._on_thread_finished()
        return True

    # -- internals (GUI thread) ------------------------------------------------------------
    @Slot(object)
    def _on_worker_finished(self, result) -> None:
        # a late notice from an earlier run's (deleted) worker has another sender
        if self.sender() is self._worker:
            self._deliver(result)

    def _deliver(self, result) -> None:
        if not self._delivered:
            self._delivered = True
            self.finished.emit(result)

    @Slot()
    def _on_thread_finished(self) -> None:
        thread = self._thread
        # a stale queued notice (after shutdown() or for an earlier run) finds nothing to do
        if thread is None or thread.isRunning():
            return
        thread.wait()  # returns at once; makes sure QThread's own cleanup has finished
        # drop our references: Python owns these parent-less objects and deletes them
        # now that the thread has ended (never delete a QThread that still runs)
        self._thread = self._worker = None
        self._control = None
        self._paused = False
        self.running_changed.emit(False)
