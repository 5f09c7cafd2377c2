"""The "did transfer help?" comparison: verdict wording, input checks before any training,
event order, the stop flag, and the chart."""

import json

import numpy as np
import pytest
from PIL import Image

from tests.core.learnable import image_folder
from tests.core.test_evaluate import write_model
from tlgui.cli import main as cli
from tlgui.core.base.errors import ConfigError, RunDirError, WeightsError
from tlgui.core.base.events import EpochStats
from tlgui.core.results.plotting import PALETTE, Series, nice_ticks, render_line_chart
from tlgui.core.training.control import TrainControl
from tlgui.core.workflows.compare import (
    CompareConfig,
    StrategyFinished,
    StrategyResult,
    StrategyStarted,
    run_comparison,
    verdict_text,
)


def result(name, final, seconds=10.0, val_images=1000):
    return StrategyResult(name, "completed", final, final, seconds, [final], [final], 1, val_images=val_images)


def test_verdict_when_fine_tuning_helps():
    text, gains = verdict_text(
        {"scratch": result("scratch", 0.50), "head": result("head", 0.376), "finetune": result("finetune", 0.581)},
        "the demo source model", 10,
    )
    assert gains == {"head": -12.4, "finetune": 8.1}
    assert text.startswith(
        "Fine-tuning from the demo source model gave +8.1 points over training from scratch after 10 epochs "
        "(58.1% vs 50.0%); training the head alone gave -12.4 (37.6%)."
    )
    assert "Transfer helped: fine-tune" in text


def test_verdict_says_plainly_when_transfer_did_not_help():
    text, gains = verdict_text(
        {"scratch": result("scratch", 0.80), "head": result("head", 0.55), "finetune": result("finetune", 0.70)},
        "resnet18-f37072fd.pth", 5,
    )
    assert gains["finetune"] == -10.0
    assert "Transfer did NOT help" in text and "10.0 points ahead of fine-tune" in text


def test_verdict_within_noise():
    text, _ = verdict_text(
        {"scratch": result("scratch", 0.70, val_images=200), "finetune": result("finetune", 0.72, val_images=200)},
        "x", 3,
    )
    assert "did NOT clearly help" in text and "200 validation images" in text
    assert text.startswith("Fine-tuning from x gave +2.0 points")


def test_verdict_without_baseline_or_transfer_and_when_stopped():
    text, gains = verdict_text({"head": result("head", 0.6)}, "x", 3)
    assert "cannot tell whether transfer helped" in text and gains == {}
    text, _ = verdict_text({"scratch": result("scratch", 0.6)}, "x", 3)
    assert text.startswith("Only training from scratch")
    stopped = StrategyResult("head", "stopped", None, None, 1.0)
    text, _ = verdict_text({"scratch": result("scratch", 0.6), "head": stopped}, "x", 3, stopped=True)
    assert "Stopped early" in text and "No complete epoch for: head only" in text


@pytest.fixture
def tiny(tmp_path):
    data = image_folder(tmp_path / "data", per_class=6, size=16)
    weights = write_model(tmp_path / "source.pt", classes=["p", "q"], channels=1, crop=16)
    return data, weights


def config(tmp_path, data, weights, **kw):
    base = dict(data=str(data), model="smallcnn", weights=str(weights), epochs=1, out=str(tmp_path / "cmp"),
                batch_size=8, device="cpu")
    base.update(kw)
    return CompareConfig(**base)


def test_bad_input_fails_before_training(tiny, tmp_path):
    data, weights = tiny
    with pytest.raises(ConfigError, match="unknown strategy"):
        run_comparison(config(tmp_path, data, weights, strategies=("scratch", "frozen")))
    with pytest.raises(ConfigError, match="nothing to transfer"):
        run_comparison(config(tmp_path, data, "none"))
    with pytest.raises(WeightsError, match="not found"):
        run_comparison(config(tmp_path, data, tmp_path / "missing.pt"))
    assert not (tmp_path / "cmp" / "scratch").exists()  # the baseline never started
    (tmp_path / "cmp" / "head").mkdir(parents=True)
    (tmp_path / "cmp" / "head" / "summary.json").write_text(json.dumps({"status": "completed"}))
    with pytest.raises(RunDirError, match="--overwrite"):
        run_comparison(config(tmp_path, data, weights))


