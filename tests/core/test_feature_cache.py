"""Head-only training on cached backbone features, and the head fit that converges."""

import copy
import json

import pytest
import torch
from torch import nn

from tlgui.core.base.config import TrainConfig
from tlgui.core.base.events import Message
from tlgui.core.training import feature_cache, loop
from tlgui.core.training.feature_cache import capture_features, trains_head_only
from tlgui.core.training.head_fit import uses_auto_fit
from tlgui.core.training.prepare import prepare

from .learnable import image_folder


def _config(tmp_path, **kw):
    data = image_folder(tmp_path / "data", per_class=12, size=32)
    base = {"data": str(data), "model": "resnet18", "out": str(tmp_path / "run"), "freeze": "backbone",
            "epochs": 3, "image_size": 32, "seed": 0}
    base.update(kw)
    return TrainConfig(**base)


def test_cached_features_equal_the_frozen_backbone_in_eval_mode(tmp_path):
    # fp32: the reference below runs without autocast (on a CPU with native bf16, auto picks
    # bf16 and the two differ by bf16 rounding, ~3e-2, not by a capture error)
    prepared = prepare(_config(tmp_path, precision="fp32"), lambda e: None)
    assert trains_head_only(prepared)
    prepared.model.train()  # capture must switch to eval mode itself
    feats = capture_features(prepared, True, 1, "none", torch.Generator(), lambda: False)
    backbone = copy.deepcopy(prepared.model).eval()
    backbone.fc = nn.Identity()
    with torch.no_grad():
        live = backbone(prepared.preprocessing.normalize(prepared.train_x))
    assert feats.x.shape == live.shape
    torch.testing.assert_close(feats.x, live, rtol=1e-4, atol=1e-4)
    assert torch.equal(feats.y, prepared.train_y)


def test_head_only_run_uses_the_cache_and_records_it(tmp_path):
    events = []
    result = loop.train(_config(tmp_path), events.append)
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["feature_cache"]["used"] is True and summary["feature_cache"]["views"] == 1
    assert isinstance(summary["feature_cache"]["seconds"], float)  # recorded (a time: never compared)
    from tlgui.core.training.precision import resolve_precision

    assert summary["precision"] == resolve_precision("auto", torch.device("cpu")).name  # what auto means here
    texts = [e.text for e in events if isinstance(e, Message)]
    assert any("feature cache" in t for t in texts) and any("L-BFGS" in t for t in texts)
    assert result.summary["epochs_completed"] == 3 and len(summary["history"]) == 3
    # the saved model is the whole network with the fitted head, and it scores what validation said
    from tlgui.core.results.run_evaluation import evaluate_run

    evaluation = evaluate_run(tmp_path / "run", device="cpu")
    assert evaluation.n == summary["val_images"]
    assert evaluation.accuracy == pytest.approx(summary["final_val_accuracy"], abs=1e-6)


def test_fine_tuning_does_not_use_the_cache(tmp_path):
    loop.train(_config(tmp_path, freeze="upto:layer3", epochs=1))
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["feature_cache"] == {"used": False, "views": 0, "seconds": 0.0}


def test_head_only_reaches_at_least_the_live_loop(tmp_path, monkeypatch):
    # 60 separate validation images (not ~7 held out), so the comparison means something;
    # measured: the cached L-BFGS fit 100 %, the old live loop (Adam steps) 38 %, chance 33 %
    val = str(image_folder(tmp_path / "val", per_class=20, size=32, seed=5))
    cached = loop.train(_config(tmp_path, out=str(tmp_path / "cached"), epochs=2, val_data=val))
    # the old live loop (the cache is built where each phase is set up: training/recipe.py)
    monkeypatch.setattr("tlgui.core.training.recipe.build_feature_cache", lambda *a, **k: None)
    live = loop.train(_config(tmp_path, out=str(tmp_path / "live"), epochs=2, val_data=val))
    assert live.summary["feature_cache"]["used"] is False and cached.summary["head_fit"]["method"] == "lbfgs"
    assert cached.summary["best_val_accuracy"] >= max(live.summary["best_val_accuracy"], 0.9)


def test_explicit_optimizer_settings_are_honoured(tmp_path):
    config = _config(tmp_path, lr=0.05, optimizer="sgd", schedule="constant", epochs=1, batch_size=8)
    assert not uses_auto_fit(config)
    events = []
    loop.train(config, events.append)
    rows = (tmp_path / "run" / "metrics.csv").read_text().splitlines()
    assert "0.05" in rows[1]
    assert not any(isinstance(e, Message) and "L-BFGS" in e.text for e in events)
    assert json.loads((tmp_path / "run" / "summary.json").read_text())["feature_cache"]["used"] is True


def test_augmented_views_are_cached_and_logged(tmp_path):
    events = []
    loop.train(_config(tmp_path, augment="flip", cache_views=3, epochs=1), events.append)
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["feature_cache"]["views"] == 3
    assert any(isinstance(e, Message) and "3 augmented views" in e.text for e in events)


