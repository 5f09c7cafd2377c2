"""Runs that survive faults: kill -9 and resume, durable atomic writes, one process per run
folder, no partial validation figures, real errors after a Stop."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from tlgui.cli import main as cli
from tlgui.core.base.config import TrainConfig
from tlgui.core.base.events import BatchStats, EpochStats
from tlgui.core.base.files import atomic_save, atomic_write, atomic_write_text
from tlgui.core.results.run_lock import RunLock, lock_holder
from tlgui.core.results.runs import RunDir
from tlgui.core.training.control import TrainControl
from tlgui.core.training.loop import train

from .learnable import image_folder

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def data(tmp_path):
    return image_folder(tmp_path / "data", per_class=12)


def cfg(data, out, **kw):
    return TrainConfig(**{"data": str(data), "model": "smallcnn", "out": str(out), "epochs": 3,
                          "batch_size": 8, "seed": 2, "augment": "flip", "device": "cpu", **kw})


def _env():
    return {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}


def _train_args(data, out, epochs):
    return [sys.executable, "-m", "tlgui", "train", "--data", str(data), "--model", "smallcnn", "--epochs",
            str(epochs), "--batch-size", "4", "--seed", "5", "--augment", "flip", "--device", "cpu",
            "--out", str(out), "--quiet"]


def _wait_for(condition, proc, what):
    while not condition():
        if proc.poll() is not None:
            pytest.fail(f"the run ended before {what}: {proc.stderr.read()}")


def test_kill_9_then_resume_is_bit_identical_to_an_uninterrupted_run(tmp_path):
    data = image_folder(tmp_path / "data", per_class=20)
    epochs = 12
    whole = subprocess.run(_train_args(data, tmp_path / "whole", epochs), env=_env(), capture_output=True,
                           text=True, timeout=600)
    assert whole.returncode == 0, whole.stderr
    run = tmp_path / "killed"
    proc = subprocess.Popen(_train_args(data, run, epochs), env=_env(), stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    last = run / "checkpoints" / "last.pt"
    _wait_for(last.is_file, proc, "its first checkpoint")
    proc.send_signal(signal.SIGKILL)  # at whatever point of the next epoch it is
    proc.wait(60)
    assert proc.returncode == -signal.SIGKILL
    assert not (run / "summary.json").exists() and (run / ".lock").is_file()  # left behind, as by a crash

    # the killed run is not reused by accident: a plain rerun is refused
    again = subprocess.run(_train_args(data, run, epochs), env=_env(), capture_output=True, text=True, timeout=600)
    assert again.returncode == 2 and "unfinished run" in again.stderr and "--resume" in again.stderr
    # --resume takes the dead process's lock over and finishes the run
    resumed = subprocess.run([sys.executable, "-m", "tlgui", "train", str(run / "config.json"), "--resume"],
                             env=_env(), capture_output=True, text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stderr
    assert not (run / ".lock").exists()
    a = torch.load(tmp_path / "whole" / "model.pt", weights_only=True)["state_dict"]
    b = torch.load(run / "model.pt", weights_only=True)["state_dict"]
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    sa = json.loads((tmp_path / "whole" / "summary.json").read_text())
    sb = json.loads((run / "summary.json").read_text())
    assert sb["status"] == "completed" and sb["history"] == sa["history"]
    assert (run / "split.csv").read_text() == (tmp_path / "whole" / "split.csv").read_text().replace(
        str(tmp_path / "whole"), str(run))


def test_a_failing_write_leaves_the_old_file_and_no_temp(tmp_path, monkeypatch):
    target = tmp_path / "last.pt"
    atomic_save({"epoch": 1}, target)

    def half_then_disk_full(handle):
        handle.write(b"PK\x03\x04 half a checkpoint")
        raise OSError(28, "No space left on device")

    with pytest.raises(OSError, match="No space left"):
        atomic_write(target, half_then_disk_full)
    assert torch.load(target, weights_only=True) == {"epoch": 1}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["last.pt"]

    # torch.save dying midway (a kill during a checkpoint write) is the same case
    def broken_save(obj, handle):
        handle.write(b"partial")
        raise KeyboardInterrupt

    monkeypatch.setattr(torch, "save", broken_save)
    with pytest.raises(KeyboardInterrupt):
        atomic_save({"epoch": 2}, target)
    monkeypatch.undo()
    assert torch.load(target, weights_only=True) == {"epoch": 1}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["last.pt"]


def test_writes_are_synced_before_they_replace(tmp_path, monkeypatch):
    order = []
    real_fsync, real_replace = os.fsync, os.replace
    monkeypatch.setattr(os, "fsync", lambda fd: (order.append("fsync"), real_fsync(fd))[1])
    monkeypatch.setattr(os, "replace", lambda a, b: (order.append("replace"), real_replace(a, b))[1])
    atomic_write_text(tmp_path / "summary.json", "{}\n")
    assert "fsync" in order and order.index("fsync") < order.index("replace")
    assert order[-1] == "fsync"  # the folder too, so the rename survives a power cut
    assert (tmp_path / "summary.json").read_text() == "{}\n"
    assert oct((tmp_path / "summary.json").stat().st_mode & 0o777) != oct(0o600)  # not mkstemp's private mode


def _hold_lock(run: Path):
    code = ("import sys; from tlgui.core.results.run_lock import RunLock; RunLock(sys.argv[1]).acquire(); "
            "print('locked', flush=True); sys.stdin.read()")
    proc = subprocess.Popen([sys.executable, "-c", code, str(run)], env=_env(), stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "locked"
    return proc


def test_a_folder_in_use_is_refused_and_a_dead_lock_taken_over(data, tmp_path, capsys):
    run = tmp_path / "run"
    on_event, control = _stop_after_epoch(1)
    train(cfg(data, run), on_event, control)  # stopped: resumable
    holder = _hold_lock(run)
    try:
        assert lock_holder(run) == holder.pid
        for args in (["train", str(run / "config.json"), "--resume"],
                     ["train", "--data", str(data), "--model", "smallcnn", "--out", str(run), "--overwrite"]):
            assert cli(args) == 2
            err = capsys.readouterr().err.strip()
            assert len(err.splitlines()) == 1 and "is in use" in err and str(holder.pid) in err
        assert (run / "summary.json").is_file() and (run / "metrics.csv").is_file()  # nothing touched
    finally:
        holder.stdin.close()
        holder.wait(60)
    assert (run / ".lock").read_text().strip() == str(holder.pid)  # a stale file of a dead process
    assert lock_holder(run) is None
    assert cli(["train", str(run / "config.json"), "--resume", "--quiet"]) == 0
    assert not (run / ".lock").exists()


def test_the_lock_is_exclusive_in_one_process_too(tmp_path):
    (tmp_path / "run").mkdir()
    with RunLock(tmp_path / "run") as lock:
        assert lock.held and lock_holder(tmp_path / "run") == os.getpid()
        with pytest.raises(Exception, match="is in use"):
            RunLock(tmp_path / "run").acquire()
    assert lock_holder(tmp_path / "run") is None
    RunLock(tmp_path / "run").acquire().release()


def test_default_run_names_do_not_collide(data, tmp_path, monkeypatch):
    monkeypatch.setattr("tlgui.core.training.loop.default_run_name", lambda: "run-20260101-000000")
    first = train(cfg(data, "", epochs=1))
    second = train(cfg(data, "", epochs=1))
    assert first.run_dir != second.run_dir
    assert Path(second.run_dir).name == "run-20260101-000000-2"
    assert json.loads((Path(first.run_dir) / "summary.json").read_text())["status"] == "completed"


def test_a_default_folder_is_removed_when_the_run_cannot_start(tmp_path, monkeypatch):
    from tlgui.paths import runs_dir

    monkeypatch.setattr("tlgui.core.training.loop.default_run_name", lambda: "run-x")
    with pytest.raises(Exception, match="not found|does not exist|no such"):
        train(TrainConfig(data=str(tmp_path / "missing"), model="smallcnn", epochs=1))
    assert not (runs_dir() / "run-x").exists()


def test_resume_refuses_when_config_and_checkpoint_disagree(data, tmp_path, capsys):
    run = tmp_path / "run"
    on_event, control = _stop_after_epoch(1)
    train(cfg(data, run), on_event, control)
    config = json.loads((run / "config.json").read_text())
    config["lr"] = 0.5
    (run / "config.json").write_text(json.dumps(config))
    assert cli(["train", str(run / "config.json"), "--resume"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "disagree" in err and "lr" in err
    assert json.loads((run / "summary.json").read_text())["epochs_completed"] == 1  # left as it was


def test_the_cuda_random_state_is_checkpointed(tmp_path):
    from tlgui.core.training.resume import random_streams, restore_random_streams

    if not torch.cuda.is_available():
        streams = random_streams(torch.Generator())
        assert "cuda_rng" not in streams and {"data_rng", "torch_rng"} <= set(streams)
        pytest.skip("no CUDA device here: the CUDA stream itself is checked on a GPU machine")
    torch.cuda.init()
    generator = torch.Generator().manual_seed(1)
    streams = random_streams(generator)
    expected = torch.rand(4, device="cuda")
    torch.rand(100, device="cuda")
    restore_random_streams(streams, generator)
    assert torch.equal(torch.rand(4, device="cuda"), expected)


def _stop_after_epoch(n):
    control = TrainControl()

    def on_event(event):
        if isinstance(event, EpochStats) and event.epoch == n:
            control.stop()

    return on_event, control


class _StopDuringValidation(TrainControl):
    """Stop after the first validation batch of epoch ``epoch`` (deterministic, no timing)."""

    def __init__(self, epoch: int):
        super().__init__()
        self.epoch, self.reads = epoch, None

    def arm(self, event):
        if isinstance(event, BatchStats) and event.epoch == self.epoch and event.batch == event.batches:
            self.reads = 0  # training of that epoch is done: validation comes next

    @property
    def stopped(self):
        if self.reads is None:
            return super().stopped
        self.reads += 1
        return self.reads > 1  # the first validation batch runs, the second is refused


def test_stop_during_validation_records_complete_epochs_only(tmp_path):
    data = image_folder(tmp_path / "data", per_class=200, size=8)  # > 256 validation images: 2 batches
    control = _StopDuringValidation(epoch=2)
    result = train(cfg(data, tmp_path / "run", epochs=3, val_split=0.5, augment="none"), control.arm, control)
    assert result.status == "stopped"
    run = tmp_path / "run"
    rows = (run / "metrics.csv").read_text().splitlines()
    assert rows[1:] and all(line.startswith("1,") for line in rows[1:])  # epoch 1 only
    summary = json.loads((run / "summary.json").read_text())
    assert summary["epochs_completed"] == 1 and [h["epoch"] for h in summary["history"]] == [1]
    assert torch.load(run / "checkpoints" / "best.pt", weights_only=True)["epoch"] == 1
    source = torch.load(run / "model.pt", weights_only=True)["source"]
    # epoch 2 trained but was never validated: model.pt says its weights have no validation
    assert source["validated_epoch"] is None and source["val_accuracy"] is None
    assert summary["model_validated_epoch"] is None


def test_a_model_saved_at_an_epoch_boundary_says_which_validation_it_had(data, tmp_path):
    on_event, control = _stop_after_epoch(2)
    result = train(cfg(data, tmp_path / "run"), on_event, control)
    source = torch.load(tmp_path / "run" / "model.pt", weights_only=True)["source"]
    assert source["validated_epoch"] == 2 == result.summary["model_validated_epoch"]
    assert source["val_accuracy"] == result.summary["final_val_accuracy"]


def test_an_error_after_stop_is_raised_not_hidden(data, tmp_path, monkeypatch):
    def disk_full(self, checkpoint):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(RunDir, "save_model", disk_full)
    on_event, control = _stop_after_epoch(1)
    with pytest.raises(OSError, match="No space left"):
        train(cfg(data, tmp_path / "run"), on_event, control)
    assert not (tmp_path / "run" / ".lock").exists()  # released on the way out
    assert (tmp_path / "run" / "checkpoints" / "last.pt").is_file()  # what was saved is kept