def test_events_order_and_stop_ends_the_sequence(tiny, tmp_path):
    data, weights = tiny
    control = TrainControl()
    events = []

    def on_event(event):
        events.append(event)
        if isinstance(event, StrategyFinished) and event.name == "scratch":
            control.stop()

    outcome = run_comparison(config(tmp_path, data, weights), on_event, control)
    kinds = [type(e).__name__ for e in events if isinstance(e, (StrategyStarted, StrategyFinished, EpochStats))]
    assert kinds == ["StrategyStarted", "EpochStats", "StrategyFinished"]
    assert outcome.status == "stopped" and list(outcome.strategies) == ["scratch"]
    report = json.loads((tmp_path / "cmp" / "compare.json").read_text())
    assert report["status"] == "stopped" and list(report["strategies"]) == ["scratch"]
    assert report["strategies_planned"] == ["scratch", "head", "finetune"]
    assert "Only training from scratch" in report["verdict"] and "Stopped early" in report["verdict"]
    assert Image.open(tmp_path / "cmp" / "compare.png").size == (900, 560)


def test_cli_compare_errors_are_one_line(tiny, tmp_path, capsys):
    data, _ = tiny
    code = cli(["compare", "--data", str(data), "--model", "smallcnn", "--weights", "none", "--epochs", "1",
                "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err.strip()
    assert code == 2 and err.startswith("tlgui: error:") and "nothing to transfer" in err and len(err.splitlines()) == 1
    code = cli(["compare", "--data", str(data), "--model", "smallcnn", "--weights", "none", "--epochs", "0",
                "--strategies", "scratch", "--out", str(tmp_path / "o")])
    assert code == 2 and "--epochs" in capsys.readouterr().err


def test_nice_ticks():
    assert nice_ticks(0.1, 0.7, 8) == pytest.approx([0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7])
    assert nice_ticks(1, 10, 12, integer=True) == list(range(1, 11))
    assert nice_ticks(1, 40, 8, integer=True) == [5, 10, 15, 20, 25, 30, 35, 40]


def test_chart_draws_every_series():
    image = render_line_chart(
        [Series("a", [1, 2, 3], [0.2, 0.5, 0.6]), Series("b", [1, 2, 3], [0.3, 0.4, float("nan")])],
        title="t", xlabel="epoch", ylabel="acc", percent=True, reference=(0.25, "chance"), size=(400, 300),
    )
    assert image.size == (400, 300) and image.mode == "RGB"
    pixels = np.asarray(image).reshape(-1, 3).astype(int)
    for hex_color in PALETTE[:2]:
        rgb = np.array([int(hex_color[i : i + 2], 16) for i in (1, 3, 5)])
        assert (np.abs(pixels - rgb).sum(1) < 30).sum() > 50, hex_color


def test_compare_passes_split_and_settings_to_every_strategy():
    from tlgui.core.workflows.compare import CompareConfig

    config = CompareConfig(data="d", model="smallcnn", weights="demo:source", out="/tmp/x", split="test",
                           val_split=0.3, device="cpu", optimizer="sgd", schedule="onecycle")
    for strategy in ("scratch", "head", "finetune"):
        t = config.train_config(strategy)
        assert (t.split, t.val_split, t.device, t.optimizer, t.schedule) == ("test", 0.3, "cpu", "sgd", "onecycle")


def test_three_runs_decode_each_image_once_and_head_only_trains_on_cached_features(tiny, tmp_path, monkeypatch):
    from tlgui.core.data import decode
    from tlgui.core.data.decode_cache import DecodeCache
    from tlgui.core.training import prepare

    data, weights = tiny
    decoded, caches = [], []
    load = decode._load_raw
    monkeypatch.setattr(decode, "_load_raw", lambda images, index, prep=None: (
        decoded.append(images.paths[index]), load(images, index, prep))[1])

    class Recorded(DecodeCache):  # the decode cache of each run, to read its hits afterwards
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            caches.append(self)

    monkeypatch.setattr(prepare, "DecodeCache", Recorded)
    lookups = []
    get = DecodeCache.get
    monkeypatch.setattr(DecodeCache, "get", lambda self, key, shape: (lookups.append(key), get(self, key, shape))[1])
    # the image size of the source weights for all three (smallcnn's default, 28 px, would
    # make the baseline decode at another size than the two transfer runs)
    outcome = run_comparison(config(tmp_path, data, weights, image_size=16))
    assert outcome.status == "completed" and list(outcome.strategies) == ["scratch", "head", "finetune"]
    images = 18  # tiny: 3 classes x 6 files
    assert len(decoded) == len(set(decoded)) == images  # every file decoded once over the three runs
    assert [(c.hits, c.writes) for c in caches] == [(0, images), (images, 0), (images, 0)]
    assert len(lookups) == 3 * images  # one pass per run over the images, not a second one
    head = json.loads((tmp_path / "cmp" / "head" / "summary.json").read_text())
    # batch_size 8 is an explicit choice, so the head trains in steps, on the cached features
    assert head["feature_cache"]["used"] is True and head["head_fit"]["method"] == "steps"
    for name in ("scratch", "finetune"):
        summary = json.loads((tmp_path / "cmp" / name / "summary.json").read_text())
        assert summary["feature_cache"]["used"] is False
