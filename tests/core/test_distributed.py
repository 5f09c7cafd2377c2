"""Training on 2 processes with gloo on the CPU: torchrun end to end, and spawned ranks."""

from __future__ import annotations

import csv
import json
import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from tests.core.learnable import image_folder
from tlgui.core.base.config import TrainConfig
from tlgui.core.base.errors import ConfigError, DataError
from tlgui.core.training import distributed
from tlgui.core.training.distributed import Dist

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:  # the network guard patches create_connection, not bind
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def torchrun(tmp_path: Path, *args: str, nproc: int = 2, script: Path | None = None,
             **extra_env: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1", **extra_env)
    program = [str(script)] if script is not None else ["-m", "tlgui"]
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={nproc}",
           *program, "train", *args]
    return subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)


def metrics_rows(run: Path) -> list[dict]:
    with open(run / "metrics.csv", newline="") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return image_folder(tmp_path_factory.mktemp("ddp") / "data", per_class=24, size=16)


def common_args(data: Path, out: Path, epochs: int = 3) -> list[str]:
    return ["--data", str(data), "--model", "smallcnn", "--epochs", str(epochs), "--batch-size", "16",
            "--device", "cpu", "--seed", "3", "--out", str(out)]


def test_torchrun_two_processes_write_one_run_like_one_process(data, tmp_path):
    result = torchrun(tmp_path, *common_args(data, tmp_path / "two"))
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.count("completed:") == 1  # rank 0 reports, the other rank is quiet
    rows = metrics_rows(tmp_path / "two")
    assert [(r["epoch"], r["phase"]) for r in rows] == [(str(e), p) for e in (1, 2, 3) for p in ("train", "val")]
    summary = json.loads((tmp_path / "two" / "summary.json").read_text())
    assert summary["world_size"] == 2 and summary["status"] == "completed"
    assert summary["train_images"] + summary["val_images"] == 72
    written = {p.name for p in (tmp_path / "two").iterdir()}
    assert {"checkpoints", "config.json", "metrics.csv", "model.pt", "summary.json"} <= written
    assert sorted(p.name for p in (tmp_path / "two" / "checkpoints").iterdir()) == ["best.pt", "last.pt"]
    assert list(tmp_path.glob("**/*.tmp")) == []
    # the reduced validation figure is the whole validation split's: model.pt evaluated on it in one process
    from tlgui.core.results.run_evaluation import evaluate_run

    evaluated = evaluate_run(tmp_path / "two", device="cpu")
    assert evaluated.accuracy == pytest.approx(summary["final_val_accuracy"])
    # the window's Runs page lists it like any other
    from tlgui.ui.pages.runs.run_info import discover_runs

    listed = {info.path.name: info for info in discover_runs(tmp_path, [])}
    assert listed["two"].status == "completed" and listed["two"].architecture == "smallcnn"
    assert listed["two"].has_model and not listed["two"].resumable
    from tlgui.cli import main as cli

    assert cli(["train", *common_args(data, tmp_path / "one")]) == 0
    single = json.loads((tmp_path / "one" / "summary.json").read_text())
    assert single["world_size"] == 1
    # same data, same global batch: the same task learned about as well
    assert abs(summary["final_val_accuracy"] - single["final_val_accuracy"]) <= 0.2
    assert summary["final_val_accuracy"] > 1 / 3 + 0.2


def _spawned_rank(rank: int, world: int, port: int, configs: list[dict], out_dir: str) -> None:
    os.environ.update(RANK=str(rank), WORLD_SIZE=str(world), LOCAL_RANK=str(rank), LOCAL_WORLD_SIZE=str(world),
                      MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), TLGUI_HOME=str(Path(out_dir) / "home"))
    torch.set_num_threads(1)
    import tlgui.core.workflows  # noqa: F401
    from tlgui.core.training.loop import train

    try:
        train(TrainConfig.from_dict(configs[rank]))
    except Exception as exc:  # noqa: BLE001 - reported to the test through a file
        (Path(out_dir) / f"rank{rank}.error").write_text(f"{type(exc).__name__}: {exc}")


def _spawned_weights(rank: int, world: int, port: int, configs: list[dict], out_dir: str) -> None:
    # each rank its own home (settings, caches), so what each one writes can be told apart
    os.environ.update(RANK=str(rank), WORLD_SIZE=str(world), LOCAL_RANK=str(rank), LOCAL_WORLD_SIZE=str(world),
                      MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), TLGUI_HOME=str(Path(out_dir) / f"home{rank}"))
    torch.set_num_threads(1)
    from tlgui.core.training import loop

    captured = {}
    original = loop.finish

    def finish(state):  # every rank's final weights, taken where training ends
        captured.update({k: v.detach().clone() for k, v in state.model.state_dict().items()})
        return original(state)

    loop.finish = finish
    loop.train(TrainConfig.from_dict(configs[rank]))
    torch.save(captured, Path(out_dir) / "weights" / f"{rank}.pt")


