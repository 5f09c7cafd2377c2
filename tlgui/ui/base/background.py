"""Short background jobs for panels (open a data set, decode thumbnails, read model files).

Each job runs ``fn(job)`` as a worker of :mod:`tlgui.workers.base` (its own thread, kept in the one
live set until it ends, so a panel deleted mid-job never destroys a running QThread); results come
back as queued calls on the GUI thread. The job is the job's Control: ``fn`` hands ``job`` to core as
its stop flag (or checks ``job.cancelled()`` between steps) and may send ``job.report(obj)`` progress.
Panels call :meth:`TaskRunner.shutdown` when they close.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, Signal, Slot

from tlgui.workers.base import WorkerBase

__all__ = ["Job", "TaskRunner"]

Callbacks = tuple[Callable[[Any], None] | None, Callable[[BaseException], None] | None, Callable[[Any], None] | None]


class Job(WorkerBase):
    """Runs ``fn(job)``: ``succeeded(result)`` or ``failed(exception)``, then ``finished``.

    The job is a ``core.base.cancel.PausableControl``; ``cancel()`` and ``cancelled()`` are the
    panels' words for ``stop()`` and ``stopped``. After a cancel nothing more is sent but
    ``finished``: a cancelled job's late result or error is not wanted.
    """

    succeeded = Signal(object)
    failed = Signal(object)  # the exception
    progressed = Signal(object)

    def __init__(self, fn: Callable[[Job], Any], name: str = "job") -> None:
        super().__init__(f"tlgui-{name}")
        self._fn = fn
        self.callbacks: Callbacks = (None, None, None)

    def cancel(self) -> None:
        self.stop()

    def cancelled(self) -> bool:
        return self.stopped

    def report(self, payload: Any) -> None:
        if not self.stopped:
            self.progressed.emit(payload)

    def work(self) -> None:  # runs on the job's thread
        try:
            result = self._fn(self)
        except BaseException as exc:  # noqa: BLE001 - errors never escape a thread
            if not self.stopped:
                self.failed.emit(exc)
        else:
            if not self.stopped:
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
        job = Job(fn, name)
        # results come through the runner (a GUI-thread QObject: queued calls), which drops
        # those of jobs cancelled after they emitted but before delivery, e.g. by shutdown()
        job.callbacks = (on_done, on_error, on_progress)
        job.succeeded.connect(self._deliver_done)
        job.failed.connect(self._deliver_error)
        job.progressed.connect(self._deliver_progress)
        job.finished.connect(self._forget)
        if on_ended is not None:
            job.finished.connect(on_ended)
        self._jobs.append(job)
        job.start()
        return job

    def busy(self) -> bool:
        return any(job.is_running() for job in self._jobs)

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

    def _callback(self, index: int) -> Callable[[Any], None] | None:
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
        self._jobs = [job for job in self._jobs if job.is_running()]
