"""What to label next (issue 26): the strategies on features with known clusters, auto's switch,
the honest estimate, the stored features, broken images, and ``tlgui label next --json``."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

from tlgui.core.models.zoo import SmallCNN
from tlgui.core.workflows import label_features
from tlgui.core.workflows.label_estimate import (
    calibrated,
    cross_validated,
    estimate_from_rows,
    estimate_history,
    wilson,
)
from tlgui.core.workflows.label_hints import hint_for
from tlgui.core.workflows.label_store import LabelStore
from tlgui.core.workflows.label_strategies import fit_head, margins, pick_margin, pick_typical
from tlgui.core.workflows.labelling import next_to_label, ranked_for_class

COLOURS = {"red": (200, 40, 40), "green": (40, 200, 40), "blue": (40, 40, 200)}


def blobs(per: int, centres: int, dim: int = 16, seed: int = 0, spread: float = 0.3):
    """Well separated clusters of unequal sizes: (features, cluster of each row)."""
    rng = np.random.default_rng(seed)
    middles = rng.normal(size=(centres, dim)) * 10
    sizes = [per + 5 * k for k in range(centres)]
    x = np.concatenate([m + rng.normal(size=(n, dim)) * spread for m, n in zip(middles, sizes, strict=True)])
    return x.astype(np.float32), np.repeat(np.arange(centres), sizes)


def test_typical_picks_cover_every_cluster_before_any_gets_a_second():
    x, cluster = blobs(30, 5)
    pool = np.ones(len(x), dtype=bool)
    labelled: list[int] = []
    for _ in range(5):  # one at a time, as an oracle labelling each pick
        pick = pick_typical(x, np.asarray(labelled, dtype=np.int64), pool, 1)[0]
        labelled.append(pick)
        pool[pick] = False
    assert sorted(cluster[labelled]) == [0, 1, 2, 3, 4]
    batch = pick_typical(x, np.zeros(0, dtype=np.int64), np.ones(len(x), dtype=bool), 5)
    assert sorted(cluster[batch]) == [0, 1, 2, 3, 4]  # and in one batch
    # the pick is a typical member: near its cluster's centre, not an outlier
    for index in batch:
        members = x[cluster == cluster[index]]
        distances = np.linalg.norm(members - members.mean(0), axis=1)
        assert np.linalg.norm(x[index] - members.mean(0)) <= np.median(distances)


def test_margin_picks_the_least_certain_with_about_a_fifth_random():
    probs = np.array([[0.98, 0.01, 0.01], [0.5, 0.49, 0.01], [0.4, 0.3, 0.3], [0.9, 0.05, 0.05],
                      [0.34, 0.33, 0.33]] + [[0.97, 0.02, 0.01]] * 20)
    pool = np.ones(len(probs), dtype=bool)
    picks = pick_margin(probs, pool, 10, np.random.default_rng(0))
    chosen = [i for i, how in picks if how == "margin"]
    assert [how for _i, how in picks].count("random") == 2 and len(picks) == 10
    drawn = [i for i, how in picks if how == "random"]
    rest = np.setdiff1d(np.arange(len(probs)), drawn)
    assert chosen == list(rest[np.argsort(margins(probs[rest]), kind="stable")][:8])  # least certain first
    assert set(chosen) >= {1, 2, 4} - set(drawn)  # margins 0.01, 0.1, 0.01
    assert picks[4][1] == "random" and picks[9][1] == "random"  # every fifth place
    pool[[1, 4]] = False  # labelled images are never picked again
    assert not {1, 4} & {i for i, _how in pick_margin(probs, pool, 10, np.random.default_rng(1))}


def test_the_estimate_of_the_random_picks_suggestions():
    rows = [{"path": f"/x/{i}", "label": "a", "suggested": "a" if i < 8 else "b", "confidence": 0.9,
             "picked": "random"} for i in range(10)]
    rows += [{"path": "/x/t", "label": "a", "suggested": "b", "confidence": 0.9, "picked": "margin"}]  # not counted
    estimate = estimate_from_rows(rows)
    assert estimate.accuracy == pytest.approx(0.8) and estimate.count == 10
    assert (estimate.low, estimate.high) == pytest.approx(wilson(8, 10))
    assert estimate.low == pytest.approx(0.5408, abs=1e-3) and estimate.high == pytest.approx(0.9314, abs=1e-3)
    assert "randomly drawn" in estimate.method and "before the image was labelled" in estimate.method
    assert estimate_from_rows(rows[:2]) is None  # too few random picks


def _cases(separable: bool, per_class: int = 8, seed: int = 0):
    """Features of 3 classes (separable or pure noise) and labels of per_class images each, a
    third of them random picks."""
    rng = np.random.default_rng(seed)
    y_all = np.repeat(np.arange(3), 200)
    x = rng.normal(size=(600, 20)).astype(np.float32)
    if separable:
        x[np.arange(600), y_all] += 4.0
    index = np.concatenate([rng.choice(np.flatnonzero(y_all == c), per_class, replace=False) for c in range(3)])
    rows = [{"picked": "random" if k % 3 == 0 else "typical", "suggested": "", "label": str(y_all[i])}
            for k, i in enumerate(index)]
    return x, index, y_all[index], rows, y_all


@pytest.mark.parametrize("separable", [True, False])
def test_the_calibrated_estimate_is_near_the_true_accuracy(separable):
    x, index, y, rows, y_all = _cases(separable)
    head = fit_head(x, index, y, 3)
    from tlgui.core.workflows.label_strategies import predict

    pool = np.ones(len(x), dtype=bool)
    pool[index] = False
    truth = float((predict(head, x[pool]).argmax(1) == y_all[pool]).mean())
    estimate = calibrated(x, index, y, rows, 3, head)
    assert estimate.method.startswith("calibrated") and estimate.count == 8
    assert abs(estimate.accuracy - truth) < (0.1 if separable else 0.2)  # 24 labels, 8 of them random
    if separable:
        assert estimate.low <= truth <= estimate.high
    # without random picks yet it says it rests on calibration alone
    alone = calibrated(x, index, y, [dict(r, picked="typical") for r in rows], 3, head)
    assert alone.count == 0 and "not yet checked against randomly drawn labels" in alone.method
    hint = hint_for(["0", "1", "2"], np.bincount(y), estimate, int(pool.sum()), cross_validated(x, index, y, 3))
    assert ("do not separate these classes" in hint) == (not separable)
    if not separable:
        assert "Which model?" in hint and "fine-tune" in hint


def make_folder(root, per_class: int = 12, broken: bool = True, seed: int = 0):
    """Colour classes of 20x20 PNGs at two depths; returns {path: class}."""
    rng = np.random.default_rng(seed)
    truth = {}
    for name, colour in COLOURS.items():
        for i in range(per_class):
            folder = root / ("deep" if i % 2 else "") / name[0]
            folder.mkdir(parents=True, exist_ok=True)
            pixels = np.clip(np.array(colour) + rng.normal(0, 25, (20, 20, 3)), 0, 255).astype(np.uint8)
            path = folder / f"{name}{i}.png"
            Image.fromarray(pixels).save(path)
            truth[str(path)] = name
    if broken:
        (root / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
        (root / "empty.jpg").write_bytes(b"")
    return truth


@pytest.fixture
def colour_folder(tmp_path):
    torch.manual_seed(0)
    weights = tmp_path / "smallcnn.pt"
    torch.save(SmallCNN(3, 3).state_dict(), weights)  # a state dict, as users' files are
    truth = make_folder(tmp_path / "imgs")
    return tmp_path / "imgs", str(weights), truth


@pytest.fixture
def passes(monkeypatch):
    """Counts backbone forward passes over the folder's images."""
    calls = []
    real = label_features.HeadInputs.__call__

    def counting(self, x):
        calls.append(len(x))
        return real(self, x)

    monkeypatch.setattr(label_features.HeadInputs, "__call__", counting)
    return calls


