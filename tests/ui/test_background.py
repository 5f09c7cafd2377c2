"""TaskRunner: a job's result queued before a cancel is not delivered after it."""

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
    qtbot.wait(50)
    assert got == []


def test_results_are_delivered_normally(qtbot):
    runner = TaskRunner()
    got, progress = [], []

    def work(job):
        job.report(0.5)
        return "done"

    runner.start(work, got.append, on_progress=progress.append, name="ok")
    qtbot.waitUntil(lambda: got == ["done"], timeout=5000)
    assert progress == [0.5]
    runner.shutdown()
