"""The one way the window runs work off the GUI thread (superqt's ``WorkerBase``, on QThreads).

A :class:`WorkerBase` is a parent-less QObject that lives on the GUI thread; :meth:`WorkerBase.start`
gives it a fresh QThread (the only threads the window creates) whose ``run`` calls the worker's
:meth:`WorkerBase.work`. Signals a worker emits from ``work`` reach GUI-thread receivers queued, in
order. Every started worker sits in ONE live set until its thread has really ended, so a panel deleted
mid-job never destroys a running QThread; then ``finished`` is emitted on the GUI thread, after every
signal the work sent. The interpreter's exit asks the live workers to stop and waits for them.

Each worker is also the job's stop protocol (a ``core.base.cancel.PausableControl``): the window calls
``stop()`` (``pause()``, ``resume()``), and the work hands the worker itself to core as its Control.

The worker stays on the GUI thread (no ``moveToThread``) so its end-of-thread bookkeeping, and the
last reference to it, happen there: Qt objects are then never destroyed off their thread.
"""

from __future__ import annotations

import atexit
import logging
import traceback
from collections.abc import Callable

from PySide6.QtCore import QObject, QThread, Signal, Slot

from tlgui.core.base.cancel import ControlFlags, PausableControl

from . import registry

log = logging.getLogger(__name__)

# macOS gives secondary threads 512 KB of stack, and numeric code (autograd, BLAS, deep models)
# can overflow it and crash the process; 8 MB is what the main thread and Linux threads get.
JOB_STACK_BYTES = 8 * 1024 * 1024
EXIT_WAIT_MS = 30000

_live: set[WorkerBase] = set()  # started workers, referenced until their thread has ended


class _Thread(QThread):
    """A QThread that runs one callable: its worker's work (the only QThread subclass)."""

    def __init__(self, target: Callable[[], None], name: str) -> None:
        super().__init__()
        self.setObjectName(name)
        self.setStackSize(JOB_STACK_BYTES)
        self._target: Callable[[], None] | None = target

    def run(self) -> None:  # runs on the new thread
        target, self._target = self._target, None  # the worker's last reference stays in the live set
        try:
            if target is not None:
                target()
        except BaseException:  # noqa: BLE001 - a worker's own handler failed; nothing may escape a thread
            log.error("a worker raised past its own handler:\n%s", traceback.format_exc())


class WorkerBase(QObject):
    """Work for one fresh thread; subclasses implement :meth:`work` and their own signals.

    ``finished`` is emitted once, on the GUI thread, when the thread has ended (stopped, failed or
    done) and the worker has left the live set. A worker starts once.
    """

    finished = Signal()

    def __init__(self, thread_name: str = "tlgui-job", control: PausableControl | None = None) -> None:
        super().__init__()  # parent-less: a deleted panel must not take a running worker with it
        self.thread_name = thread_name
        self.control: PausableControl = control if control is not None else ControlFlags()
        self._qthread: QThread | None = None

    def work(self) -> None:
        """The job; runs on the worker's thread. Must not raise (report errors by signal)."""
        raise NotImplementedError

    # -- the thread (GUI thread) -------------------------------------------------------------
    def start(self) -> None:
        """Run :meth:`work` on a new registered thread; connect to signals before calling this."""
        if self._qthread is not None:
            raise RuntimeError(f"{self.thread_name} was already started")
        thread = _Thread(self.work, self.thread_name)
        thread.finished.connect(self._on_thread_finished)  # queued: the worker lives on the GUI thread
        self._qthread = thread
        registry.register(thread)
        _live.add(self)
        thread.start()

    @property
    def qthread(self) -> QThread | None:
        """The worker's thread once started (QObject.thread() is the GUI thread the worker lives on)."""
        return self._qthread

    def is_running(self) -> bool:
        return self._qthread is not None and self._qthread.isRunning()

    def wait(self, msecs: int | None = None) -> bool:
        """Block until the thread has ended (True) or ``msecs`` passed (False); True if never started."""
        if self._qthread is None:
            return True
        return self._qthread.wait() if msecs is None else self._qthread.wait(msecs)

    @Slot()
    def _on_thread_finished(self) -> None:
        thread = self._qthread
        if thread is None or self not in _live:
            return
        # QThread sends "finished" just before the thread really ends: let it end before the
        # worker (and with it the QThread) may lose its last reference
        thread.wait()
        _live.discard(self)
        self.finished.emit()

    # -- the stop protocol (core.base.cancel.PausableControl) ------------------------------------
    def stop(self) -> None:
        self.control.stop()

    def pause(self) -> None:
        self.control.pause()

    def resume(self) -> None:
        self.control.resume()

    @property
    def stopped(self) -> bool:
        return self.control.stopped

    @property
    def paused(self) -> bool:
        return self.control.paused

    def wait_if_paused(self) -> None:
        self.control.wait_if_paused()


def live_workers() -> list[WorkerBase]:
    """The workers started and not yet ended (their thread may just have ended, not yet reaped)."""
    return list(_live)


def wait_for_workers(msecs: int = EXIT_WAIT_MS) -> bool:
    """Ask every live worker to stop and wait for each up to ``msecs``; True if none is left running."""
    workers = live_workers()
    for worker in workers:
        worker.stop()
    return all([worker.wait(msecs) for worker in workers])


@atexit.register
def _wait_at_exit() -> None:
    # destroying a running QThread aborts the process: the interpreter must not exit under one
    wait_for_workers()
