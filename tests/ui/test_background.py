"""TaskRunner: a job's result queued before a cancel is not delivered after it."""

from PySide6.QtCore import QCoreApplication

from tlgui.ui.background import TaskRunner


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
