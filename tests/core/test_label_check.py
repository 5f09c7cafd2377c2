"""tlgui check-labels: a learnable set with 10 % of its labels flipped; every image is ranked,
the flipped images dominate the top of the ranking (frozen pretrained features, and short
trainings) and confident learning's flags are marked."""

import json
import shutil

import numpy as np
import pytest
import torch

from tlgui.cli import main as cli
from tlgui.core.models.zoo import build_model
from tlgui.core.workflows.confident import find_suspects, rank_all

from .learnable import image_folder

CLASSES = ("horizontal", "vertical", "dots")


def _noisy_set(root, per_class, flips, seed=1):
    image_folder(root, classes=CLASSES, per_class=per_class, size=32)
    rng = np.random.default_rng(seed)
    flipped = set()
    for source in rng.choice(sorted(root.glob("*/*.png")), flips, replace=False):
        others = [c for c in CLASSES if c != source.parent.name]
        target = root / others[int(rng.integers(2))] / f"flip_{source.name}"
        shutil.move(source, target)  # the test's own copy of the data: this is the noise
        flipped.add(str(target))
    return flipped


def _check(args, capsys, images=None):
    assert cli(["check-labels", *args, "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert sorted(report) == ["flagged_count", "images", "method", "suspects"]
    for s in report["suspects"]:
        assert sorted(s) == ["confidence", "flagged", "given", "path", "self_confidence", "suggested"]
        assert s["suggested"] != s["given"] and 0 < s["confidence"] <= 1 and 0 <= s["self_confidence"] <= 1
    # every image is ranked, once, least self-confident first; the flags are counted
    paths = [s["path"] for s in report["suspects"]]
    assert len(set(paths)) == len(paths) == report["images"]
    if images is not None:
        assert set(paths) == {str(p) for p in images.glob("*/*.png")}
    scores = [s["self_confidence"] for s in report["suspects"]]
    assert scores == sorted(scores)
    assert report["flagged_count"] == sum(s["flagged"] for s in report["suspects"]) > 0
    return report


def test_flipped_labels_dominate_the_top_with_frozen_pretrained_features(tmp_path, capsys):
    flipped = _noisy_set(tmp_path / "data", 30, 9)
    torch.manual_seed(0)
    torch.save(build_model("resnet18", 10, 3).state_dict(), tmp_path / "resnet18.pth")
    report = _check(["--data", str(tmp_path / "data"), "--model", "resnet18", "--weights",
                     str(tmp_path / "resnet18.pth"), "--image-size", "32"], capsys, tmp_path / "data")
    assert "5-fold L-BFGS" in report["method"] and "confident learning" in report["method"]
    top = [s["path"] for s in report["suspects"][:9]]
    assert sum(p in flipped for p in top) >= 6, report["suspects"][:9]


def test_short_trainings_when_the_backbone_is_not_pretrained(tmp_path, capsys):
    flipped = _noisy_set(tmp_path / "data", 20, 6)
    report = _check(["--data", str(tmp_path / "data"), "--model", "smallcnn", "--weights", "none",
                     "--folds", "3", "--epochs", "3"], capsys, tmp_path / "data")
    assert "3 short trainings of smallcnn" in report["method"]
    top = [s["path"] for s in report["suspects"][:6]]
    assert sum(p in flipped for p in top) >= 4, report["suspects"][:6]


def test_confident_learning_flags_the_confidently_contradicted():
    rng = np.random.default_rng(0)
    labels = np.repeat([0, 1, 2], 40)
    probs = np.full((120, 3), 0.05)
    probs[np.arange(120), labels] = 0.9
    wrong = [3, 50, 100]
    for i, other in zip(wrong, [1, 2, 0], strict=True):
        probs[i] = 0.05
        probs[i, other] = 0.9
    probs += rng.uniform(0, 0.02, probs.shape)
    probs /= probs.sum(1, keepdims=True)
    suspects = find_suspects(probs, labels)
    assert sorted(s.index for s in suspects) == wrong
    assert {(s.index, s.suggested) for s in suspects} == {(3, 1), (50, 2), (100, 0)}


def _known_flips(seed=0):
    """120 images of 3 classes; three labels flipped with the evidence against them graded
    (two confidently contradicted, one only doubtful), one correct but ambiguous image, the
    rest clearly right."""
    rng = np.random.default_rng(seed)
    labels = np.repeat([0, 1, 2], 40)
    probs = np.full((120, 3), 0.05)
    probs[np.arange(120), labels] = 0.9
    for i, (other, own) in {3: (1, 0.01), 50: (2, 0.03), 100: (0, 0.3)}.items():
        probs[i] = 0.05
        probs[i, other], probs[i, labels[i]] = 0.95 - own, own
    probs[70] = [0.1, 0.45, 0.45]  # labelled 1, as likely 2: uncertain, not contradicted
    probs += rng.uniform(0, 0.01, probs.shape)
    return probs / probs.sum(1, keepdims=True), labels


def test_every_image_is_ranked_by_suspicion_with_the_flags_marked():
    probs, labels = _known_flips()
    ranked = rank_all(probs, labels)
    assert sorted(s.index for s in ranked) == list(range(120))  # every image, once
    assert [s.index for s in ranked[:4]] == [3, 50, 100, 70]  # strongest evidence first, then the doubtful one
    own = [s.self_confidence for s in ranked]
    assert own == sorted(own) and own[0] == pytest.approx(probs[3, 0])
    flagged = {s.index for s in ranked if s.flagged}
    assert flagged == {s.index for s in find_suspects(probs, labels)}
    assert flagged == {3, 50}  # the weakly contradicted flip is not flagged, yet ranked third
    assert {(s.index, s.suggested) for s in ranked[:3]} == {(3, 1), (50, 2), (100, 0)}
    assert all(s.suggested != s.given for s in ranked)  # the likeliest other class, even for a right label


@pytest.mark.parametrize("args, words", [
    (["--data", "x"], "needs --data, --model and --weights"),
    (["--run", "/nonexistent-run"], "not a tlgui run folder"),
])
def test_bad_arguments_are_one_line_exit_2(args, words, capsys):
    assert cli(["check-labels", *args]) == 2
    assert words in capsys.readouterr().err


def test_a_run_folder_brings_model_weights_and_freezing(tmp_path, capsys):
    flipped = _noisy_set(tmp_path / "data", 30, 9)
    torch.manual_seed(0)
    torch.save(build_model("resnet18", 10, 3).state_dict(), tmp_path / "resnet18.pth")
    assert cli(["train", "--data", str(tmp_path / "data"), "--model", "resnet18", "--weights",
                str(tmp_path / "resnet18.pth"), "--freeze", "backbone", "--image-size", "32", "--epochs", "1",
                "--out", str(tmp_path / "run"), "--quiet"]) == 0
    capsys.readouterr()
    report = _check(["--run", str(tmp_path / "run")], capsys)
    assert "frozen pretrained resnet18" in report["method"]
    assert sum(s["path"] in flipped for s in report["suspects"][:9]) >= 6
