"""tlgui rank: candidates found where weights live, features scored, the cache shared with head-only runs."""

from __future__ import annotations

import json
import math
import threading
import time

import numpy as np
import pytest
import torch

from tests.core.learnable import image_folder
from tlgui.core.base.config import TrainConfig
from tlgui.core.base.errors import TlguiError
from tlgui.core.models.zoo import SmallCNN
from tlgui.core.training.loop import train
from tlgui.core.workflows.probes import knn_accuracy, linear_probe, log_evidence, logme
from tlgui.core.workflows.rank import RankConfig, rank
from tlgui.core.workflows.rank_advice import recommend


@pytest.fixture
def data(tmp_path):
    return str(image_folder(tmp_path / "data", per_class=20, size=16))


@pytest.fixture
def backbones(tmp_path):
    """A random smallcnn (its features separate the patterns) and one with every conv zeroed (constant features)."""
    torch.manual_seed(0)
    model = SmallCNN(3, 1)
    good = tmp_path / "good.pt"
    torch.save(model.state_dict(), good)
    dead = {k: (torch.zeros_like(v) if k.startswith("features") and v.dim() == 4 else v)
            for k, v in model.state_dict().items()}
    bad = tmp_path / "dead.pt"
    torch.save(dead, bad)
    return str(good), str(bad)


# ------------------------------------------------------------------ LogME, kNN, probe


def _direct_evidence(f, y, alpha, beta):
    """log N(y | 0, I/beta + F F^T / alpha): the evidence of Bayesian linear regression, evaluated directly."""
    n = f.shape[0]
    cov = np.eye(n) / beta + f @ f.T / alpha
    sign, logdet = np.linalg.slogdet(cov)
    assert sign > 0
    return float(-0.5 * (n * math.log(2 * math.pi) + logdet + y @ np.linalg.solve(cov, y)))


@pytest.mark.parametrize("n,d", [(8, 30), (40, 6)])  # N < D (the reference code's omission) and N > D
def test_log_evidence_matches_the_direct_formula(n, d):
    rng = np.random.default_rng(0)
    f = rng.normal(size=(n, d))
    y = (rng.random(n) > 0.5).astype(float)
    for alpha, beta in ((1.0, 1.0), (0.3, 5.0), (20.0, 0.5)):
        assert log_evidence(f, y, alpha, beta) == pytest.approx(_direct_evidence(f, y, alpha, beta), rel=1e-8, abs=1e-8)


def test_logme_knn_and_probe_prefer_informative_features():
    rng = np.random.default_rng(1)
    labels = np.repeat(np.arange(3), 20)
    good = rng.normal(size=(60, 16)) + 3 * np.eye(3, 16)[labels]
    noise = rng.normal(size=(60, 16))
    assert logme(good, labels, 3) > logme(noise, labels, 3)
    assert math.isfinite(logme(rng.normal(size=(10, 50)), np.arange(10) % 2, 2))  # N < D
    from tlgui.core.training.feature_cache import Features

    fg = Features(torch.tensor(good, dtype=torch.float32), torch.tensor(labels))
    fn = Features(torch.tensor(noise, dtype=torch.float32), torch.tensor(labels))
    assert knn_accuracy(fg, 3) > 0.9 > 0.6 > knn_accuracy(fn, 3)
    probe = linear_probe(fg, 3, folds=5)
    assert probe.accuracy > 0.8 and probe.folds == 5 and probe.train_accuracy >= probe.accuracy - 0.05
    assert linear_probe(fn, 3, folds=5).accuracy < 0.6


# ------------------------------------------------------------------ the rank