def test_spawned_ranks_end_with_the_same_model_and_only_rank_0_writes(data, tmp_path):
    import torch.multiprocessing as mp

    config = TrainConfig(data=str(data), model="smallcnn", epochs=2, batch_size=16, device="cpu", seed=1,
                         out=str(tmp_path / "run")).to_dict()
    # rank 1 is told another run folder: anything it wrote there would show
    configs = [config, dict(config, out=str(tmp_path / "rank1-out"))]
    (tmp_path / "weights").mkdir()
    mp.spawn(_spawned_weights, args=(2, free_port(), configs, str(tmp_path)), nprocs=2, join=True)
    w0 = torch.load(tmp_path / "weights" / "0.pt", weights_only=True)
    w1 = torch.load(tmp_path / "weights" / "1.pt", weights_only=True)
    saved = torch.load(tmp_path / "run" / "model.pt", weights_only=True)["state_dict"]
    # every tensor of the model, not an empty capture that would compare equal trivially; BatchNorm's
    # statistics too, which each process gathered on its own share of the batches
    assert w0.keys() == w1.keys() == saved.keys() and "fc.weight" in w0
    assert any(k.endswith("running_mean") for k in w0)
    assert all(torch.equal(w0[k], w1[k]) for k in w0)
    assert all(torch.equal(saved[k], w0[k]) for k in saved)
    assert not (tmp_path / "rank1-out").exists()
    # rank 1's only files: decoded images added to the shared image cache (content-addressed, atomic)
    rank1_files = [p.relative_to(tmp_path / "home1") for p in (tmp_path / "home1").rglob("*") if p.is_file()]
    assert all(f.parts[:2] == ("cache", "decoded") and f.suffix == ".npy" for f in rank1_files), rank1_files
    outside = {p.relative_to(tmp_path).parts[0] for p in tmp_path.iterdir()}
    assert outside == {"run", "weights", "home0", "home1"}


def test_ranks_that_see_different_data_all_stop_with_one_line(data, tmp_path):
    import torch.multiprocessing as mp

    other = image_folder(tmp_path / "other", per_class=20, size=16)
    base = dict(model="smallcnn", epochs=1, batch_size=16, device="cpu", out=str(tmp_path / "run"))
    configs = [TrainConfig(data=str(data), **base).to_dict(), TrainConfig(data=str(other), **base).to_dict()]
    mp.spawn(_spawned_rank, args=(2, free_port(), configs, str(tmp_path)), nprocs=2, join=True)
    errors = [(tmp_path / f"rank{r}.error").read_text() for r in (0, 1)]
    assert all(e.startswith("DataError: rank 1 sees different data than rank 0") for e in errors), errors
    assert "train_images" in errors[0]
    assert not (tmp_path / "run" / "metrics.csv").exists()  # nothing was trained or written


def test_cuda_without_enough_gpus_is_one_line_on_every_rank(data, tmp_path):
    result = torchrun(tmp_path, *common_args(data, tmp_path / "gpu", epochs=1)[:-4], "--device", "cuda",
                      "--out", str(tmp_path / "gpu"))
    assert result.returncode != 0
    lines = [line for line in result.stderr.splitlines() if line.startswith("tlgui: error: rank ")]
    assert lines and all("--device cuda" in line and "GPU" in line for line in lines), result.stderr[-2000:]
    assert "Traceback" not in "\n".join(lines)
    assert not (tmp_path / "gpu").exists()


# `python -m tlgui` with one rank made to fail in its second epoch's validation, after the
# first epoch was recorded: the other rank is then waiting in a collective
FAILING_TLGUI = """
import os, sys
from tlgui.core.training import loop
if os.environ["RANK"] == os.environ["FAIL_RANK"]:
    validate = loop.validate
    def failing(state, epoch, *args):
        if epoch == 2:
            raise RuntimeError("injected failure at epoch 2")
        return validate(state, epoch, *args)
    loop.validate = failing
from tlgui.__main__ import main
sys.exit(main())
"""


@pytest.mark.parametrize("failing", [1, 0])
def test_a_failure_on_one_rank_ends_every_rank_with_one_line_naming_it(data, tmp_path, failing):
    script = tmp_path / "failing_tlgui.py"
    script.write_text(FAILING_TLGUI)
    result = torchrun(tmp_path, *common_args(data, tmp_path / "run"), script=script, FAIL_RANK=str(failing))
    # returning at all means the surviving rank was ended too (it was blocked in a collective)
    assert result.returncode != 0
    lines = [line for line in result.stderr.splitlines() if line.startswith("tlgui:")]
    assert lines[0] == f"tlgui: unexpected error: rank {failing}: RuntimeError: injected failure at epoch 2", lines
    # the survivor does not add its own "connection closed" error (nor blame itself as a bug)
    assert not any(f"rank {1 - failing}" in line for line in lines), lines
    assert len(lines) == 2 and "TLGUI_DEBUG" in lines[1]
    # and torchrun's own report names the failing rank as the root cause
    root_cause = result.stderr.split("Root Cause", 1)[1]
    assert re.search(rf"rank\s*:\s*{failing}\b", root_cause), result.stderr[-2000:]
    assert [(r["epoch"], r["phase"]) for r in metrics_rows(tmp_path / "run")] == [("1", "train"), ("1", "val")]
    assert not (tmp_path / "run" / "model.pt").exists()


