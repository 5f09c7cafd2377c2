"""The window's worker thread as Windows and macOS run it (issue 28, A.1, A.8): DataLoader workers
started with ``spawn`` from the training QThread, data and run under a non-ASCII path, an 8 MB
stack for the job threads (macOS gives threads 512 KB), and Apple's GPU offered by name."""

from __future__ import annotations

import json
import types
from pathlib import Path

import pytest
import torch
from PySide6.QtCore import QThread

from tests.core.learnable import image_folder
from tlgui.core.base.config import TrainConfig
from tlgui.core.base.events import RunResult
from tlgui.core.training.control import TrainControl
from tlgui.workers.jobs import JOB_STACK_BYTES
from tlgui.workers.training import TrainingController


@pytest.fixture
def controller(qtbot):
    c = TrainingController()
    yield c
    c.shutdown(60000)


def _run(qtbot, c: TrainingController, config: TrainConfig, resume: bool = False, control=None, timeout=300000):
    finished = []
    c.finished.connect(finished.append)
    with qtbot.waitSignal(c.running_changed, timeout=timeout, check_params_cb=lambda running: running is False):
        c.start(config, control or TrainControl(), resume=resume)
    return finished[-1]


def test_job_threads_get_an_8_mb_stack(qtbot, controller, tmp_path):
    seen = []

    def train(config, on_event=None, control=None):
        seen.append(QThread.currentThread().stackSize())
        return RunResult("completed", config.out, {"status": "completed"})

    controller.train_fn = train
    _run(qtbot, controller, TrainConfig(data="demo:target", model="smallcnn", out=str(tmp_path / "run")))
    assert JOB_STACK_BYTES == 8 * 1024 * 1024 and seen == [JOB_STACK_BYTES]


def test_background_jobs_get_the_same_stack(qtbot):
    from tlgui.ui.base.background import Job

    job = Job(lambda j: QThread.currentThread().stackSize(), name="stack")
    with qtbot.waitSignal(job.succeeded, timeout=30000) as got:
        job.start()
    job.wait()
    assert got.args == [JOB_STACK_BYTES]


@pytest.mark.timeout(900)
def test_spawned_workers_from_the_window_thread_under_a_non_ascii_path(qtbot, controller, tmp_path, monkeypatch):
    root = tmp_path / "Données" / "細胞 1"
    monkeypatch.setenv("TLGUI_HOME", str(root / "maison"))
    monkeypatch.setenv("TLGUI_MEMORY_BUDGET_MB", "0")  # read on demand: the DataLoader workers do the reading
    data = image_folder(root / "images", per_class=8)
    run = root / "runs" / "fenêtre"
    config = dict(data=str(data), model="smallcnn", epochs=2, batch_size=8, num_workers=2, out=str(run))

    control = TrainControl()
    controller.epoch_finished.connect(lambda stats: control.stop())  # Stop after epoch 1, as a user would
    stopped = _run(qtbot, controller, TrainConfig(**config), control=control)
    assert stopped.status == "stopped", stopped
    controller.epoch_finished.disconnect()

    resumed = _run(qtbot, controller, TrainConfig(**config), resume=True)
    assert resumed.status == "completed", resumed
    summary = json.loads((run / "summary.json").read_text(encoding="utf-8"))
    assert summary["epochs_completed"] == 2
    assert json.loads((run / "config.json").read_text(encoding="utf-8"))["num_workers"] == 2
    assert Path(resumed.run_dir) == run


def test_apples_gpu_is_offered_by_name_and_chosen_as_mps(qtbot, monkeypatch):
    from tlgui.core.models.device import MPS_NAME
    from tlgui.ui.pages.train.training_panel import TrainingPanel
    from tlgui.ui.shell.startup import gpu_name

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends, "mps", types.SimpleNamespace(is_available=lambda: True), raising=False)
    assert gpu_name() == MPS_NAME
    panel = TrainingPanel()
    qtbot.addWidget(panel)
    panel.set_devices(gpu_name())
    items = {panel.device.itemText(i): panel.device.itemData(i) for i in range(panel.device.count())}
    assert items == {f"Automatic (GPU: {MPS_NAME})": "auto", f"GPU: {MPS_NAME}": "mps", "CPU": "cpu"}
    panel.set_values({"device": "mps"})
    assert panel.values()["device"] == "mps"

