"""Any core job off the GUI thread: one worker, one controller that is the GUI's handle on it.

A *job* is a blocking core call that reports progress through an ``on_event`` callback and
checks a :class:`~tlgui.core.base.cancel.PausableControl` (``train()``, ``run_comparison()``).
:class:`JobController` (GUI thread) starts a :class:`JobWorker` (a :mod:`tlgui.workers.base`
worker: its own thread, kept in the one live set) and relays its signals, which arrive queued
in the GUI thread:

* ``batches(list)``: per-batch stats, collected and sent at most ``emit_hz`` times a second;
* ``job_event(object)``: every other event, in order (a stage's repeated progress updates are
  throttled like batches, a new stage always goes through);
* ``failed(message, details)`` then always ``finished(result)``: errors never escape the thread;
  ``running_changed(False)`` once the thread has ended.

The training and transfer-check controllers are thin layers over this that turn events
into the signals their panels want.
"""

from __future__ import annotations

import logging
import time
import traceback
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QThread, Signal, Slot

from tlgui.core.base.cancel import PausableControl

from .base import JOB_STACK_BYTES, WorkerBase

log = logging.getLogger(__name__)

__all__ = ["DEFAULT_EMIT_HZ", "JOB_STACK_BYTES", "JobController", "JobWorker", "default_num_threads",
           "describe_exception"]

DEFAULT_EMIT_HZ = 15.0

# job(on_event) -> result; the controller binds the config and control into it
Job = Callable[[Callable[[object], None]], Any]
# error_result(exc, message, stopped) -> the result to deliver when the job raised
ErrorResult = Callable[[BaseException, str, bool], Any]


def default_num_threads() -> int:
    """The core's measured choice, shared with the CLI (see tlgui.core.training.precision)."""
    from tlgui.core.training.precision import default_num_threads as measured

    return measured()


def describe_exception(exc: BaseException, doing: str = "Training") -> str:
    """One plain sentence for a person; the traceback goes to the Details section."""
    from tlgui.core.base.errors import TlguiError

    if isinstance(exc, TlguiError):
        return str(exc)
    name = type(exc).__name__
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    if isinstance(exc, MemoryError) or name == "OutOfMemoryError" or "out of memory" in text.lower():
        return (
            f"{doing} ran out of memory. Try a smaller batch size, a smaller model, "
            "or freezing more layers."
        )
    from tlgui.core.base.files import name_too_long

    too_long = name_too_long(exc)
    if too_long:
        return too_long[:1].upper() + too_long[1:] + "."
    if isinstance(exc, FileNotFoundError):
        return f"A file or folder could not be found: {exc.filename or text}"
    if isinstance(exc, PermissionError):
        return f"Permission denied: {exc.filename or text}"
    if isinstance(exc, OSError):
        return f"A file could not be read or written: {text or name}"
    return f"{doing} stopped because of an unexpected error ({name}: {text})."


def _is_stop(exc: BaseException) -> bool:
    """Whether ``exc`` is a job honouring Stop (the core raises Cancelled for that)."""
    from tlgui.core.base.cancel import Cancelled

    return isinstance(exc, (Cancelled, KeyboardInterrupt))


class JobWorker(WorkerBase):
    """Runs one job on its own thread; ``done(result)`` is its last signal from there."""

    job_event = Signal(object)  # not "event": that would hide QObject.event(), which Qt calls
    batches = Signal(object)  # list of BatchStats
    failed = Signal(str, str)  # message, details (traceback)
    done = Signal(object)  # the job's result, or error_result(...)

    def __init__(self, job: Job, control: PausableControl, error_result: ErrorResult, doing: str = "Training",
                 num_threads: int | None = None, emit_hz: float = DEFAULT_EMIT_HZ,
                 thread_name: str = "tlgui-job") -> None:
        super().__init__(thread_name, control)
        self._job = job
        self._error_result = error_result
        self._doing = doing
        self._num_threads = num_threads
        self._min_interval = 1.0 / emit_hz if emit_hz > 0 else 0.0
        self._pending: list[object] = []
        self._last_batch_emit = 0.0
        self._last_stage: tuple[str, float] = ("", 0.0)
        self.result: Any = None  # also readable after the thread has ended

    def work(self) -> None:
        result = None
        try:
            self._set_threads()
            result = self._job(self._on_event)
        except BaseException as exc:  # noqa: BLE001 - nothing may escape the thread
            details = traceback.format_exc()
            stopped = self.stopped and _is_stop(exc)
            message = describe_exception(exc, self._doing)
            if stopped:
                # the job gave up because Stop was pressed: what the person asked for, not an error;
                # anything else raised after a Stop (a full disk while saving) is a real failure
                log.info("%s stopped before it began:\n%s", self._doing, details)
            else:
                log.error("%s failed:\n%s", self._doing, details)
                self.failed.emit(message, details)
            result = self._error_result(exc, message, stopped)
        finally:
            self._flush()
            self.result = result
            self.done.emit(result)

    def _set_threads(self) -> None:
        n = self._num_threads if self._num_threads is not None else default_num_threads()
        try:
            import torch

            # per thread for OpenMP: must be set in the thread that trains
            torch.set_num_threads(int(n))
        except Exception:  # noqa: BLE001 - a tuning knob, not worth failing over
            log.debug("could not set torch threads", exc_info=True)

    # called in the worker thread by the core for every event
    def _on_event(self, event: object) -> None:
        from tlgui.core.base import events as ev

        now = time.monotonic()
        if isinstance(event, ev.BatchStats):
            self._pending.append(event)
            if now - self._last_batch_emit >= self._min_interval:
                self._flush(now)
            return
        if isinstance(event, ev.Stage):
            name, last = self._last_stage
            if name == event.name and now - last < self._min_interval:
                return  # another progress update of the same stage, too soon
            self._last_stage = (event.name, now)
        else:
            self._flush(now)  # batches first, so epochs and results arrive after them
        self.job_event.emit(event)

    def _flush(self, now: float | None = None) -> None:
        if self._pending:
            batch, self._pending = self._pending, []
            self.batches.emit(batch)
        self._last_batch_emit = time.monotonic() if now is None else now