def test_a_survivor_of_a_failed_peer_is_quiet_until_ended(monkeypatch):
    from tlgui.cli import _after_peer_failure

    gone = RuntimeError("[gloo/transport/tcp/pair.cc:561] Connection closed by peer [127.0.0.1]:35230")
    assert distributed.lost_a_peer(gone)
    assert not distributed.lost_a_peer(RuntimeError("mat1 and mat2 shapes cannot be multiplied"))
    assert not distributed.lost_a_peer(ValueError("closed by peer"))
    outlive, waited = distributed.outlive_a_failed_peer, []
    monkeypatch.setattr(distributed, "outlive_a_failed_peer", lambda: waited.append(True))
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "0")
    assert _after_peer_failure(gone) and waited == [True]
    assert not _after_peer_failure(RuntimeError("a bug of this process"))
    monkeypatch.delenv("TORCHELASTIC_RUN_ID", raising=False)
    outlive(3600)  # without torchrun nobody ends the process: no wait


def test_sync_bn_on_the_cpu_is_one_line_on_every_rank(data, tmp_path):
    result = torchrun(tmp_path, *common_args(data, tmp_path / "sync", epochs=1), "--sync-bn")
    assert result.returncode != 0
    lines = [line for line in result.stderr.splitlines() if line.startswith("tlgui:")]
    assert sorted(lines) == [f"tlgui: error: rank {r}: --sync-bn needs GPUs (PyTorch synchronises BatchNorm only "
                             "between CUDA processes); leave it out on the CPU, where each process keeps its own "
                             "statistics" for r in (0, 1)], result.stderr[-2000:]
    assert not (tmp_path / "sync").exists()


def test_batchnorm_is_per_process_unless_sync_bn(monkeypatch):
    # DistributedDataParallel itself needs a process group (and, with --sync-bn, GPUs): here only
    # what is handed to it is checked
    from tlgui.core.models.zoo import build_model

    handed = []
    monkeypatch.setattr(torch.nn.parallel, "DistributedDataParallel",
                        lambda model, device_ids: handed.append((model, device_ids)) or model)
    dist = Dist(1, 2, 1, 2)
    plain = distributed.wrap(dist, build_model("smallcnn", 3), torch.device("cpu"), sync_bn=False)
    kinds = {type(m) for m in plain.modules()}
    assert torch.nn.BatchNorm2d in kinds and torch.nn.SyncBatchNorm not in kinds
    assert handed[-1] == (plain, None)
    model = build_model("smallcnn", 3)
    bn_count = sum(isinstance(m, torch.nn.BatchNorm2d) for m in model.modules())
    synced = distributed.wrap(dist, model, torch.device("cuda", 1), sync_bn=True)
    assert sum(isinstance(m, torch.nn.SyncBatchNorm) for m in synced.modules()) == bn_count > 0
    assert torch.nn.BatchNorm2d not in {type(m) for m in synced.modules()}
    assert handed[-1] == (synced, [1])  # one GPU per process: this process's own
    with pytest.raises(ConfigError, match="--sync-bn needs GPUs"):
        distributed.wrap(dist, build_model("smallcnn", 3), torch.device("cpu"), sync_bn=True)
    assert distributed.wrap(distributed.SINGLE, model, torch.device("cpu"), sync_bn=True) is model


def test_resume_under_torchrun_continues_a_stopped_run(data, tmp_path):
    from tlgui.core.base.events import EpochStats
    from tlgui.core.training.control import TrainControl
    from tlgui.core.training.loop import train

    run = tmp_path / "run"
    control = TrainControl()

    def stop_after_first_epoch(event):
        if isinstance(event, EpochStats) and event.epoch == 1:
            control.stop()

    first = train(TrainConfig(data=str(data), model="smallcnn", epochs=3, batch_size=16, device="cpu",
                              out=str(run)), stop_after_first_epoch, control)
    assert first.status == "stopped"
    result = torchrun(tmp_path, str(run / "config.json"), "--resume")
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads((run / "summary.json").read_text())
    assert (summary["status"], summary["resumed_from_epoch"], summary["world_size"]) == ("completed", 1, 2)
    rows = metrics_rows(run)
    assert [(r["epoch"], r["phase"]) for r in rows] == [(str(e), p) for e in (1, 2, 3) for p in ("train", "val")]