def _ask(folder, labels, weights, **kwargs):
    return next_to_label(folder, labels, model="smallcnn", weights=weights, feature_settings={"device": "cpu"},
                         **kwargs)


def test_the_backbone_runs_once_and_later_calls_reuse_the_stored_features(colour_folder, tmp_path, passes):
    folder, weights, _truth = colour_folder
    first = _ask(folder, tmp_path / "labels.csv", weights, n=4)
    assert sum(passes) == 36 and not first.features_reused  # every readable image once
    second = _ask(folder, tmp_path / "labels.csv", weights, n=4)
    assert sum(passes) == 36 and second.features_reused  # no backbone pass
    assert [s.path for s in second.next] == [s.path for s in first.next]
    (folder / "r" / "red0.png").unlink()  # another folder listing: other features
    _ask(folder, tmp_path / "labels.csv", weights, n=4)
    assert sum(passes) == 36 + 35


def test_broken_images_are_skipped_with_reasons_and_never_suggested(colour_folder, tmp_path):
    folder, weights, truth = colour_folder
    queue = _ask(folder, tmp_path / "labels.csv", weights, n=100, strategy="random")
    assert queue.total == 38 and len(queue.next) == 36
    assert {s.path for s in queue.next} == set(truth)
    reasons = dict(queue.skipped)
    assert set(reasons) == {str(folder / "broken.png"), str(folder / "empty.jpg")}
    assert all(reasons.values())


