"""tlgui.workers.base: one live set for every worker thread, and every worker is its job's Control.

Tests wait on signals and conditions, never on time: the jobs here block on events the test sets.
"""

from __future__ import annotations

import gc
import threading

import pytest
import shiboken6
from PySide6.QtWidgets import QWidget

from tlgui.core.base.cancel import Cancelled, PausableControl, stop_check
from tlgui.core.training.control import TrainControl
from tlgui.ui.base.background import Job, TaskRunner
from tlgui.workers import registry
from tlgui.workers.base import WorkerBase, live_workers, wait_for_workers
from tlgui.workers.jobs import JobController

WAIT_MS = 20000


def _until_stopped(job: Job) -> str:
    """A job that runs batches until core's stop_check sees the job's Control stopped."""
    check = stop_check(job)
    job.report("running")
    ran = threading.Event()
    while not check():
        ran.wait(0.001)  # one "batch"
    return "stopped"


def test_a_job_that_raises_reports_failed_then_finished(qtbot):
    order: list[str] = []

    def boom(job: Job) -> None:
        raise ValueError("no such thing")

    job = Job(boom, name="raises")
    job.succeeded.connect(lambda result: order.append("succeeded"))
    job.failed.connect(lambda exc: order.append(f"failed: {exc}"))
    job.finished.connect(lambda: order.append("finished"))
    with qtbot.waitSignal(job.finished, timeout=WAIT_MS):
        job.start()
    assert order == ["failed: no such thing", "finished"]
    assert job not in live_workers() and not job.is_running()


def test_a_controller_job_that_raises_reports_one_line_then_finished(qtbot):
    order: list[object] = []
    controller = JobController()

    def job(on_event):
        raise PermissionError(13, "Permission denied", "/data/x.png")

    controller.failed.connect(lambda message, details: order.append(("failed", message, "Traceback" in details)))
    controller.finished.connect(lambda result: order.append(("finished", result)))
    controller.running_changed.connect(lambda running: order.append(("running", running)))
    with qtbot.waitSignal(controller.running_changed, timeout=WAIT_MS, check_params_cb=lambda running: not running):
        controller.start_job(job, TrainControl(), lambda exc, message, stopped: "failed result")
    assert order == [("running", True), ("failed", "Permission denied: /data/x.png", True),
                     ("finished", "failed result"), ("running", False)]
    assert not controller.is_running() and controller.thread is None


def test_the_live_set_holds_a_worker_until_its_thread_has_ended(qtbot):
    gate = threading.Event()
    job = Job(lambda job: gate.wait(WAIT_MS / 1000), name="held")
    job.start()
    thread = job.qthread
    assert job in live_workers() and thread in registry.live_threads()
    assert job.is_running() and thread is not None and thread.objectName() == "tlgui-held"
    with qtbot.waitSignal(job.finished, timeout=WAIT_MS):
        gate.set()
    assert job not in live_workers() and not thread.isRunning()


def test_a_worker_starts_once(qtbot):
    job = Job(lambda job: None, name="once")
    with qtbot.waitSignal(job.finished, timeout=WAIT_MS):
        job.start()
    with pytest.raises(RuntimeError, match="already started"):
        job.start()


def test_deleting_the_owner_mid_job_neither_crashes_nor_delivers(qtbot):
    owner = QWidget()
    runner = TaskRunner(owner)
    gate = threading.Event()
    got: list[object] = []
    ended: list[bool] = []
    runner.start(lambda job: gate.wait(WAIT_MS / 1000), got.append, got.append, name="orphan",
                 on_ended=lambda: ended.append(True))
    shiboken6.delete(owner)  # the panel goes, and its runner with it, while the job still runs
    assert not shiboken6.isValid(runner)
    del owner, runner
    gc.collect()
    # nobody but the live set holds the job now, and its thread runs on
    (job,) = [w for w in live_workers() if w.thread_name == "tlgui-orphan"]
    assert job.is_running()
    with qtbot.waitSignal(job.finished, timeout=WAIT_MS):
        gate.set()
    assert got == [] and ended == [True] and job not in live_workers()


def test_a_jobs_control_stop_is_seen_by_core(qtbot):
    assert isinstance(Job(lambda job: None), PausableControl) and isinstance(TrainControl(), PausableControl)
    runner = TaskRunner()
    results: list[str] = []
    progress: list[str] = []
    job = runner.start(_until_stopped, results.append, on_progress=progress.append, name="stoppable")
    qtbot.waitUntil(lambda: progress == ["running"], timeout=WAIT_MS)
    assert not job.stopped and not job.cancelled()
    seen: list[str] = []
    job.succeeded.connect(seen.append)  # the runner drops a cancelled job's result; the job still sends none
    with qtbot.waitSignal(job.finished, timeout=WAIT_MS):
        job.cancel()
    assert job.stopped and job.cancelled() and results == [] and seen == []


def test_a_job_that_honours_stop_by_raising_cancelled_reports_no_failure(qtbot):
    def cancellable(job: Job) -> None:
        check = stop_check(job)
        job.report("running")
        while not check():
            threading.Event().wait(0.001)
        raise Cancelled("stopped between batches")

    failures: list[BaseException] = []
    job = Job(cancellable, name="cancelled")
    job.failed.connect(failures.append)
    with qtbot.waitSignal(job.progressed, timeout=WAIT_MS):
        job.start()
    with qtbot.waitSignal(job.finished, timeout=WAIT_MS):
        job.stop()
    assert failures == []


def test_waiting_for_workers_stops_them_first(qtbot):
    job = Job(_until_stopped, name="at-exit")
    with qtbot.waitSignal(job.progressed, timeout=WAIT_MS):
        job.start()
    assert wait_for_workers(WAIT_MS)  # what the interpreter's exit does
    assert job.stopped and not job.is_running()
    qtbot.waitUntil(lambda: job not in live_workers(), timeout=WAIT_MS)


def test_pause_and_resume_through_the_worker(qtbot):
    controller = JobController()
    control = TrainControl()
    paused = threading.Event()

    def job(on_event):
        while not control.stopped:
            if control.paused:
                paused.set()
            control.wait_if_paused()
            threading.Event().wait(0.001)
        return "stopped"

    finished: list[object] = []
    controller.finished.connect(finished.append)
    controller.start_job(job, control, lambda exc, message, stopped: None)
    controller.pause()
    assert controller.is_paused() and control.paused
    qtbot.waitUntil(paused.is_set, timeout=WAIT_MS)
    with qtbot.waitSignal(controller.running_changed, timeout=WAIT_MS):
        controller.stop()  # wakes the paused loop, which then sees the stop
    assert finished == ["stopped"] and not control.paused


def test_a_worker_whose_own_handler_raises_still_ends(qtbot, caplog):
    class Careless(WorkerBase):
        def work(self) -> None:
            raise RuntimeError("a bug in a worker")

    worker = Careless("tlgui-careless")
    with qtbot.waitSignal(worker.finished, timeout=WAIT_MS):
        worker.start()
    assert worker not in live_workers()
    assert any("a bug in a worker" in record.getMessage() for record in caplog.records)
