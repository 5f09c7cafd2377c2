"""The training worker and its controller: throttled signals, errors, pause, stop, shutdown."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest
from PySide6.QtCore import QCoreApplication, QThread

from tests.fakes import holding_control
from tlgui.core.base.cancel import Cancelled
from tlgui.core.base.config import TrainConfig
from tlgui.core.base.errors import TrainingError, WeightsError
from tlgui.core.base.events import BatchStats, EpochStats, Message, RunResult, RunStarted, Stage
from tlgui.core.training.control import TrainControl
from tlgui.workers import registry
from tlgui.workers.training import TrainingController, describe_exception, new_run_dir


def fake_train(batches: int = 200, epochs: int = 2, delay: float = 0.002, fail: BaseException | None = None,
               after_batch: dict | None = None):
    """A stand-in for core.train: same events and control protocol, no torch.

    ``after_batch``: {batch number: callable} run in the worker after that batch's event
    (a test holds the worker there until it has done what it needs, instead of racing it).
    """
    threads: list = []

    def train(config, on_event=None, control=None):
        threads.append(threading.current_thread())
        on_event(Stage("data", "Loading data"))
        on_event(Message("hello"))
        on_event(RunStarted(config.out, "CPU", epochs, batches, 10, 5, ("a", "b"), 10, 0))
        status = "completed"
        for epoch in range(1, epochs + 1):
            for i in range(1, batches + 1):
                control.wait_if_paused()
                if control.stopped:
                    status = "stopped"
                    break
                time.sleep(delay)
                on_event(BatchStats(epoch, i, batches, 1.0 / i, 0.5, 1e-3, 0.0))
                if after_batch and i in after_batch:
                    after_batch[i]()
                if fail is not None and i == 5:
                    raise fail
            if status == "stopped":
                break
            on_event(EpochStats(epoch, epochs, 1.0, 0.5, 1.0, 0.5, 1e-3, 1.0, 1.0))
        return RunResult(status, config.out, {"status": status})

    train.threads = threads
    return train


@pytest.fixture
def controller(qtbot):
    c = TrainingController()
    yield c
    c.shutdown(10000)


def config(tmp_path, **kw) -> TrainConfig:
    kw.setdefault("out", str(tmp_path / "run"))
    return TrainConfig(data="demo:target", model="smallcnn", **kw)


class Recorder:
    def __init__(self, c: TrainingController):
        self.batches: list[list] = []
        self.epochs: list = []
        self.failed: list = []
        self.finished: list = []
        self.stages: list = []
        self.started: list = []
        self.running: list = []
        c.batches.connect(self.batches.append)
        c.epoch_finished.connect(self.epochs.append)
        c.failed.connect(lambda m, d: self.failed.append((m, d)))
        c.finished.connect(self.finished.append)
        c.stage.connect(self.stages.append)
        c.run_started.connect(self.started.append)
        c.running_changed.connect(self.running.append)


def seen(rec: Recorder) -> int:
    return sum(len(b) for b in rec.batches)


def run_to_end(qtbot, c: TrainingController, cfg, timeout=20000) -> None:
    with qtbot.waitSignal(c.running_changed, timeout=timeout, check_params_cb=lambda r: r is False):
        c.start(cfg, TrainControl())


def test_events_arrive_batched_and_throttled(qtbot, controller, tmp_path):
    train = fake_train(batches=300, epochs=2, delay=0.002)
    controller.train_fn = train
    # an interval longer than the run: what remains are the flushes before each epoch's
    # event and at the end, however slow or fast the machine is
    controller.emit_hz = 1e-6
    rec = Recorder(controller)
    run_to_end(qtbot, controller, config(tmp_path))
    assert train.threads and train.threads[0] is not threading.main_thread()
    assert sum(len(b) for b in rec.batches) == 600  # every batch arrives...
    # ...in one signal per epoch (flushed before its EpochStats), none in between
    assert [len(b) for b in rec.batches] == [300, 300]
    assert len(rec.epochs) == 2
    assert rec.stages[0].name == "data" and rec.started[0].batches_per_epoch == 300
    assert [r.status for r in rec.finished] == ["completed"]
    assert rec.running == [True, False]
    assert not controller.is_running()


def test_a_failure_is_reported_then_finished(qtbot, controller, tmp_path):
    controller.train_fn = fake_train(batches=20, fail=TrainingError("the loss became nan at epoch 1"))
    rec = Recorder(controller)
    run_to_end(qtbot, controller, config(tmp_path))
    (message, details), = rec.failed
    assert message == "the loss became nan at epoch 1"
    assert "Traceback" in details and "TrainingError" in details
    assert rec.finished[0].status == "failed" and rec.finished[0].message == message
    assert seen(rec) == 5  # every batch before the failure (it raised after batch 5) was flushed


@pytest.mark.parametrize(
    ("exc", "words"),
    [
        (MemoryError(), "out of memory"),
        (RuntimeError("CUDA out of memory. Tried to allocate 2 GiB"), "out of memory"),
        (FileNotFoundError(2, "No such file", "/data/x.png"), "/data/x.png"),
        (WeightsError("weight file not found: /w.pth"), "weight file not found: /w.pth"),
        (ZeroDivisionError("division by zero"), "unexpected error"),
    ],
)
def test_plain_language_messages(exc, words):
    text = describe_exception(exc)
    assert words in text
    assert "Traceback" not in text


def test_pause_holds_and_resume_continues(qtbot, controller, tmp_path):
    paused = threading.Event()
    # the worker waits after batch 10 until Pause was pressed: the pause lands at batch 11
    # however fast or loaded the machine is
    controller.train_fn = fake_train(batches=400, epochs=1, delay=0, after_batch={10: lambda: paused.wait(30)})
    controller.emit_hz = 0  # every batch its own signal, so the counts below are exact
    rec = Recorder(controller)
    control = holding_control()
    controller.start(config(tmp_path), control)
    qtbot.waitUntil(lambda: seen(rec) == 10, timeout=30000)
    controller.pause()
    paused.set()
    assert controller.is_paused() and control.paused
    qtbot.waitUntil(control.holding.is_set, timeout=30000)  # the loop is held before batch 11
    QCoreApplication.processEvents()  # deliver whatever the worker posted before it was held
    assert seen(rec) == 10 and control.holding.is_set()  # held: nothing after batch 10
    assert controller.is_running() and not rec.finished
    with qtbot.waitSignal(controller.running_changed, timeout=10000):
        controller.resume()
    assert sum(len(b) for b in rec.batches) == 400  # went on where it left off
    last = [b.batch for batch in rec.batches for b in batch]
    assert last == list(range(1, 401))
    assert rec.finished[0].status == "completed"


def test_stop_while_paused_ends_the_run(qtbot, controller, tmp_path):
    paused = threading.Event()
    controller.train_fn = fake_train(batches=1000, epochs=1, delay=0, after_batch={5: lambda: paused.wait(30)})
    controller.emit_hz = 0
    rec = Recorder(controller)
    control = holding_control()
    controller.start(config(tmp_path), control)
    qtbot.waitUntil(lambda: seen(rec) == 5, timeout=30000)
    controller.pause()
    paused.set()
    qtbot.waitUntil(control.holding.is_set, timeout=30000)  # really paused, not merely asked
    with qtbot.waitSignal(controller.running_changed, timeout=10000):
        controller.stop()
    assert [r.status for r in rec.finished] == ["stopped"]
    assert seen(rec) == 5  # the stop woke the held loop, which ended without another batch
    assert not controller.is_paused()


def test_stop_before_the_first_batch_is_not_an_error(qtbot, controller, tmp_path):
    def slow_preparation(config, on_event=None, control=None):
        on_event(Stage("pretrain", "Pretraining the demo source model"))
        while not control.stopped:
            time.sleep(0.01)
        raise Cancelled("pretraining the demo source model was stopped before it finished")

    controller.train_fn = slow_preparation
    rec = Recorder(controller)
    controller.start(config(tmp_path), TrainControl())
    qtbot.waitUntil(lambda: len(rec.stages) == 1, timeout=20000)
    with qtbot.waitSignal(controller.running_changed, timeout=20000):
        controller.stop()
    assert not rec.failed
    assert rec.finished[0].status == "stopped" and "nothing was saved" in rec.finished[0].message


def test_shutdown_stops_quits_and_waits(qtbot, controller, tmp_path):
    controller.train_fn = fake_train(batches=100_000, epochs=1, delay=0.001)
    rec = Recorder(controller)
    controller.start(config(tmp_path), TrainControl())
    thread = controller.thread
    qtbot.waitUntil(lambda: len(rec.batches) > 0, timeout=20000)
    assert thread.isRunning() and thread in registry.live_threads()
    assert controller.shutdown(30000)
    assert not controller.is_running()
    # the result comes out at once, exactly once (the queued copy is dropped)
    assert [r.status for r in rec.finished] == ["stopped"]
    assert rec.running == [True, False]
    QCoreApplication.processEvents()  # deliver the worker's queued finished(): it must be dropped
    assert len(rec.finished) == 1 and rec.running == [True, False]
    # no thread of ours is left running
    assert not [t for t in registry.live_threads() if isinstance(t, QThread) and t.isRunning()]


def test_a_second_start_is_refused(qtbot, controller, tmp_path):
    controller.train_fn = fake_train(batches=100_000, epochs=1, delay=0.001)
    controller.start(config(tmp_path), TrainControl())
    with pytest.raises(RuntimeError, match="training is already running"):
        controller.start(config(tmp_path, out=str(tmp_path / "b")), TrainControl())
    with qtbot.waitSignal(controller.running_changed, timeout=20000):
        controller.stop()


def test_new_run_dir_is_unique(tmp_path):
    first = new_run_dir(tmp_path, "resnet18 / v2")
    second = new_run_dir(tmp_path, "resnet18 / v2")  # same second, same label
    assert first != second and first.is_dir() and second.is_dir()
    assert not any(first.iterdir()) and not any(second.iterdir())
    assert first.parent == tmp_path and "resnet18_v2" in first.name


def test_new_run_dir_is_unique_across_processes(tmp_path):
    """Two processes naming a run in the same second get two folders (exclusive mkdir)."""
    import subprocess
    import sys

    code = ("import sys; from tlgui.workers.training import new_run_dir; "
            "print(new_run_dir(sys.argv[1], 'race'))")
    env = {**__import__("os").environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    procs = [subprocess.Popen([sys.executable, "-c", code, str(tmp_path)], stdout=subprocess.PIPE, text=True,
                              env=env) for _ in range(4)]
    names = [p.communicate(timeout=120)[0].strip() for p in procs]
    assert all(p.returncode == 0 for p in procs)
    assert len(set(names)) == 4 and all(Path(n).is_dir() for n in names)


def test_real_core_training_through_the_worker(qtbot, controller, tmp_path):
    """The real engine: two short epochs of the demo from scratch, in the worker thread."""
    rec = Recorder(controller)
    cfg = config(tmp_path, val_data="demo:target", weights="none", epochs=2, batch_size=32)
    run_to_end(qtbot, controller, cfg, timeout=60000)
    assert not rec.failed, rec.failed
    result = rec.finished[0]
    assert result.status == "completed"
    run = Path(result.run_dir)
    summary = json.loads((run / "summary.json").read_text())
    assert summary["epochs_completed"] == 2
    import torch

    checkpoint = torch.load(run / "model.pt", weights_only=True)  # a usable model, the demo's classes
    assert checkpoint["architecture"] == "smallcnn" and len(checkpoint["classes"]) == 6
    assert list(checkpoint["classes"]) == list(rec.started[0].classes)
    assert len(rec.epochs) == 2
    assert sum(len(b) for b in rec.batches) == 2 * rec.started[0].batches_per_epoch


def test_an_error_after_stop_is_reported_not_called_a_stop(qtbot, controller, tmp_path):
    def full_disk_while_saving(config, on_event=None, control=None):
        on_event(Stage("data", "Loading data"))
        while not control.stopped:
            control.wait_if_paused()
            time.sleep(0.005)  # a stand-in for a batch
        raise OSError(28, "No space left on device")  # saving model.pt after the Stop

    controller.train_fn = full_disk_while_saving
    rec = Recorder(controller)
    controller.start(config(tmp_path), TrainControl())
    qtbot.waitUntil(lambda: len(rec.stages) == 1, timeout=10000)
    with qtbot.waitSignal(controller.running_changed, timeout=10000):
        controller.stop()
    assert rec.failed and "No space left on device" in rec.failed[0][0]
    assert rec.finished[0].status == "failed" and "nothing was saved" not in (rec.finished[0].message or "")


def test_resume_in_a_folder_in_use_is_refused_with_the_cli_message(qtbot, controller, tmp_path):
    """The window's Resume (Runs page) goes through the controller: same lock, same words."""
    from tlgui.core.results.run_lock import RunLock
    from tlgui.core.training.loop import train

    cfg = config(tmp_path, epochs=2, device="cpu", max_train_images=40)
    control = TrainControl()
    train(cfg, lambda e: isinstance(e, EpochStats) and control.stop(), control)
    rec = Recorder(controller)
    with RunLock(tmp_path / "run"):  # another trainer holds it
        with qtbot.waitSignal(controller.running_changed, timeout=60000, check_params_cb=lambda r: r is False):
            controller.start(TrainConfig.load(tmp_path / "run" / "config.json"), TrainControl(), resume=True)
    assert rec.failed and "is in use" in rec.failed[0][0] and str(__import__("os").getpid()) in rec.failed[0][0]
    assert rec.finished[0].status == "failed"