def _label(store, truth, queue, count=None):
    store.add_many([(s.path, truth[s.path], s.suggested, s.confidence, s.picked) for s in queue.next[:count]])


def test_auto_starts_typical_and_switches_to_margin_with_random_picks(colour_folder, tmp_path):
    folder, weights, truth = colour_folder
    store = LabelStore(tmp_path / "labels.csv", folder)
    store.set_classes(list(COLOURS))
    queue = _ask(folder, store.csv_path, weights, n=3)
    assert queue.strategy == "typical" and queue.labelled == 0 and queue.estimate is None
    assert all(s.suggested is None and s.picked == "typical" for s in queue.next)
    assert {truth[s.path] for s in queue.next} == set(COLOURS)  # one typical image of each colour
    _label(store, truth, queue)
    queue = _ask(folder, store.csv_path, weights, n=3)
    assert queue.strategy == "typical" and "until every class has 3 labels" in queue.reason
    assert all(s.suggested in COLOURS for s in queue.next)  # the model suggests from now on
    for _ in range(2):
        _label(store, truth, queue)
        queue = _ask(folder, store.csv_path, weights, n=5)
    assert queue.counts == {"red": 3, "green": 3, "blue": 3} or queue.strategy == "typical"
    while queue.strategy == "typical":
        _label(store, truth, queue, 1)
        queue = _ask(folder, store.csv_path, weights, n=5)
    assert queue.strategy == "margin" and "20 % drawn at random" in queue.reason
    assert [s.picked for s in queue.next].count("random") == 1
    assert not {s.path for s in queue.next} & set(store.labels())


def test_the_estimate_and_its_curve_come_from_the_random_picks(colour_folder, tmp_path):
    folder, weights, truth = colour_folder
    store = LabelStore(tmp_path / "labels.csv", folder)
    for _ in range(5):
        queue = _ask(folder, store.csv_path, weights, n=3, strategy="random", classes=list(COLOURS))
        _label(store, truth, queue)
    queue = _ask(folder, store.csv_path, weights, n=3)
    assert queue.estimate is not None and queue.estimate.count == 15
    assert queue.estimate.method.startswith("calibrated")
    assert 0.0 <= queue.estimate.low <= queue.estimate.accuracy <= queue.estimate.high <= 1.0
    history = estimate_history(store.csv_path)
    assert history and all(e.count >= 3 and "randomly drawn" in e.method for _n, e in history)
    assert [n for n, _e in history] == sorted(n for n, _e in history)


def test_ranked_for_class_sorts_the_unlabelled_by_that_class(colour_folder, tmp_path):
    folder, weights, truth = colour_folder
    store = LabelStore(tmp_path / "labels.csv", folder)
    by_class = {c: [p for p, t in truth.items() if t == c] for c in COLOURS}
    store.add_many([(p, c) for c, paths in by_class.items() for p in paths[:2]])
    ranked = ranked_for_class(folder, store.csv_path, "green", model="smallcnn", weights=weights, limit=10,
                              feature_settings={"device": "cpu"})
    assert len(ranked) == 10 and all(s.picked == "bulk" and s.suggested == "green" for s in ranked)
    assert [s.confidence for s in ranked] == sorted((s.confidence for s in ranked), reverse=True)
    assert not {s.path for s in ranked} & set(store.labels())
    assert sum(truth[s.path] == "green" for s in ranked) >= 8


