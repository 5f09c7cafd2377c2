"""Confident learning (Northcutt, Jiang and Chuang, JAIR 2021), written from the paper: which
given labels are probably wrong, from out-of-fold predicted probabilities.

1. per-class thresholds t_j: the mean predicted probability of class j over the images labelled j;
2. the confident joint C[i][j]: images labelled i whose probability of some class j reaches t_j
   (the likeliest such j), calibrated so each row sums to the class's image count;
3. prune by noise rate: from each class i, the round(n * Q[i][j]) images with the largest margin
   p_j - p_i are flagged, for every j != i (Q: the calibrated joint, normalised);
4. the flagged images ranked by normalised margin p_given - max_{j != given} p_j, lowest first.

:func:`rank_all` ranks every image instead, flagged or not, by self-confidence (the given
label's out-of-fold probability, lowest first): on real photos with 10 % of the labels flipped
it finds more flips in its top K and 2K than the flags alone, which stop at those confident
learning is sure of (benchmarks/bench_labels.py). The flags are kept as marks.

(cleanlab implements the same paper under the AGPL; tlgui does not use it.)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Suspect:
    index: int
    given: int
    suggested: int
    confidence: float
    margin: float  # normalised margin of the given label: lower is more suspicious
    flagged: bool = True  # confident learning flags this label as an issue
    self_confidence: float = 0.0  # the given label's out-of-fold probability


def thresholds(probs: np.ndarray, labels: np.ndarray) -> np.ndarray:
    classes = probs.shape[1]
    out = np.ones(classes)
    for j in range(classes):
        mine = labels == j
        if mine.any():
            out[j] = probs[mine, j].mean()
    return out


def confident_joint(probs: np.ndarray, labels: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Calibrated confident joint (classes x classes): rows given label, columns likely true label."""
    classes = probs.shape[1]
    above = probs >= t[None, :] - 1e-12
    masked = np.where(above, probs, -1.0)
    likely = masked.argmax(1)
    confident = above.any(1)
    joint = np.zeros((classes, classes))
    np.add.at(joint, (labels[confident], likely[confident]), 1)
    counts = np.bincount(labels, minlength=classes).astype(float)
    rows = joint.sum(1, keepdims=True)
    calibrated = np.where(rows > 0, joint / np.maximum(rows, 1) * counts[:, None], 0.0)
    return calibrated


def prune_by_noise_rate(probs: np.ndarray, labels: np.ndarray, joint: np.ndarray) -> np.ndarray:
    """Boolean mask of the images flagged as label issues."""
    n, classes = probs.shape
    q = joint / max(joint.sum(), 1e-12)
    flagged = np.zeros(n, dtype=bool)
    for i in range(classes):
        mine = np.flatnonzero(labels == i)
        for j in range(classes):
            if j == i or len(mine) == 0:
                continue
            count = int(round(n * q[i, j]))
            if count <= 0:
                continue
            margin = probs[mine, j] - probs[mine, i]
            flagged[mine[np.argsort(-margin, kind="stable")[: min(count, len(mine) - 1)]]] = True
    return flagged


def normalised_margin(probs: np.ndarray, labels: np.ndarray) -> np.ndarray:
    own = probs[np.arange(len(labels)), labels]
    others = probs.copy()
    others[np.arange(len(labels)), labels] = -np.inf
    return own - others.max(1)


def find_suspects(probs: np.ndarray, labels: np.ndarray) -> list[Suspect]:
    """The images whose given label is probably wrong, most suspicious first, each with the
    likeliest other class among those above their threshold (else the likeliest other class)."""
    return [s for s in _scored(probs, labels, by_margin=True) if s.flagged]


def rank_all(probs: np.ndarray, labels: np.ndarray) -> list[Suspect]:
    """Every image, most suspicious label first (lowest self-confidence; ties by normalised
    margin), each marked ``flagged`` where confident learning flags it."""
    return _scored(probs, labels, by_margin=False)


def _scored(probs: np.ndarray, labels: np.ndarray, by_margin: bool) -> list[Suspect]:
    probs = np.asarray(probs, dtype=np.float64)
    labels = np.asarray(labels, dtype=np.int64)
    t = thresholds(probs, labels)
    flagged = prune_by_noise_rate(probs, labels, confident_joint(probs, labels, t))
    margins = normalised_margin(probs, labels)
    own = probs[np.arange(len(labels)), labels]
    order = np.lexsort((margins,) if by_margin else (margins, own))  # the last key sorts first
    suspects = []
    for i in (int(i) for i in order):
        others = probs[i].copy()
        others[labels[i]] = -1.0
        above = np.where(others >= t - 1e-12, others, -1.0)
        suggested = int(above.argmax()) if above.max() >= 0 else int(others.argmax())
        suspects.append(Suspect(i, int(labels[i]), suggested, float(probs[i, suggested]), float(margins[i]),
                                bool(flagged[i]), float(own[i])))
    return suspects