def test_informative_backbone_ranks_first_and_dead_one_is_flagged(data, backbones):
    good, dead = backbones
    result = rank(RankConfig(data=data, models=f"smallcnn={dead},smallcnn={good}", folds=3, device="cpu"))
    assert [c.weights for c in result.candidates] == [good, dead]
    first, last = result.candidates
    assert first.accuracy > 0.8 and last.accuracy < 0.55
    assert last.note and "random or unrelated" in last.note and first.note is None
    assert first.parameters == sum(p.numel() for p in SmallCNN(3, 1).parameters())
    assert first.seconds_per_image > 0 and first.knn_accuracy is not None and first.logme > last.logme
    rec = result.recommendation
    assert rec["model"] == "smallcnn" and rec["weights"] == good and rec["strategy"] == "head"
    assert "20 images per class" in rec["why"]
    assert (first.strategy, last.strategy) == ("head", "scratch")  # each its own advice
    # kept for the "Which model?" page, and read back as it was
    from tlgui.core.workflows.rank_store import load_rank, rank_file

    config = RankConfig(data=data, models=f"smallcnn={dead},smallcnn={good}", folds=3, device="cpu")
    kept, when = load_rank(config)
    assert kept.to_json()["candidates"] == result.to_json()["candidates"] and kept.recommendation == rec
    assert when <= time.time()
    assert load_rank(RankConfig(data=data + "-other", models=config.models)) is None
    rank_file(config).write_text("{not json")
    assert load_rank(config) is None  # a damaged file is no file, never a crash


def test_a_stopped_rank_is_not_kept(data, backbones):
    from tlgui.core.workflows.rank_store import load_rank

    config = RankConfig(data=data, models=f"smallcnn={backbones[0]}", folds=3, device="cpu")
    stop = threading.Event()
    stop.set()
    assert rank(config, stop=stop).status == "stopped"
    assert load_rank(config) is None


def test_bad_candidates_are_listed_with_their_reason(data, backbones, tmp_path):
    good, _ = backbones
    rgb_only = tmp_path / "rgb.pt"
    # three input channels for grey images: adapted or refused, never a crash
    torch.save(SmallCNN(3, 3).state_dict(), rgb_only)
    result = rank(RankConfig(data=data, models=f"smallcnn={good},nosuch,smallcnn={tmp_path / 'missing.pt'},"
                             f"smallcnn={rgb_only}", folds=2, device="cpu"))
    by_weights = {c.weights: c for c in result.candidates}
    assert len(result.candidates) == 4 and result.status == "completed"
    assert "unknown model" in by_weights["default"].problem
    assert "not found" in by_weights[str(tmp_path / "missing.pt")].problem
    rgb = by_weights[str(rgb_only)]
    assert rgb.ok  # its first convolution is adapted to one channel, as a training run adapts it
    assert {c.weights for c in result.candidates[:2]} == {good, str(rgb_only)}
    assert [c.ok for c in result.candidates][-2:] == [False, False]


def test_second_rank_and_head_only_run_reuse_the_features(data, backbones, extractions, tmp_path):
    good, _ = backbones
    config = RankConfig(data=data, models=f"smallcnn={good}", folds=5, device="cpu")
    first = rank(config).candidates[0]
    assert len(extractions) == 2 and not first.features_reused  # training and validation images
    second = rank(config).candidates[0]
    assert len(extractions) == 2 and second.features_reused
    assert second.accuracy == pytest.approx(first.accuracy)
    # the head-only run the recommendation describes: same split, same features, no backbone pass
    run = train(TrainConfig(data=data, model="smallcnn", weights=good, freeze="backbone", epochs=2, device="cpu",
                            out=str(tmp_path / "run")))
    assert len(extractions) == 2 and run.summary["feature_cache"]["used"]
    # its validation accuracy agrees with the K-fold estimate within the noise of 12 validation images
    noise = max(3 * first.accuracy_std, 2 * math.sqrt(0.25 / 12))
    assert abs(run.summary["final_val_accuracy"] - first.accuracy) <= noise


def test_stop_ends_between_candidates(data, backbones):
    good, dead = backbones
    stop = threading.Event()

    def on_event(event):
        if getattr(event, "done", None) is not None:
            stop.set()  # after the first candidate

    result = rank(RankConfig(data=data, models=f"smallcnn={good},smallcnn={dead}", folds=2, device="cpu"),
                  on_event, stop)
    assert result.status == "stopped" and len(result.candidates) == 1


def test_bad_data_is_one_error_not_a_candidate_problem(tmp_path, backbones):
    with pytest.raises(TlguiError):
        rank(RankConfig(data=str(tmp_path / "nowhere"), models=f"smallcnn={backbones[0]}"))


