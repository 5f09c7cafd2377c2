"""The split is stored with the run (split.csv) and reused; groups and copies never straddle it;
AdamW's weight decay means what it says."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from tlgui.cli import main as cli
from tlgui.core.base.config import TrainConfig
from tlgui.core.base.events import EpochStats
from tlgui.core.data.grouping import grouped_split
from tlgui.core.training.control import TrainControl
from tlgui.core.training.loop import train
from tlgui.core.training.optim import build_optimizer

from .learnable import image_folder


def cfg(data, out, **kw):
    return TrainConfig(**{"data": str(data), "model": "smallcnn", "out": str(out), "epochs": 2,
                          "batch_size": 8, "seed": 1, "device": "cpu", **kw})


def rows(run):
    with open(run / "split.csv", newline="") as handle:
        return list(csv.DictReader(handle))


def test_split_csv_is_written_and_evaluate_run_dir_uses_it(tmp_path, capsys):
    data = image_folder(tmp_path / "data", per_class=10)
    run = tmp_path / "run"
    result = train(cfg(data, run))
    table = rows(run)
    assert list(table[0]) == ["path", "label", "subset"]
    train_paths = {r["path"] for r in table if r["subset"] == "train"}
    val_paths = {r["path"] for r in table if r["subset"] == "val"}
    assert not train_paths & val_paths and len(val_paths) == result.summary["val_images"]
    assert len(train_paths) == result.summary["train_images"]
    assert all(r["label"] == r["path"].split("/")[-2] for r in table)
    # new files in the folder later change nothing about the run's validation set
    for cls in ("horizontal", "vertical"):
        for i in range(5):
            shutil.copy(next((data / cls).iterdir()), data / cls / f"late-{i}.png")
    assert cli(["evaluate", str(run), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["n"] == len(val_paths)
    assert abs(report["accuracy"] - result.summary["final_val_accuracy"]) <= 1e-6
    assert cli(["evaluate", str(run), "--data", str(data)]) == 2
    assert "leave out --data" in capsys.readouterr().err
    assert cli(["evaluate", str(run / "model.pt")]) == 2
    assert "--data is needed" in capsys.readouterr().err


def test_in_memory_sources_are_stored_as_source_hash_index(tmp_path):
    run = tmp_path / "run"
    train(TrainConfig(data="demo:target", model="smallcnn", epochs=1, device="cpu", out=str(run),
                      max_train_images=60))
    table = rows(run)
    assert table and all(r["path"].startswith("demo:target#") for r in table)
    assert {r["subset"] for r in table} == {"train", "val"}


def test_resume_uses_the_stored_split_and_refuses_when_images_are_gone(tmp_path, capsys):
    data = image_folder(tmp_path / "data", per_class=10)
    run = tmp_path / "run"
    control = TrainControl()
    train(cfg(data, run, epochs=3), lambda e: isinstance(e, EpochStats) and control.stop(), control)
    before = (run / "split.csv").read_text()
    for i in range(6):  # more images: a fresh split would differ
        shutil.copy(next((data / "horizontal").iterdir()), data / "horizontal" / f"new-{i}.png")
    gone = next(r["path"] for r in rows(run) if r["subset"] == "train")
    moved = tmp_path / "aside.png"
    shutil.move(gone, moved)
    assert cli(["train", str(run / "config.json"), "--resume"]) == 2
    err = capsys.readouterr().err
    assert "split.csv" in err and gone in err
    shutil.move(moved, gone)
    assert cli(["train", str(run / "config.json"), "--resume", "--quiet"]) == 0
    assert (run / "split.csv").read_text() == before


def _patients(root, per_patient=4, patients=5):
    rng = np.random.default_rng(0)
    from PIL import Image

    for cls, value in (("healthy", 40), ("sick", 200)):
        for p in range(patients):
            folder = root / cls / f"patient{p}"
            folder.mkdir(parents=True)
            for i in range(per_patient):
                pixels = np.clip(value + rng.normal(0, 20, (12, 12)), 0, 255).astype(np.uint8)
                Image.fromarray(pixels).save(folder / f"{i}.png")
    return root


def test_sub_folders_stay_on_one_side_and_the_split_says_so(tmp_path):
    data = _patients(tmp_path / "data")
    result = train(cfg(data, tmp_path / "run", epochs=1, val_split=0.3))
    side = {}
    for r in rows(tmp_path / "run"):
        group = r["path"].rsplit("/", 2)[-2]
        side.setdefault((r["label"], group), set()).add(r["subset"])
    assert len(side) == 10 and all(len(s) == 1 for s in side.values())
    assert {"train", "val"} <= set().union(*side.values())
    assert any("split by sub-folder" in m for m in result.summary["messages"])
    off = train(cfg(data, tmp_path / "off", epochs=1, val_split=0.3, group_split=False))
    assert not any("split by sub-folder" in m for m in off.summary["messages"])


def test_exact_copies_are_kept_on_one_side(tmp_path):
    data = image_folder(tmp_path / "data", per_class=10)
    for cls in ("horizontal", "vertical"):
        for i, original in enumerate(sorted((data / cls).iterdir())[:6]):
            shutil.copy(original, data / cls / f"copy-{i}.png")
    result = train(cfg(data, tmp_path / "run", epochs=1, val_split=0.4))
    subset = {r["path"]: r["subset"] for r in rows(tmp_path / "run")}
    for cls in ("horizontal", "vertical"):
        for i, original in enumerate(sorted(p for p in (data / cls).iterdir() if not p.name.startswith("copy"))[:6]):
            assert subset[str(original)] == subset[str(data / cls / f"copy-{i}.png")]
    assert result.summary["val_images"] == sum(v == "val" for v in subset.values())


def test_grouped_split_keeps_proportions_and_both_sides():
    labels = np.repeat([0, 1], 40)
    groups = [f"{c}/g{i // 4}" for c, i in zip(labels, range(80), strict=True)]
    train_idx, val_idx = grouped_split(labels, groups, 0.25, seed=3)
    assert len(set(train_idx) & set(val_idx)) == 0 and len(train_idx) + len(val_idx) == 80
    for cls in (0, 1):
        n_val = int(np.sum(labels[val_idx] == cls))
        assert 8 <= n_val <= 12  # about a quarter of 40, in whole groups of 4
    for g in set(groups):
        members = {i for i, x in enumerate(groups) if x == g}
        assert members <= set(train_idx) or members <= set(val_idx)


@pytest.mark.parametrize("optimizer", ["adamw", "adam", "sgd"])
def test_weight_decay_means_what_it_says(optimizer):
    model = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3), torch.nn.BatchNorm2d(4), torch.nn.Flatten(),
                                torch.nn.LazyLinear(2))
    model(torch.zeros(1, 1, 6, 6))
    zero = build_optimizer(TrainConfig(data="x", model="smallcnn", optimizer=optimizer, weight_decay=0.0),
                           model.parameters())
    assert all(g["weight_decay"] == 0.0 for g in zero.param_groups)
    chosen = build_optimizer(TrainConfig(data="x", model="smallcnn", optimizer=optimizer, weight_decay=0.05),
                             model.parameters())
    decayed = {id(p) for g in chosen.param_groups if g["weight_decay"] == 0.05 for p in g["params"]}
    assert decayed == {id(model[0].weight), id(model[3].weight)}  # never biases or BatchNorm
    default = build_optimizer(TrainConfig(data="x", model="smallcnn", optimizer=optimizer), model.parameters())
    assert max(g["weight_decay"] for g in default.param_groups) == (0.01 if optimizer == "adamw" else 0.0)


def test_files_removed_after_a_health_scan_do_not_move_training_images_into_validation(tmp_path):
    from tlgui.core.results.run_evaluation import evaluate_run, run_validation

    data = image_folder(tmp_path / "data", per_class=10)
    run = tmp_path / "run"
    train(cfg(data, run))
    table = rows(run)
    val_paths = [r["path"] for r in table if r["subset"] == "val"]
    train_paths = [r["path"] for r in table if r["subset"] == "train"]
    # what a user does after the health scan flags files: they go (sorting shifts every index)
    for gone in (sorted(train_paths)[0], sorted(val_paths)[0]):
        Path(gone).unlink()
    validation = run_validation(run)
    assert validation.missing == 1
    evaluation = evaluate_run(run)
    assert evaluation.n == len(val_paths) - 1
    assert set(evaluation.descriptions) == set(val_paths) - {sorted(val_paths)[0]}
    assert not set(evaluation.descriptions) & set(train_paths)