def test_adabn_reestimates_frozen_batchnorm_before_caching(tmp_path):
    prepared = prepare(_config(tmp_path, bn_update_frozen=True, precision="fp32"), lambda e: None)  # fp32 reference
    bn = prepared.model.bn1
    assert torch.all(bn.running_mean == 0)  # fresh model: untouched statistics
    feature_cache.adapt_batchnorm(prepared, lambda: False)
    x = prepared.preprocessing.normalize(prepared.train_x)
    with torch.no_grad():
        expected = prepared.model.conv1(x).mean(dim=(0, 2, 3))
    torch.testing.assert_close(bn.running_mean, expected, rtol=1e-3, atol=1e-4)
    assert not prepared.model.training


def test_model_that_does_more_after_its_head_falls_back_to_the_live_loop(tmp_path):
    prepared = prepare(_config(tmp_path), lambda e: None)
    original = prepared.model.forward
    prepared.model.forward = lambda x: original(x) * 2.0  # something after the head
    events = []
    assert feature_cache.build_feature_cache(prepared, torch.Generator(), events.append, lambda: False) is None
    assert any(isinstance(e, Message) and "does more after its head" in e.text for e in events)


@pytest.mark.parametrize("augment", ["none", "standard"])
def test_stop_during_caching_ends_the_run_cleanly(tmp_path, augment):
    from tlgui.core.base.events import Stage
    from tlgui.core.training.control import TrainControl

    control = TrainControl()

    def on_event(event):
        if isinstance(event, Stage) and event.name == "cache":
            control.stop()

    result = loop.train(_config(tmp_path, augment=augment), on_event, control=control)
    assert result.status == "stopped" and result.summary["epochs_completed"] == 0


def test_cache_build_runs_the_backbone_once_per_image(tmp_path):
    prepared = prepare(_config(tmp_path), lambda e: None)
    seen = []
    prepared.model.conv1.register_forward_hook(lambda _m, inp, _out: seen.append(len(inp[0])))
    cache = feature_cache.build_feature_cache(prepared, torch.Generator(), lambda e: None, lambda: False)
    assert cache is not None
    images = prepared.train_count + prepared.val_count
    # every image once, plus the few whose whole forward pass checks that the head comes last
    assert sum(seen) == images + feature_cache._CHECK_IMAGES


def test_cached_run_writes_its_first_and_final_checkpoints_not_every_epoch(tmp_path, monkeypatch):
    from tlgui.core.results.runs import RunDir

    written = []
    original = RunDir.save_state
    monkeypatch.setattr(RunDir, "save_state", lambda self, name, state: (written.append((name, state["epoch"])),
                                                                         original(self, name, state))[1])
    result = loop.train(_config(tmp_path, epochs=6))
    assert result.summary["feature_cache"]["used"] is True
    best = result.summary["best_epoch"]
    # epoch 1 at once (a run killed in its first 30 s can be resumed), then the final states only
    assert written[:2] == [("best", 1), ("last", 1)]
    assert sorted(written[2:]) == sorted([("last", 6)] + ([("best", best)] if best > 1 else []))
    last = torch.load(tmp_path / "run" / "checkpoints" / "last.pt", weights_only=False)
    saved_head = last["model"]["fc.weight"]
    final = torch.load(tmp_path / "run" / "model.pt", weights_only=False)
    torch.testing.assert_close(saved_head, final["state_dict"]["fc.weight"])


def test_cached_run_stopped_midway_keeps_its_last_completed_epoch(tmp_path):
    from tlgui.core.base.events import EpochStats
    from tlgui.core.training.control import TrainControl

    control = TrainControl()

    def on_event(event):
        if isinstance(event, EpochStats) and event.epoch == 2:
            control.stop()

    result = loop.train(_config(tmp_path, epochs=6), on_event, control=control)
    assert result.status == "stopped" and result.summary["epochs_completed"] == 2
    last = torch.load(tmp_path / "run" / "checkpoints" / "last.pt", weights_only=False)
    assert last["epoch"] == 2  # written on stop, so --resume continues from epoch 3
    resumed = loop.train(_config(tmp_path, epochs=6), resume=True)
    assert resumed.status == "completed" and resumed.summary["epochs_completed"] == 6


def test_cache_outcome_says_why_the_model_rules_the_cache_out(tmp_path):
    """The rank reads the reason from the outcome, not from the message's words."""
    prepared = prepare(_config(tmp_path), lambda e: None)
    original = prepared.model.forward
    prepared.model.forward = lambda x: original(x) * 2.0  # something after the head
    outcome = feature_cache.cache_features(prepared, torch.Generator(), lambda e: None, lambda: False)
    assert outcome.cache is None and outcome.not_used == "the model does more after its head module"
    prepared.model.forward = original
    outcome = feature_cache.cache_features(prepared, torch.Generator(), lambda e: None, lambda: False)
    assert outcome.cache is not None and outcome.not_used == "" and not outcome.cache.reused
