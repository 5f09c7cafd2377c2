"""An honest accuracy estimate while labelling.

Accuracy measured on actively chosen images is biased (typical ones are easy, uncertain ones
hard). About one pick in five is drawn uniformly at random from the unlabelled images, so
those labels are an unbiased sample of the folder. Two uses of them:

- ``suggestions``: the model's suggestion for each random pick, made *before* the user
  labelled it (the CSV's ``suggested`` column), scored against the label given. Honest, but
  it measures the models of the past (each suggestion came from a head with fewer labels), so
  it lags behind. Needs the labels file only (the curve, :func:`estimate_history`).
- ``prediction-powered``: for the current head, the random picks are scored by cross-fitting
  (each predicted by a head fitted without it, 5 folds), and the head's mean confidence over
  the unlabelled images is corrected by the random picks' mean (correct - confidence)
  (prediction-powered inference, Angelopoulos et al., Science 2023, with the PPI++ power
  tuning): unbiased like the plain mean of the random picks, and tighter when the confidence
  tracks correctness. Used when at least :data:`MIN_RANDOM` random picks are labelled.
Intervals are 90 % (Wilson for a plain proportion, normal for PPI), clipped to 0..1.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from tlgui.core.workflows.label_strategies import Head, fit_head, predict

Z90 = 1.6449
MIN_RANDOM = 3  # random picks needed before any estimate
HISTORY_WINDOW = 20  # the curve: the latest random picks' suggestions (older ones came from weaker models)
FOLDS = 5


@dataclass
class Estimate:
    accuracy: float  # 0..1
    low: float
    high: float
    method: str  # plain words
    count: int  # randomly drawn labelled images it rests on


def wilson(correct: int, count: int, z: float = Z90) -> tuple[float, float]:
    if count == 0:
        return 0.0, 1.0
    p = correct / count
    denominator = 1 + z * z / count
    centre = (p + z * z / (2 * count)) / denominator
    half = z * math.sqrt(p * (1 - p) / count + z * z / (4 * count * count)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)


def _random_scored(rows: list[dict]) -> list[bool]:
    return [r["suggested"] == r["label"] for r in rows if r.get("picked") == "random" and r.get("suggested")]


def estimate_from_rows(rows: list[dict]) -> Estimate | None:
    """The ``suggestions`` estimate over these label rows (None with fewer than MIN_RANDOM)."""
    scored = _random_scored(rows)
    if len(scored) < MIN_RANDOM:
        return None
    correct = sum(scored)
    low, high = wilson(correct, len(scored))
    method = (f"the model's suggestions for the {len(scored)} randomly drawn images, each made before the image "
              "was labelled, scored against the labels given (Wilson 90 % interval)")
    return Estimate(correct / len(scored), low, high, method, len(scored))


def estimate_history(labels_csv) -> list[tuple[int, Estimate]]:
    """(labels so far, estimate) after each labelled random pick, for the curve: the latest
    :data:`HISTORY_WINDOW` random picks' suggestions at each point."""
    from tlgui.core.workflows.label_store import LabelStore

    rows = LabelStore(labels_csv).rows()
    points: list[tuple[int, Estimate]] = []
    randoms: list[dict] = []
    for position, row in enumerate(rows, start=1):
        if row.get("picked") != "random" or not row.get("suggested"):
            continue
        randoms.append(row)
        estimate = estimate_from_rows(randoms[-HISTORY_WINDOW:])
        if estimate is not None:
            points.append((position, estimate))
    return points