def test_lazy_data_and_head_only_under_torchrun(data, tmp_path):
    # decoded on demand (as for data too big for memory), and the head-only feature cache falls back
    result = torchrun(tmp_path, *common_args(data, tmp_path / "lazy", epochs=2), "--freeze", "backbone",
                      TLGUI_MEMORY_BUDGET_MB="0")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "feature cache is not used under torchrun (2 processes)" in result.stdout
    rows = metrics_rows(tmp_path / "lazy")
    assert [(r["epoch"], r["phase"]) for r in rows] == [(str(e), p) for e in (1, 2) for p in ("train", "val")]
    summary = json.loads((tmp_path / "lazy" / "summary.json").read_text())
    assert summary["world_size"] == 2 and summary["feature_cache"]["used"] is False
    assert summary["train_images"] + summary["val_images"] == 72


def test_each_process_takes_its_share_of_every_global_batch():
    from types import SimpleNamespace

    from tlgui.core.training.batches import Batches

    x = torch.arange(10).view(10, 1)
    prepared = SimpleNamespace(train_lazy=None, val_lazy=None, train_x=x, train_y=torch.arange(10),
                               val_x=x, val_y=torch.arange(10))
    config = SimpleNamespace(batch_size=4, num_workers=0)

    def batches(dist, train=True):
        return list(Batches(prepared, config, train, torch.Generator().manual_seed(5), dist))

    single = batches(distributed.SINGLE)
    ranks = [batches(Dist(r, 2, r, 2)) for r in (0, 1)]
    assert len(ranks[0]) == len(ranks[1]) == 3  # 4 + 4 + 2: the last batch still has one image each
    for step, (_, y) in enumerate(single):
        assert sorted(torch.cat([ranks[0][step][1], ranks[1][step][1]]).tolist()) == sorted(y.tolist())
    val = [torch.cat([y for _, y in batches(Dist(r, 2, r, 2), train=False)]) for r in (0, 1)]
    assert sorted(torch.cat(val).tolist()) == list(range(10))


def test_a_last_batch_too_small_to_share_is_dropped_on_every_process():
    from types import SimpleNamespace

    from tlgui.core.training.batches import Batches

    x = torch.arange(9).view(9, 1)
    prepared = SimpleNamespace(train_lazy=None, val_lazy=None, train_x=x, train_y=torch.arange(9), val_x=x,
                               val_y=torch.arange(9))
    config = SimpleNamespace(batch_size=4, num_workers=0)
    for dist in (Dist(0, 2, 0, 2), Dist(1, 2, 1, 2)):
        b = Batches(prepared, config, True, torch.Generator().manual_seed(0), dist)
        assert len(b) == len(list(b)) == 2  # 4 + 4 (+ 1 image that cannot go to both processes)


def test_environment_and_device_checks(monkeypatch):
    assert distributed.from_env({}) is distributed.SINGLE
    d = distributed.from_env({"WORLD_SIZE": "2", "RANK": "1", "LOCAL_RANK": "1", "LOCAL_WORLD_SIZE": "2"})
    assert (d.rank, d.world, d.enabled, d.main) == (1, 2, True, False)
    with pytest.raises(ConfigError, match="torchrun environment"):
        distributed.from_env({"WORLD_SIZE": "2"})
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    with pytest.raises(ConfigError, match="2 processes on this machine but only 1 GPU"):
        distributed.device_for(d, "cuda")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert distributed.device_for(d, "auto") == torch.device("cpu")
    with pytest.raises(ConfigError, match="--sync-bn needs GPUs"):
        distributed.check_sync_bn(torch.device("cpu"), True)
    with pytest.raises(DataError, match="rank 1 sees different data"):
        monkeypatch.setattr("torch.distributed.all_gather_object",
                            lambda out, obj: out.__setitem__(slice(None), [obj, dict(obj, train_images=1)]))
        distributed.check_same_data(d, {"classes": ["a"], "train_images": 5})


def test_torchrun_head_first_then_everything_with_layer_rates(data, tmp_path):
    # DDP records which parameters train when it wraps the model: each phase wraps again
    result = torchrun(tmp_path, *common_args(data, tmp_path / "phases"), "--head-epochs", "1",
                      "--layer-lr-decay", "0.5", "--lr", "0.004")
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads((tmp_path / "phases" / "summary.json").read_text())
    assert summary["status"] == "completed" and summary["epochs_completed"] == 3 and summary["world_size"] == 2
    assert summary["frozen_params"] == 0 and summary["head_epochs"] == 1
    assert sorted({g["lr_scale"] for g in summary["param_groups"]}) == [0.125, 0.25, 0.5, 1.0]
