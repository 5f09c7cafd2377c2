"""Short background jobs for panels (open a data set, decode thumbnails, read model files).

Each job runs ``fn(job)`` on its own registered QThread; results come back as queued
signals on the GUI thread. A job checks ``job.cancelled()`` between steps and may send
``job.report(obj)`` progress. Threads are parentless and kept alive here until they end,
so a panel that is deleted mid-job never destroys a running QThread; panels call
:meth:`TaskRunner.shutdown` when they close.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QThread, Signal, Slot

from tlgui.workers import registry
from tlgui.workers.jobs import JOB_STACK_BYTES

_live: set[QThread] = set()  # keeps running job threads referenced until they finish


class _Reaper(QObject):
    """Lives on the GUI thread and drops a job's last reference once its thread ended."""

    @Slot()
    def reap(self) -> None:
        thread = self.sender()
        if isinstance(thread, QThread):
            # "finished" is sent just before the thread really ends; let it end first, or
            # dropping the last reference would destroy a running QThread
            thread.wait()
            _live.discard(thread)


_reaper: _Reaper | None = None


class Job(QThread):
    succeeded = Signal(object)
    failed = Signal(object)  # the exception
    progressed = Signal(object)

    def __init__(self, fn: Callable[[Job], Any], name: str = "job"):
        super().__init__()
        self.setObjectName(f"tlgui-{name}")
        self.setStackSize(JOB_STACK_BYTES)  # macOS gives threads 512 KB: too little for model code
        self._fn = fn
        self._cancel = threading.Event()

    def cancel(self) -> None:
        self._cancel.set()

    def cancelled(self) -> bool:
        return self._cancel.is_set()

    def report(self, payload: Any) -> None:
        if not self._cancel.is_set():
            self.progressed.emit(payload)

    def run(self) -> None:  # runs on the new thread
        try:
            result = self._fn(self)
        except BaseException as exc:  # noqa: BLE001 - errors never escape a thread
            if not self._cancel.is_set():
                self.failed.emit(exc)
        else:
            if not self._cancel.is_set():
                self.succeeded.emit(result)


class TaskRunner(QObject):
    """Starts jobs for one panel and can cancel and wait for all of them."""

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self._jobs: list[Job] = []

    def start(
        self,
        fn: Callable[[Job], Any],
        on_done: Callable[[Any], None] | None,
        on_error: Callable[[BaseException], None] | None = None,
        on_progress: Callable[[Any], None] | None = None,
        name: str = "job",
        on_ended: Callable[[], None] | None = None,
    ) -> Job:
        """Start ``fn(job)`` on a new thread. ``on_ended`` runs on the GUI thread once the job's
        thread has ended, cancelled or not. It is connected here, before the thread starts: a
        caller that connected ``job.finished`` after ``start()`` returned missed it whenever the
        job ended first (an offline download under load), and stayed busy for ever."""
        global _reaper
        if _reaper is None:
            _reaper = _Reaper()
        job = Job(fn, name)
        # results come through the runner (a GUI-thread QObject: queued calls), which drops
        # those of jobs cancelled after they emitted but before delivery, e.g. by shutdown()
        job.callbacks = (on_done, on_error, on_progress)
        job.succeeded.connect(self._deliver_done)
        job.failed.connect(self._deliver_error)
        job.progressed.connect(self._deliver_progress)
        job.finished.connect(_reaper.reap)
        job.finished.connect(self._forget)
        if on_ended is not None:
            job.finished.connect(on_ended)
        registry.register(job)
        _live.add(job)
        self._jobs.append(job)
        job.start()
        return job

    def busy(self) -> bool:
        return any(job.isRunning() for job in self._jobs)

    def cancel_all(self) -> None:
        for job in self._jobs:
            job.cancel()

    def wait(self, msecs: int = 10000) -> bool:
        """Block until every job ended (True) or ``msecs`` passed (False)."""
        ok = True
        for job in list(self._jobs):
            ok = job.wait(msecs) and ok
        return ok

    def shutdown(self, msecs: int = 10000) -> None:
        self.cancel_all()
        self.wait(msecs)

    def _callback(self, index: int):
        job = self.sender()
        if not isinstance(job, Job) or job.cancelled():
            return None
        return job.callbacks[index]

    @Slot(object)
    def _deliver_done(self, result) -> None:
        if (callback := self._callback(0)) is not None:
            callback(result)

    @Slot(object)
    def _deliver_error(self, exc) -> None:
        if (callback := self._callback(1)) is not None:
            callback(exc)

    @Slot(object)
    def _deliver_progress(self, payload) -> None:
        if (callback := self._callback(2)) is not None:
            callback(payload)

    @Slot()
    def _forget(self) -> None:
        self._jobs = [job for job in self._jobs if job.isRunning()]