KEYS = {"next", "strategy", "reason", "labelled", "total", "classes", "estimate", "seconds", "skipped", "hint"}


def test_cli_label_next_json_contract_and_the_labels_file_is_only_read(colour_folder, tmp_path, capsys):
    from tlgui.cli import main

    folder, weights, truth = colour_folder
    store = LabelStore(tmp_path / "labels.csv", folder)
    store.add_many([(p, t, "red", 0.5, "random") for p, t in list(truth.items())[::3]])
    before = (store.csv_path.read_bytes(), store.csv_path.stat().st_mtime_ns)
    argv = ["label", "next", "--data", str(folder), "--labels", str(store.csv_path), "--model", "smallcnn",
            "--weights", weights, "--n", "4", "--seed", "3", "--device", "cpu", "--json"]
    assert main(argv) == 0
    out = json.loads(capsys.readouterr().out)
    assert KEYS <= set(out)
    assert len(out["next"]) == 4 and all(set(s) == {"path", "suggested", "confidence", "picked"} for s in out["next"])
    assert out["labelled"] == 12 and out["total"] == 38 and sorted(out["classes"]) == sorted(COLOURS)
    assert set(out["estimate"]) == {"accuracy", "low", "high", "method", "count"}
    assert isinstance(out["seconds"], float) and out["strategy"] in ("typical", "margin")
    assert {p for p, _r in out["skipped"]} == {str(folder / "broken.png"), str(folder / "empty.jpg")}
    assert (store.csv_path.read_bytes(), store.csv_path.stat().st_mtime_ns) == before
    with pytest.raises(SystemExit) as exit_code:  # argparse: usage and one line
        main(argv[:-1] + ["--strategy", "best"])
    assert exit_code.value.code == 2
    assert main(["label", "next", "--data", str(folder), "--labels", str(store.csv_path), "--json"]) == 2
    assert "--model NAME --weights W, or --run RUN_DIR" in capsys.readouterr().err


def test_cli_label_next_reports_bad_label_lines_and_uses_the_rest(colour_folder, tmp_path, capsys):
    from tlgui.cli import main

    folder, weights, truth = colour_folder
    paths = list(truth)
    labels = tmp_path / "mine.csv"
    labels.write_text(f"path,label\n{paths[0]},red\n{tmp_path / 'elsewhere.png'},red\n{paths[1]},purple\n",
                      encoding="utf-8")
    (tmp_path / "mine.classes.json").write_text(json.dumps({"folder": str(folder), "classes": list(COLOURS)}),
                                                encoding="utf-8")
    assert main(["label", "next", "--data", str(folder), "--labels", str(labels), "--model", "smallcnn",
                 "--weights", weights, "--device", "cpu", "--json"]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["labelled"] == 1
    warnings = [line for line in captured.err.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 2 and "is not inside" in warnings[0] and "'purple'" in warnings[1]


def test_excluded_images_are_not_suggested(colour_folder, tmp_path):
    folder, weights, truth = colour_folder
    skip = sorted(truth)[:30]
    queue = _ask(folder, tmp_path / "labels.csv", weights, n=10, strategy="random", exclude=skip)
    assert len(queue.next) == 6 and not {s.path for s in queue.next} & set(skip)


def test_the_queue_runs_its_small_matrices_on_one_thread_and_gives_the_threads_back(colour_folder, tmp_path,
                                                                                 monkeypatch):
    from tlgui.core.workflows import labelling

    folder, weights, _truth = colour_folder
    seen = []
    real = labelling.pick_typical

    def spy(*args, **kwargs):
        seen.append(torch.get_num_threads())
        return real(*args, **kwargs)

    monkeypatch.setattr(labelling, "pick_typical", spy)
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        queue = _ask(folder, tmp_path / "labels.csv", weights, n=3, strategy="typical")
        assert seen == [1] and len(queue.next) == 3  # k-means and heads on stored features: one thread
        assert torch.get_num_threads() == 2  # given back for training
    finally:
        torch.set_num_threads(before)
