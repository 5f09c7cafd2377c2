"""Stopping a run and resuming it continues exactly where it left off."""

import csv
import json

import pytest
import torch

from tlgui.cli import main as cli
from tlgui.core.base.config import TrainConfig
from tlgui.core.base.events import EpochStats
from tlgui.core.training.control import TrainControl
from tlgui.core.training.loop import train

from .learnable import image_folder


@pytest.fixture
def data(tmp_path):
    return image_folder(tmp_path / "data", per_class=12)


def cfg(data, out, **kw):
    return TrainConfig(**{"data": str(data), "model": "smallcnn", "out": str(out), "epochs": 4,
                          "batch_size": 8, "seed": 2, "schedule": "onecycle", "augment": "flip", **kw})


def stop_after_epoch(n):
    control = TrainControl()

    def on_event(event):
        if isinstance(event, EpochStats) and event.epoch == n:
            control.stop()

    return on_event, control


def test_stopped_run_resumes_to_the_same_result_as_an_uninterrupted_one(data, tmp_path, capsys):
    whole = train(cfg(data, tmp_path / "whole"))
    on_event, control = stop_after_epoch(2)
    stopped = train(cfg(data, tmp_path / "part"), on_event, control)
    assert stopped.status == "stopped" and stopped.summary["epochs_completed"] == 2

    assert cli(["train", str(tmp_path / "part" / "config.json"), "--resume"]) == 0
    assert "resuming part at epoch 3 of 4" in capsys.readouterr().out
    summary = json.loads((tmp_path / "part" / "summary.json").read_text())
    assert summary["status"] == "completed" and summary["epochs_completed"] == 4
    assert summary["resumed_from_epoch"] == 2
    assert summary["history"] == whole.summary["history"]
    rows = list(csv.DictReader((tmp_path / "part" / "metrics.csv").open()))
    assert [(r["epoch"], r["phase"]) for r in rows] == [(str(e), p) for e in range(1, 5) for p in ("train", "val")]
    a = torch.load(tmp_path / "whole" / "model.pt", weights_only=True)["state_dict"]
    b = torch.load(tmp_path / "part" / "model.pt", weights_only=True)["state_dict"]
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_resume_refusals(data, tmp_path, capsys):
    train(cfg(data, tmp_path / "done", epochs=1))
    assert cli(["train", "--out", str(tmp_path / "done"), "--resume"]) == 2
    assert "nothing to resume" in capsys.readouterr().err

    on_event, control = stop_after_epoch(1)
    train(cfg(data, tmp_path / "part"), on_event, control)
    assert cli(["train", str(tmp_path / "part" / "config.json"), "--resume", "--epochs", "9"]) == 2
    assert "--epochs" in capsys.readouterr().err

    (tmp_path / "part" / "checkpoints" / "last.pt").unlink()
    assert cli(["train", str(tmp_path / "part" / "config.json"), "--resume"]) == 2
    assert "no checkpoint to resume from" in capsys.readouterr().err

    assert cli(["train", "--resume"]) == 2
    assert "--resume needs the run" in capsys.readouterr().err
