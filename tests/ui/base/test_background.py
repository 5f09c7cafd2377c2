"""TaskRunner: a job's result queued before a cancel is not delivered after it."""

from PySide6.QtCore import QCoreApplication

from tlgui.ui.base.background import TaskRunner


def test_result_emitted_before_cancel_is_dropped(qtbot):
    runner = TaskRunner()
    got = []

    def work(job):
        return 42

    job = runner.start(work, got.append, name="race")
    job.wait(5000)
    # the result is queued for the GUI thread, but the panel closes first
    runner.shutdown()
    QCoreApplication.processEvents()  # the queued result is delivered now, if it ever would be
    assert got == []


def test_results_are_delivered_normally(qtbot):
    runner = TaskRunner()
    got, progress = [], []

    def work(job):
        job.report(0.5)
        return "done"

    runner.start(work, got.append, on_progress=progress.append, name="ok")
    qtbot.waitUntil(lambda: got == ["done"], timeout=20000)
    assert progress == [0.5]
    runner.shutdown()


def test_on_ended_is_called_for_a_job_that_ended_before_start_returned(qtbot):
    # Connecting job.finished after start() missed jobs that ended first (an offline download
    # under load); on_ended is connected before the thread starts.
    runner = TaskRunner()
    ended = []
    job = runner.start(lambda job: None, None, on_ended=lambda: ended.append(True), name="instant")
    assert job.wait(20000)  # the thread has ended and emitted finished before anyone else connects
    qtbot.waitUntil(lambda: ended == [True], timeout=20000)


def test_panels_are_not_left_busy_by_a_job_that_ends_at_once(qtbot, monkeypatch):
    from tlgui.ui.dialogs.weights_dialog import WeightsLibraryDialog

    original = TaskRunner.start

    def start_and_let_it_end(self, fn, *args, **kwargs):  # the worst case of the race
        job = original(self, fn, *args, **kwargs)
        job.wait(20000)
        return job

    monkeypatch.setattr(TaskRunner, "start", start_and_let_it_end)
    dialog = WeightsLibraryDialog()
    qtbot.addWidget(dialog)
    with qtbot.waitSignal(dialog.operation_finished, timeout=20000):
        dialog.import_file("/nonexistent/weights.pth")
    qtbot.waitUntil(lambda: not dialog.busy(), timeout=20000)
    dialog.wait_idle()
