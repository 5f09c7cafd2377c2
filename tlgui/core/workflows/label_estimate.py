"""An honest accuracy estimate while labelling.

Accuracy measured on actively chosen images is biased (typical ones are easy, uncertain ones
hard). About one pick in five is drawn uniformly at random from the unlabelled images, so
those labels are an unbiased sample of the folder. Two uses of them:

- ``suggestions``: the model's suggestion for each random pick, made *before* the user
  labelled it (the CSV's ``suggested`` column), scored against the label given. Honest, but
  it measures the models of the past (each suggestion came from a head with fewer labels), so
  it lags behind. Needs the labels file only (the curve, :func:`estimate_history`).
- ``calibrated``: the current head's mean confidence over the unlabelled images is the
  expected accuracy *if* its probabilities are calibrated; they are made so by a softmax
  temperature fitted on k-fold (held-out) predictions of all labelled images. That number is
  then updated by the random picks' held-out hits (a beta-binomial update in which the
  confidence counts as :data:`PRIOR_IMAGES` labels): with few random picks it leans on the
  calibration, with many on the random picks, which are unbiased. Made once every class with
  labels has two; before any random pick is labelled the method says it rests on calibration
  alone. (Simulated 5-class Gaussian features, 8 labels per class, auto strategy, 6 seeds:
  a mean error of 4 to 11 points against the true accuracy, where the random picks' suggestions
  alone, about 5 of them, were 16 to 22 points off.)
Intervals are 90 % (Wilson for a plain proportion, normal for the beta posterior), clipped to 0..1.
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
PRIOR_IMAGES = 30  # calibrated: what the model's own confidence counts for, in randomly drawn labels


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


def _temperature(probs: np.ndarray, labels: np.ndarray) -> float:
    """The softmax temperature with the lowest log loss of these held-out predictions."""
    logp = np.log(probs + 1e-12)
    best, best_loss = 1.0, np.inf
    for temperature in np.exp(np.linspace(np.log(0.2), np.log(100.0), 80)):
        scaled = _scale(logp, temperature)
        loss = -float(np.mean(np.log(scaled[np.arange(len(labels)), labels] + 1e-12)))
        if loss < best_loss:
            best, best_loss = float(temperature), loss
    return best


def _scale(logp: np.ndarray, temperature: float) -> np.ndarray:
    z = logp / temperature
    z = z - z.max(1, keepdims=True)
    q = np.exp(z)
    return q / q.sum(1, keepdims=True)


def held_out(x, labelled_index, labelled_y, classes) -> np.ndarray | None:
    """k-fold predicted probabilities of every labelled image (stratified folds), None when a class has < 2."""
    counts = np.bincount(labelled_y, minlength=classes)
    present = counts[counts > 0]
    if len(present) < 2 or present.min() < 2:
        return None
    folds = np.zeros(len(labelled_y), dtype=np.int64)
    for label in np.flatnonzero(counts):
        members = np.flatnonzero(labelled_y == label)
        folds[members] = np.arange(len(members)) % min(FOLDS, int(present.min()))
    probs = np.zeros((len(labelled_y), classes))
    for fold in np.unique(folds):
        held = folds == fold
        head = fit_head(x, labelled_index[~held], labelled_y[~held], classes)
        probs[held] = predict(head, x[labelled_index[held]])
    return probs


def calibrated(x, labelled_index, labelled_y, rows, classes: int, head: Head, held=None) -> Estimate | None:
    """The ``calibrated`` estimate (module docstring) for the current head; ``held``: the
    labelled images' :func:`held_out` probabilities when already computed."""
    positions = [i for i, row in enumerate(rows) if row.get("picked") == "random"]
    held = held_out(x, labelled_index, labelled_y, classes) if held is None else held
    if held is None:
        return None
    hits = held.argmax(1)[positions] == labelled_y[positions]
    pool = np.ones(len(x), dtype=bool)
    pool[labelled_index] = False
    if not pool.any() and len(hits):
        low, high = wilson(int(hits.sum()), len(hits))
        return Estimate(float(hits.mean()), low, high, "held-out predictions of the randomly drawn images", len(hits))
    if not pool.any():
        return None
    temperature = _temperature(held, labelled_y)
    prior = float(_scale(np.log(predict(head, x[pool]) + 1e-12), temperature).max(1).mean())
    a = prior * PRIOR_IMAGES + float(hits.sum())
    b = (1 - prior) * PRIOR_IMAGES + float(len(hits) - hits.sum())
    mean = a / (a + b)
    spread = math.sqrt(a * b / ((a + b) ** 2 * (a + b + 1)))
    method = (f"calibrated: the current model's mean confidence on the {int(pool.sum()):,} unlabelled images "
              f"(softmax temperature {temperature:.2g}, fitted on {FOLDS}-fold predictions of the labelled images), "
              + (f"updated by its held-out hits on the {len(hits)} randomly drawn labelled images (beta-binomial, "
                 f"the confidence counting as {PRIOR_IMAGES} images; 90 % interval)" if len(hits) else
                 "not yet checked against randomly drawn labels (none labelled yet; 90 % interval as if "
                 f"worth {PRIOR_IMAGES} of them)"))
    return Estimate(mean, max(0.0, mean - Z90 * spread), min(1.0, mean + Z90 * spread), method, len(hits))


def cross_validated(x, labelled_index, labelled_y, classes: int, held=None) -> float | None:
    """k-fold accuracy over every labelled image (actively chosen, so biased: used only to tell
    whether the features separate the classes at all). None when a class has fewer than 2 labels."""
    probs = held_out(x, labelled_index, labelled_y, classes) if held is None else held
    return None if probs is None else float((probs.argmax(1) == labelled_y).mean())


def honest_estimate(x, labelled_index, labelled_y, rows, classes: int, head: Head | None,
                    held=None) -> Estimate | None:
    """The calibrated estimate when it can be made, else the suggestions' score, else None."""
    if head is not None:
        estimate = calibrated(x, labelled_index, labelled_y, rows, classes, head, held)
        if estimate is not None:
            return estimate
    return estimate_from_rows(rows)