class JobController(QObject):
    """The GUI's only handle on the current job and its thread.

    ``running_changed`` goes True on :meth:`start_job` and False once the thread has ended;
    ``finished`` is emitted once per job, before ``running_changed(False)``.
    """

    job_event = Signal(object)  # every event that is not a batch's (see the module's notes)
    batches = Signal(object)
    failed = Signal(str, str)
    finished = Signal(object)
    running_changed = Signal(bool)
    paused_changed = Signal(bool)

    thread_name = "tlgui-job"
    doing = "The job"

    def __init__(self, parent: QObject | None = None, num_threads: int | None = None) -> None:
        super().__init__(parent)
        self.num_threads = num_threads
        self.emit_hz = DEFAULT_EMIT_HZ
        self._worker: JobWorker | None = None
        self._paused = False
        self._delivered = False

    # -- queries ---------------------------------------------------------------------------
    def is_running(self) -> bool:
        return self._worker is not None

    def is_paused(self) -> bool:
        return self._paused

    @property
    def thread(self) -> QThread | None:  # type: ignore[override]  # the job's thread, read by tests as before
        """The running job's thread (None when idle); hides QObject.thread(), which nobody asks a controller."""
        return self._worker.qthread if self._worker is not None else None

    # -- commands (GUI thread) ----------------------------------------------------------------
    def start_job(self, job: Job, control: PausableControl, error_result: ErrorResult) -> None:
        """Run ``job`` on a new thread. Raises RuntimeError if one is running."""
        if self._worker is not None:
            raise RuntimeError(f"{self.doing.lower()} is already running")
        self._paused = False
        self._delivered = False
        worker = JobWorker(job, control, error_result, self.doing, self.num_threads, self.emit_hz,
                           self.thread_name)
        worker.job_event.connect(self._on_event)
        worker.batches.connect(self._on_batches)
        worker.failed.connect(self.failed)
        worker.done.connect(self._on_worker_done)
        worker.finished.connect(self._on_worker_ended)
        self._worker = worker
        worker.start()
        self.running_changed.emit(True)

    def pause(self) -> None:
        if self._worker is not None and not self._paused:
            self._worker.pause()
            self._paused = True
            self.paused_changed.emit(True)

    def resume(self) -> None:
        if self._worker is not None and self._paused:
            self._worker.resume()
            self._paused = False
            self.paused_changed.emit(False)

    def stop(self) -> None:
        """Ask the job to end after the current batch (a training run saves a usable model)."""
        if self._worker is not None:
            self._worker.stop()
            if self._paused:
                self._worker.resume()  # a paused loop must wake up to see the stop
                self._paused = False
                self.paused_changed.emit(False)

    def shutdown(self, timeout_ms: int = 30000) -> bool:
        """Stop and wait (for closing the window). True if no thread is left running."""
        worker = self._worker
        if worker is None:
            return True
        self.stop()
        if not worker.wait(timeout_ms):
            log.error("%s thread did not stop within %d ms", self.thread_name, timeout_ms)
            return False
        # the worker's queued done() has not been delivered yet (we were blocked here)
        if worker.result is not None:
            self._deliver(worker.result)
        self._release()
        return True

    # -- hooks for subclasses (GUI thread) ----------------------------------------------------
    def _on_event(self, event) -> None:
        self.job_event.emit(event)

    def _on_batches(self, stats) -> None:
        self.batches.emit(stats)

    # -- internals (GUI thread) ---------------------------------------------------------------
    @Slot(object)
    def _on_worker_done(self, result) -> None:
        # a late notice from an earlier job's worker has another sender
        if self.sender() is self._worker:
            self._deliver(result)

    def _deliver(self, result) -> None:
        if not self._delivered:
            self._delivered = True
            self.finished.emit(result)

    @Slot()
    def _on_worker_ended(self) -> None:
        # a stale notice (after shutdown() or for an earlier job) finds nothing to do
        if self.sender() is self._worker:
            self._release()

    def _release(self) -> None:
        # the live set (tlgui.workers.base) keeps the worker until its thread has ended
        self._worker = None
        self._paused = False
        self.running_changed.emit(False)