def test_recommendation_rules(tmp_path, monkeypatch):
    from tlgui.core.workflows.rank import CandidateResult

    def cand(acc, fit=1.0):
        return CandidateResult("resnet18", "default", accuracy=acc, accuracy_std=0.02, train_accuracy=fit)

    assert recommend([cand(0.8)], [30, 30])["strategy"] == "head"
    assert recommend([cand(0.8)], [500, 500])["strategy"] == "finetune"
    near = recommend([cand(0.52)], [500, 500])
    assert near["strategy"] == "scratch" and near["weights"] == "none" and "guessing" in near["why"]
    check = {"model": "resnet18", "best_strategy": "finetune", "path": "x/compare.json",
             "finetune": {"final_val_accuracy": 0.9}, "head": {"final_val_accuracy": 0.7}}
    measured = recommend([cand(0.8)], [30, 30], check)
    assert measured["strategy"] == "finetune" and "transfer check" in measured["why"] and "90%" in measured["why"]
    assert recommend([], [30, 30])["strategy"] == "scratch"


def test_previous_transfer_check_is_found(tmp_path):
    from tlgui.core.workflows.rank_advice import previous_check
    from tlgui.paths import runs_dir

    folder = runs_dir() / "compare-smallcnn"
    folder.mkdir(parents=True)
    (folder / "compare.json").write_text(json.dumps({"data": str(tmp_path / "d"), "model": "smallcnn",
                                                     "best_strategy": "head", "head": {"final_val_accuracy": 0.8}}))
    assert previous_check(str(tmp_path / "d"))["best_strategy"] == "head"
    assert previous_check(str(tmp_path / "other")) is None


def test_batched_probe_fits_what_one_head_fit_per_fold_fits():
    """Every fold's head, fitted together in one L-BFGS run, is the head a head-only run would fit alone."""
    from torch import nn

    from tlgui.core.training.feature_cache import Features
    from tlgui.core.training.head_fit import TOTAL_ITERATIONS, fit_full_batch, lbfgs
    from tlgui.core.workflows.probes import fit_heads, stratified_folds

    rng = np.random.default_rng(2)
    labels = np.repeat(np.arange(3), 30)
    x = torch.tensor(rng.normal(size=(90, 12)) + 1.5 * np.eye(3, 12)[labels], dtype=torch.float32)
    features = Features(x, torch.tensor(labels))
    held = torch.zeros(3, 90, dtype=torch.bool)
    for k, part in enumerate(stratified_folds(labels, 3, 0)):
        held[k, torch.as_tensor(part)] = True
    l2 = torch.tensor([1e-2, 1e-2, 1e-1])
    heads = fit_heads(features, ~held, l2, 3, seed=0, iterations=TOTAL_ITERATIONS)
    for k in range(3):
        train = torch.nonzero(~held[k]).squeeze(1)
        alone = nn.Linear(12, 3)
        part = Features(x[train], features.y[train])
        fit_full_batch(alone, lbfgs(alone, TOTAL_ITERATIONS), part, nn.CrossEntropyLoss(), float(l2[k]))
        assert torch.allclose(heads.weight[k], alone.weight, atol=2e-3)
        centred = heads.bias[k] - heads.bias[k].mean()  # softmax ignores a shift of every bias
        assert torch.allclose(centred, alone.bias - alone.bias.mean(), atol=2e-3)
    assert heads.weight[2].norm() < heads.weight[0].norm()  # each head its own L2 strength


def test_cache_info_and_clear_cover_the_stored_features(data, backbones, extractions, capsys):
    from tlgui.cli import main
    from tlgui.core.training.feature_store import store_dir

    good, _ = backbones
    config = RankConfig(data=data, models=f"smallcnn={good}", folds=2, device="cpu")
    rank(config)
    assert main(["cache", "info"]) == 0
    out = capsys.readouterr().out
    assert f"{store_dir()}: 1 stored feature set(s)" in out
    assert main(["cache", "clear"]) == 0 and "removed 1 stored feature set(s)" in capsys.readouterr().out
    assert not list(store_dir().glob("*.pt"))
    assert not rank(config).candidates[0].features_reused and len(extractions) == 4  # read afresh
    assert main(["cache", "info"]) == 0 and "1 stored feature set(s)" in capsys.readouterr().out
