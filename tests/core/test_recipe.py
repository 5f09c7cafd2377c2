"""Issue 21's recipe: --head-epochs, --layer-lr-decay, --lr auto and --class-weights reach the optimizer."""

import csv
import json
import math

import numpy as np
import pytest
from PIL import Image

from tlgui.cli import main as cli
from tlgui.core.base.config import TrainConfig
from tlgui.core.base.errors import ConfigError
from tlgui.core.base.events import Message
from tlgui.core.models.lr_groups import block_groups
from tlgui.core.models.zoo import build_model, find_head_path
from tlgui.core.training import recipe
from tlgui.core.training.loop import train
from tlgui.core.training.lr_find import lr_at, pick_rate
from tlgui.core.training.optim import build_optimizer, build_scheduler, model_param_groups

from .learnable import image_folder, pattern


@pytest.fixture
def data(tmp_path):
    return image_folder(tmp_path / "data", per_class=10)


def config(data, out, **kw):
    base = dict(data=str(data), model="smallcnn", out=str(out), epochs=2, batch_size=8, seed=3)
    base.update(kw)
    return TrainConfig(**base).validate()


def _spy_optimizers(monkeypatch):
    """Every optimizer a run builds, in order (the loop's module-level names are patched)."""
    built = []

    def spy(cfg, params):
        optimizer = build_optimizer(cfg, params)
        built.append(optimizer)
        return optimizer

    monkeypatch.setattr(recipe, "build_optimizer", spy)
    return built


def test_block_groups_of_smallcnn_and_resnet18():
    model = build_model("smallcnn", 3, in_channels=1)
    groups = block_groups(model, "fc", 0.5)
    assert [g.paths for g in groups] == [("features.0",), ("features.1",), ("features.2",), ("fc",)]
    assert [g.scale for g in groups] == [0.125, 0.25, 0.5, 1.0]
    resnet = build_model("resnet18", 2, device="meta")
    assert [g.paths for g in block_groups(resnet, find_head_path(resnet))] == [
        ("conv1", "bn1"), ("layer1",), ("layer2",), ("layer3",), ("layer4",), ("fc",)]


def test_layer_lr_decay_param_groups_and_rates_exactly():
    model = build_model("smallcnn", 3, in_channels=1)
    cfg = TrainConfig(data="x", model="smallcnn", lr=0.01, layer_lr_decay=0.5, optimizer="adamw").validate()
    optimizer = build_optimizer(cfg, model_param_groups(cfg, model, "fc"))
    rates = [(g["lr"], g["weight_decay"], len(g["params"])) for g in optimizer.param_groups]
    # each block: conv weight (decay) / BatchNorm weight+bias (no decay); the head: weight / bias
    assert rates == [(0.00125, 0.01, 1), (0.00125, 0.0, 2), (0.0025, 0.01, 1), (0.0025, 0.0, 2),
                     (0.005, 0.01, 1), (0.005, 0.0, 2), (0.01, 0.01, 1), (0.01, 0.0, 1)]
    ids = {id(p) for g in optimizer.param_groups for p in g["params"]}
    assert ids == {id(p) for p in model.parameters()}
    assert optimizer.param_groups[0]["params"][0] is model.features[0][0].weight
    # onecycle keeps each group's own peak
    cfg.schedule = "onecycle"
    scheduler = build_scheduler(cfg, optimizer, 10)
    assert [round(g, 8) for g in scheduler.get_last_lr()] == [round(g["initial_lr"], 8) for g in optimizer.param_groups]
    assert [round(g["max_lr"], 8) for g in optimizer.param_groups] == [0.00125, 0.00125, 0.0025, 0.0025, 0.005,
                                                                       0.005, 0.01, 0.01]


def test_no_decay_keeps_the_two_plain_groups():
    model = build_model("smallcnn", 3, in_channels=1)
    cfg = TrainConfig(data="x", model="smallcnn", lr=0.01).validate()
    optimizer = build_optimizer(cfg, model_param_groups(cfg, model, "fc"))
    assert [(g["lr"], len(g["params"])) for g in optimizer.param_groups] == [(0.01, 4), (0.01, 7)]