def _cross_fitted(x, labelled_index, labelled_y, random_positions, classes) -> tuple[np.ndarray, np.ndarray]:
    """(correct, confidence) of each random pick, predicted by a head fitted without it."""
    order = np.asarray(random_positions)
    correct = np.zeros(len(order))
    confidence = np.zeros(len(order))
    folds = np.arange(len(order)) % min(FOLDS, len(order))
    for fold in np.unique(folds):
        held = order[folds == fold]
        keep = np.ones(len(labelled_index), dtype=bool)
        keep[held] = False
        if len(np.unique(labelled_y[keep])) < 2:
            return np.zeros(0), np.zeros(0)
        head = fit_head(x, labelled_index[keep], labelled_y[keep], classes)
        probs = predict(head, x[labelled_index[held]])
        correct[folds == fold] = probs.argmax(1) == labelled_y[held]
        confidence[folds == fold] = probs.max(1)
    return correct, confidence


def prediction_powered(x, labelled_index, labelled_y, rows, classes: int, head: Head) -> Estimate | None:
    """The ``prediction-powered`` estimate (module docstring) for the current head."""
    positions = [i for i, row in enumerate(rows) if row.get("picked") == "random"]
    if len(positions) < MIN_RANDOM:
        return None
    correct, confidence = _cross_fitted(x, labelled_index, labelled_y, positions, classes)
    if not len(correct):
        return None
    pool = np.ones(len(x), dtype=bool)
    pool[labelled_index] = False
    if not pool.any():
        accuracy = float(correct.mean())
        low, high = wilson(int(correct.sum()), len(correct))
        return Estimate(accuracy, low, high, "cross-fitted predictions of the randomly drawn images", len(correct))
    unlabelled = predict(head, x[pool]).max(1)
    n, big_n = len(correct), len(unlabelled)
    # PPI++ power tuning: lambda = cov(correct, conf) / ((1 + n/N) var(conf)), kept in 0..1
    var_conf = float(np.var(confidence))
    lam = float(np.cov(correct, confidence)[0, 1]) / ((1 + n / big_n) * var_conf) if n > 1 and var_conf > 0 else 0.0
    lam = min(1.0, max(0.0, lam))
    rectifier = correct - lam * confidence
    accuracy = lam * float(unlabelled.mean()) + float(rectifier.mean())
    spread = math.sqrt(float(np.var(rectifier, ddof=1)) / n + lam * lam * float(np.var(unlabelled)) / big_n) \
        if n > 1 else 0.5
    spread = max(spread, 0.5 / n)  # a few picks that all agree do not make a zero-width interval
    method = (f"prediction-powered: the current model's mean confidence on the {big_n:,} unlabelled images, "
              f"corrected by its cross-fitted ({min(FOLDS, n)}-fold) errors on the {n} randomly drawn labelled "
              "images (PPI++, normal 90 % interval)")
    return Estimate(min(1.0, max(0.0, accuracy)), max(0.0, accuracy - Z90 * spread),
                    min(1.0, accuracy + Z90 * spread), method, n)


def cross_validated(x, labelled_index, labelled_y, classes: int) -> float | None:
    """K-fold accuracy over every labelled image (actively chosen, so biased: used only to tell
    whether the features separate the classes at all). None when a class has fewer than 2 labels."""
    counts = np.bincount(labelled_y, minlength=classes)
    if len(labelled_y) < 2 * classes or counts.min() < 2:
        return None
    folds = np.zeros(len(labelled_y), dtype=np.int64)
    for label in range(classes):  # stratified
        members = np.flatnonzero(labelled_y == label)
        folds[members] = np.arange(len(members)) % min(FOLDS, int(counts.min()))
    correct = 0
    for fold in np.unique(folds):
        held = folds == fold
        head = fit_head(x, labelled_index[~held], labelled_y[~held], classes)
        correct += int((predict(head, x[labelled_index[held]]).argmax(1) == labelled_y[held]).sum())
    return correct / len(labelled_y)


def honest_estimate(x, labelled_index, labelled_y, rows, classes: int, head: Head | None) -> Estimate | None:
    """The prediction-powered estimate when it can be made, else the suggestions' score, else None."""
    if head is not None:
        estimate = prediction_powered(x, labelled_index, labelled_y, rows, classes, head)
        if estimate is not None:
            return estimate
    return estimate_from_rows(rows)
