"""Metrics against values worked out by hand on a 3x3 confusion matrix where class "b" is
never present and class "c" is never predicted."""

import csv
import math

import numpy as np
import pytest

from tlgui.core.results.metrics import (
    confusion_matrix,
    metrics_from_confusion,
    per_class_table,
    top_losses,
    write_confusion_csv,
    write_per_class_csv,
    write_top_losses_csv,
)

CLASSES = ["a", "b", "c"]
# rows = true class, columns = predicted
CM = np.array([
    [3, 1, 0],  # a: 4 samples, 3 right, 1 taken for b
    [0, 0, 0],  # b: never present
    [2, 1, 0],  # c: 3 samples, never predicted (column c is empty)
])  # fmt: skip


def test_hand_computed_values():
    m = metrics_from_confusion(CM)
    # precision: a 3/5; b 0/2 (predicted twice, never right); c undefined -> 0
    assert m["precision"] == pytest.approx([0.6, 0.0, 0.0])
    # recall: a 3/4; b undefined -> 0; c 0/3
    assert m["recall"] == pytest.approx([0.75, 0.0, 0.0])
    # F1 a = 2 * 0.6 * 0.75 / 1.35 = 2/3
    assert m["f1"] == pytest.approx([2 / 3, 0.0, 0.0])
    assert m["support"] == [4, 0, 3]
    assert m["predicted"] == [5, 2, 0]
    assert m["correct"] == [3, 0, 0]
    assert m["accuracy"] == pytest.approx(3 / 7)
    # balanced accuracy and macro F1 over the classes that are present (a, c) only
    assert m["balanced_accuracy"] == pytest.approx((0.75 + 0.0) / 2)
    assert m["macro_f1"] == pytest.approx((2 / 3 + 0.0) / 2)


def test_empty_and_perfect_matrices():
    empty = metrics_from_confusion(np.zeros((3, 3)))
    assert empty["accuracy"] == 0.0 and empty["balanced_accuracy"] == 0.0
    assert not any(math.isnan(v) for v in empty["precision"] + empty["recall"] + empty["f1"])
    perfect = metrics_from_confusion(np.diag([2, 5, 1]))
    assert perfect["accuracy"] == perfect["balanced_accuracy"] == perfect["macro_f1"] == 1.0
    with pytest.raises(ValueError, match=r"must be square, got shape \(2, 3\)"):
        metrics_from_confusion(np.zeros((2, 3)))


def test_confusion_matrix_rows_are_true_class():
    cm = confusion_matrix([0, 0, 0, 0, 2, 2, 2], [0, 0, 0, 1, 0, 0, 1], 3)
    np.testing.assert_array_equal(cm, CM)


def test_per_class_table_and_csv(tmp_path):
    table = per_class_table(CLASSES, CM)
    assert [r["class"] for r in table] == CLASSES
    assert table[0]["precision"] == pytest.approx(0.6) and table[2]["support"] == 3

    write_per_class_csv(tmp_path / "per_class.csv", CLASSES, CM)
    rows = list(csv.DictReader(open(tmp_path / "per_class.csv", newline="")))
    assert list(rows[0]) == ["class", "support", "predicted", "correct", "precision", "recall", "f1"]
    assert rows[0]["class"] == "a" and float(rows[0]["f1"]) == pytest.approx(2 / 3, abs=1e-6)
    assert rows[1]["support"] == "0" and float(rows[1]["recall"]) == 0.0

    write_confusion_csv(tmp_path / "confusion.csv", CLASSES, CM)
    grid = list(csv.reader(open(tmp_path / "confusion.csv", newline="")))
    assert grid[0][1:] == CLASSES
    assert [r[0] for r in grid[1:]] == CLASSES
    np.testing.assert_array_equal(np.array([[int(v) for v in r[1:]] for r in grid[1:]]), CM)


def test_top_losses_are_the_most_confidently_wrong():
    probs = np.array([
        [0.90, 0.05, 0.05],  # true a: right
        [0.10, 0.85, 0.05],  # true a: wrong, 0.85 sure of b
        [0.60, 0.10, 0.30],  # true c: wrong, 0.60 sure of a
        [0.05, 0.90, 0.05],  # true c: wrong, 0.90 sure of b  -> first
        [0.48, 0.04, 0.48],  # true c: a tie resolves to a (argmax), 0.48
    ])  # fmt: skip
    targets = np.array([0, 0, 2, 2, 2])
    paths = [f"img{i}.png" for i in range(5)]
    losses = top_losses(probs, targets, CLASSES, paths, k=3)
    assert [t.path for t in losses] == ["img3.png", "img1.png", "img2.png"]
    first = losses[0]
    assert (first.true, first.predicted) == ("c", "b")
    assert first.probability == pytest.approx(0.90)
    assert first.true_probability == pytest.approx(0.05)
    assert first.loss == pytest.approx(-math.log(0.05))
    assert len(top_losses(probs, targets, CLASSES, paths, k=10)) == 4  # only the wrong ones
    assert top_losses(np.zeros((0, 3)), np.zeros(0), CLASSES) == []


def test_top_losses_csv(tmp_path):
    probs = np.array([[0.2, 0.8], [0.7, 0.3]])
    losses = top_losses(probs, np.array([0, 0]), ["x", "y"], ["p, with comma.png", "q.png"])
    write_top_losses_csv(tmp_path / "t.csv", losses)
    rows = list(csv.DictReader(open(tmp_path / "t.csv", newline="")))
    assert rows == [{
        "path": "p, with comma.png", "true": "x", "predicted": "y", "probability": "0.800000",
        "true_probability": "0.200000", "loss": f"{-math.log(0.2):.6f}",
    }]  # fmt: skip