def test_a_run_with_layer_lr_decay_trains_with_those_rates(data, tmp_path, monkeypatch):
    built = _spy_optimizers(monkeypatch)
    result = train(config(data, tmp_path / "run", lr=0.004, layer_lr_decay=0.5, schedule="constant", epochs=1))
    assert result.status == "completed"
    assert [g["lr"] for g in built[0].param_groups] == [0.0005, 0.0005, 0.001, 0.001, 0.002, 0.002, 0.004, 0.004]
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert [g["lr_scale"] for g in summary["param_groups"]] == [0.125, 0.125, 0.25, 0.25, 0.5, 0.5, 1.0, 1.0]
    rows = list(csv.DictReader((tmp_path / "run" / "metrics.csv").open()))
    assert float(rows[0]["lr"]) == 0.004  # the head's rate is the one reported


def test_head_epochs_train_the_head_alone_then_everything(data, tmp_path, monkeypatch):
    built = _spy_optimizers(monkeypatch)
    events = []
    result = train(config(data, tmp_path / "run", epochs=3, head_epochs=1, lr=0.002, layer_lr_decay=0.5),
                   events.append)
    assert result.status == "completed"
    model = build_model("smallcnn", 3, in_channels=1)
    # phase 1: the head alone, on cached features (one group per decay rule, the head's rate)
    first = built[0]
    assert sum(len(g["params"]) for g in first.param_groups) == 2
    assert {g["lr"] for g in first.param_groups} == {0.002}
    # phase 2: every parameter, with the block groups' rates, and a fresh schedule over 2 epochs
    second = built[-1]
    assert sum(len(g["params"]) for g in second.param_groups) == len(list(model.parameters()))
    assert [g["initial_lr"] for g in second.param_groups][::2] == [0.00025, 0.0005, 0.001, 0.002]
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["head_epochs"] == 1 and summary["head_phase_fit"]["method"] == "steps"
    assert summary["feature_cache"]["used"] is False  # the last phase ran the whole model
    assert summary["trainable_params"] == sum(p.numel() for p in model.parameters())
    texts = [e.text for e in events if isinstance(e, Message)]
    assert any("head trained alone for 1 epoch" in t for t in texts)
    assert any("feature cache" in t for t in texts)


def test_head_epochs_with_defaults_fit_the_head_by_lbfgs(data, tmp_path):
    result = train(config(data, tmp_path / "run", epochs=2, head_epochs=1, batch_size=64))
    assert result.summary["head_phase_fit"]["method"] == "lbfgs"
    assert result.summary["epochs_completed"] == 2


@pytest.mark.parametrize("kw,words", [
    (dict(head_epochs=2, epochs=2), "--head-epochs"),
    (dict(head_epochs=1, epochs=2, freeze="backbone"), "backbone"),
    (dict(layer_lr_decay=0), "--layer-lr-decay"),
    (dict(layer_lr_decay=1.5), "--layer-lr-decay"),
    (dict(class_weights="inverse"), "--class-weights"),
    (dict(lr="fast"), "--lr"),
])
def test_bad_recipe_values_get_one_line(kw, words):
    with pytest.raises(ConfigError, match=words):
        TrainConfig(data="x", model="smallcnn", **kw).validate()


def test_balanced_class_weights_reach_the_loss(tmp_path, monkeypatch):
    data = image_folder(tmp_path / "data", per_class=6)
    rng = np.random.default_rng(1)
    for extra in range(6, 18):  # "diagonal" gets 3 times as many images
        Image.fromarray(pattern("diagonal", rng, 16), mode="L").save(data / "diagonal" / f"{extra:03d}.png")
    criteria = []
    real = recipe.make_criterion
    monkeypatch.setattr("tlgui.core.training.loop.make_criterion",
                        lambda cfg, prepared: criteria.append(real(cfg, prepared)) or criteria[-1])
    result = train(config(data, tmp_path / "run", class_weights="balanced", epochs=1, val_split=0.25))
    counts = {"diagonal": 0, "horizontal": 0, "vertical": 0}
    for row in csv.DictReader((tmp_path / "run" / "split.csv").open()):
        if row["subset"] == "train":
            counts[row["label"]] += 1
    n, k = sum(counts.values()), 3
    expected = [n / (k * counts[c]) for c in ("diagonal", "horizontal", "vertical")]
    assert criteria[0].weight.tolist() == pytest.approx(expected)
    assert expected[0] < expected[1]
    summary = result.summary
    assert summary["class_weights"] == "balanced"
    assert set(summary["val_per_class_recall"]) == {"diagonal", "horizontal", "vertical"}
    recalls = list(summary["val_per_class_recall"].values())
    assert summary["val_balanced_accuracy"] == pytest.approx(sum(recalls) / 3)


