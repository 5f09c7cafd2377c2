"""RunFolder: a run folder reserved, locked, opened and settled in that order (training/run_folder.py)."""

import csv
import json
import os

import pytest
import torch

from tlgui.core.base.config import TrainConfig
from tlgui.core.base.errors import RunDirError
from tlgui.core.base.events import EpochStats
from tlgui.core.models.zoo import build_model
from tlgui.core.results.run_lock import RunLock, lock_holder
from tlgui.core.results.run_split import SplitRow, read_split
from tlgui.core.training.control import TrainControl
from tlgui.core.training.loop import train
from tlgui.core.training.run_folder import RunFolder
from tlgui.paths import runs_dir

from .learnable import image_folder

SPLIT = [SplitRow("a/1.png", "a", "train"), SplitRow("b/1.png", "b", "val")]


def cfg(data, out, **kw):
    return TrainConfig(**{"data": str(data), "model": "smallcnn", "out": str(out), "epochs": 3, "batch_size": 8,
                          "seed": 1, **kw})


def test_a_new_folder_is_created_only_when_settled_and_locked_until_released(tmp_path):
    config = cfg(tmp_path / "data", tmp_path / "runs" / "new")
    folder = RunFolder.reserve(config)
    assert config.out == str((tmp_path / "runs" / "new").resolve())  # made absolute in the config
    folder.open(config, resume=False, overwrite=False)
    assert folder.resumed is None and folder.resumed_epoch is None
    assert not folder.path.exists()  # nothing on disk before data and model are prepared
    folder.settle(config, torch.nn.Linear(2, 2), SPLIT, overwrite=False)
    assert json.loads((folder.path / "config.json").read_text())["model"] == "smallcnn"
    assert read_split(folder.path) == SPLIT
    assert (folder.path / "metrics.csv").is_file()
    assert lock_holder(folder.path) == os.getpid()
    folder.release()
    assert lock_holder(folder.path) is None and not (folder.path / ".lock").exists()


def test_a_folder_another_run_holds_is_refused_in_one_line(tmp_path):
    run = tmp_path / "busy"
    run.mkdir()
    with RunLock(run):  # another training run in this folder
        with pytest.raises(RunDirError) as refused:
            RunFolder.reserve(cfg(tmp_path / "data", run))
    line = str(refused.value)
    assert len(line.splitlines()) == 1 and "is in use" in line and str(os.getpid()) in line
    assert run.is_dir()  # a folder the user named is never removed


def test_an_unstarted_default_folder_is_abandoned_and_removed(tmp_path):
    config = TrainConfig(data=str(tmp_path / "data"), model="smallcnn", epochs=1)
    folder = RunFolder.reserve(config, name=lambda: "run-test")
    assert folder.reserved and folder.path == (runs_dir() / "run-test").resolve() and folder.path.is_dir()
    folder.abandon()
    assert not folder.path.exists()


def test_a_stopped_run_is_reopened_at_its_checkpoint_and_rewound_to_it(tmp_path):
    data = image_folder(tmp_path / "data", per_class=8)
    control = TrainControl()
    stopped = train(cfg(data, tmp_path / "run"),
                    lambda e: control.stop() if isinstance(e, EpochStats) and e.epoch == 1 else None, control)
    assert stopped.status == "stopped"
    run = tmp_path / "run"
    with (run / "metrics.csv").open("a", newline="") as handle:  # a row written after the checkpoint
        handle.write("2,train,0.5,0.5,0.001,1.0\n")
    config = TrainConfig.load(run / "config.json")
    folder = RunFolder.reserve(config)
    try:
        assert folder.lock.held  # an existing folder is locked before anything in it is read
        folder.open(config, resume=True, overwrite=False)
        assert folder.resumed_epoch == 1 and folder.stored_split is not None
        model = torch.load(run / "model.pt", weights_only=True)
        net = build_model("smallcnn", len(model["classes"]), in_channels=model["in_channels"])
        folder.settle(config, net, folder.stored_split, overwrite=False)
        resumed = folder.resumed
        assert resumed is not None
        assert all(torch.equal(net.state_dict()[k], v) for k, v in resumed["model"].items())
        epochs = {int(row["epoch"]) for row in csv.DictReader((run / "metrics.csv").open())}
        assert epochs == {1}  # the rows after the checkpoint are redone
    finally:
        folder.release()


def test_resuming_a_folder_without_a_checkpoint_says_why_in_one_line(tmp_path):
    run = tmp_path / "empty"
    run.mkdir()
    (run / "config.json").write_text("{}")
    config = cfg(tmp_path / "data", run)
    folder = RunFolder.reserve(config)
    try:
        with pytest.raises(RunDirError) as refused:
            folder.open(config, resume=True, overwrite=False)
        assert len(str(refused.value).splitlines()) == 1 and "no checkpoint to resume from" in str(refused.value)
    finally:
        folder.release()