def test_balanced_weights_formula():
    assert recipe.balanced_weights(np.array([30, 10, 0])).tolist() == pytest.approx([40 / 60, 2.0, 0.0])


def test_pick_rate_is_the_steepest_descent_at_most_a_tenth_of_the_minimum():
    lrs = [lr_at(i, 100) for i in range(100)]
    # a small data set: the loss goes on falling to ~0.3 (the test trains too), fastest near 1e-3
    losses = [1.0 - 0.5 * math.tanh(2 * (math.log10(lr) + 3)) - 0.1 * (math.log10(lr) + 7) / 7
              + (3 * (math.log10(lr) + 0.5) ** 2 if lr > 0.3 else 0) for lr in lrs]
    pick, low, steepest = pick_rate(lrs, losses, 1e-3)
    assert low == pytest.approx(0.3, rel=0.3)
    assert steepest == pytest.approx(1e-3, rel=0.3) and pick == steepest  # not low / 10 = 0.03
    # a sharp minimum right after a slow slide: a tenth of the minimum bounds the pick
    losses = [2.0 - 0.01 * i - (1.5 if 80 <= i <= 82 else 0) for i in range(100)]
    pick, low, steepest = pick_rate(lrs, losses, 1e-3)
    assert pick == pytest.approx(low / 10) and pick < steepest
    assert pick_rate(lrs[:3], losses[:3], 1e-3) == (1e-3, 1e-3, None)


def test_lr_auto_runs_the_finder_and_records_its_pick(data, tmp_path, monkeypatch):
    built = _spy_optimizers(monkeypatch)
    result = train(config(data, tmp_path / "run", lr="auto", epochs=1, schedule="constant"))
    saved = json.loads((tmp_path / "run" / "config.json").read_text())
    assert saved["lr"] == "auto" and 1e-7 < saved["lr_found"] < 1
    assert result.summary["lr"] == "auto" and result.summary["lr_found"] == saved["lr_found"]
    assert {g["lr"] for g in built[-1].param_groups} == {saved["lr_found"]}
    # the finder leaves the model as it was: the run equals one given the found rate
    again = train(config(data, tmp_path / "fixed", lr=saved["lr_found"], epochs=1, schedule="constant"))
    assert again.summary["final_val_loss"] == pytest.approx(result.summary["final_val_loss"], rel=1e-5)
    # config.json reruns (the finder again)
    assert cli(["train", str(tmp_path / "run" / "config.json"), "--out", str(tmp_path / "rerun"), "--quiet"]) == 0
    rerun = json.loads((tmp_path / "rerun" / "config.json").read_text())
    assert rerun["lr"] == "auto" and rerun["lr_found"] == saved["lr_found"]


def test_lr_find_cli_prints_the_curve_and_pick(data, capsys):
    code = cli(["lr-find", "--data", str(data), "--model", "smallcnn", "--batch-size", "8", "--json"])
    assert code == 0
    out = json.loads(capsys.readouterr().out)
    assert {"lrs", "losses", "smoothed", "pick", "min_loss_lr", "steepest_lr", "rule"} <= set(out)
    assert out["rule"] == "steepest, at most min/10" and out["pick"] <= out["min_loss_lr"] / 10 * (1 + 1e-9)
    assert len(out["lrs"]) == len(out["losses"]) and out["lrs"][0] == pytest.approx(1e-7)
    assert cli(["lr-find", "--data", str(data), "--model", "smallcnn", "--batch-size", "8"]) == 0
    text = capsys.readouterr().out
    assert "pick" in text and "1e-07" in text


def test_the_imbalance_warning_suggests_class_weights():
    from tlgui.core.data.sources import class_imbalance_warning

    assert "--class-weights balanced" in class_imbalance_warning({"a": 30, "b": 5})


def test_heads_of_timm_models_in_a_layer_decay_run_are_last():
    pytest.importorskip("timm")
    model = build_model("timm:efficientnet_b0", 2, device="meta")
    groups = block_groups(model, find_head_path(model), 0.8)
    assert groups[-1].paths == ("classifier",) and groups[0].paths == ("conv_stem", "bn1")
    assert groups[0].scale == pytest.approx(0.8 ** (len(groups) - 1))


def _stop_after(n):
    from tlgui.core.base.events import EpochStats
    from tlgui.core.training.control import TrainControl

    control = TrainControl()

    def on_event(event):
        if isinstance(event, EpochStats) and event.epoch == n:
            control.stop()

    return on_event, control


@pytest.mark.parametrize("stop_at", [1, 3])
def test_a_head_first_run_resumes_in_either_phase_to_the_same_result(data, tmp_path, stop_at):
    kw = dict(epochs=4, head_epochs=2, layer_lr_decay=0.5, lr=0.003, batch_size=8)
    whole = train(config(data, tmp_path / "whole", **kw))
    on_event, control = _stop_after(stop_at)
    stopped = train(config(data, tmp_path / "part", **kw), on_event, control)
    assert stopped.status == "stopped" and stopped.summary["epochs_completed"] == stop_at
    resumed = train(config(data, tmp_path / "part", **kw), resume=True)
    assert resumed.status == "completed" and resumed.summary["epochs_completed"] == 4
    assert [round(h["val_accuracy"], 6) for h in resumed.summary["history"]] == [
        round(h["val_accuracy"], 6) for h in whole.summary["history"]]


def test_a_resumed_lr_auto_run_keeps_its_found_rate(data, tmp_path):
    on_event, control = _stop_after(1)
    train(config(data, tmp_path / "part", lr="auto", epochs=2), on_event, control)
    saved = json.loads((tmp_path / "part" / "config.json").read_text())
    events = []
    train(TrainConfig.load(tmp_path / "part" / "config.json"), events.append, resume=True)
    assert not [e for e in events if isinstance(e, Message) and "finder" in e.text]  # not run again
    resumed = TrainConfig.load(tmp_path / "part" / "config.json")
    summary = json.loads((tmp_path / "part" / "summary.json").read_text())
    assert summary["lr_found"] == saved["lr_found"] == resumed.lr_found and summary["status"] == "completed"


@pytest.mark.parametrize(("freeze", "adapted_blocks"), [("none", ("features.0", "features.1", "features.2")),
                                                         ("upto:features.1", ("features.2",))])
def test_the_head_phase_re_estimates_the_batchnorm_layers_that_train_afterwards(data, tmp_path, monkeypatch, freeze,
                                                                                adapted_blocks):
    """The head phase caches features with BatchNorm in eval mode; unfrozen, those layers normalise by
    batch statistics. Their statistics are re-estimated on the data first (AdaBN), only theirs."""
    import torch

    from tlgui.core.training import feature_cache

    calls = []
    real = feature_cache.adapt_batchnorm

    def spy(prepared, should_stop, batch_size=64, paths=None):
        calls.append(tuple(paths))
        before = {p: prepared.model.get_submodule(p).running_mean.clone() for p in paths}
        done = real(prepared, should_stop, batch_size, paths)
        assert all(not torch.equal(before[p], prepared.model.get_submodule(p).running_mean) for p in paths)
        return done

    monkeypatch.setattr(feature_cache, "adapt_batchnorm", spy)
    events = []
    result = train(config(data, tmp_path / "run", epochs=2, head_epochs=1, freeze=freeze), events.append)
    assert result.status == "completed"
    assert len(calls) == 1 and calls[0] and all(p.startswith(adapted_blocks) for p in calls[0])
    model = build_model("smallcnn", 3, in_channels=1)
    expected = [p for p, m in model.named_modules()
                if isinstance(m, torch.nn.BatchNorm2d) and p.startswith(adapted_blocks)]
    assert list(calls[0]) == expected
    texts = [e.text for e in events if isinstance(e, Message)]
    assert any("train after the head phase re-estimated on this data first (AdaBN)" in t for t in texts)
    # without a head phase nothing is re-estimated unless asked (--bn-update-frozen)
    calls.clear()
    train(config(data, tmp_path / "plain", epochs=1, freeze="backbone"))
    assert calls == []
