"""Stratified train/validation splits and subsets."""

from __future__ import annotations

import numpy as np


def stratified_split(
    labels: np.ndarray, fraction: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """(train_idx, val_idx), ``fraction`` of each class going to validation.

    Seeded and deterministic; every class with at least two samples gets at least one in
    each part (a single-sample class stays in training). Both index arrays are sorted.
    """
    if not 0 < fraction < 1:
        raise ValueError(f"validation fraction must be between 0 and 1, got {fraction}")
    labels = np.asarray(labels)
    rng = np.random.default_rng(seed)
    train, val = [], []
    for cls in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == cls))
        n = len(members)
        n_val = 0 if n < 2 else min(max(int(round(n * fraction)), 1), n - 1)
        val.append(members[:n_val])
        train.append(members[n_val:])
    return _joined(train), _joined(val)


def _joined(parts: list[np.ndarray]) -> np.ndarray:
    return np.sort(np.concatenate(parts)).astype(np.int64) if parts else np.zeros(0, np.int64)


def stratified_subset(labels: np.ndarray, max_count: int, seed: int) -> np.ndarray:
    """Sorted indices of at most ``max_count`` samples keeping the class proportions
    (each class keeps at least one sample when ``max_count`` allows)."""
    labels = np.asarray(labels)
    if max_count >= len(labels):
        return np.arange(len(labels), dtype=np.int64)
    if max_count <= 0:
        return np.zeros(0, dtype=np.int64)
    classes, sizes = np.unique(labels, return_counts=True)
    exact = sizes * (max_count / len(labels))
    quota = np.floor(exact).astype(np.int64)
    if max_count >= len(classes):
        quota = np.maximum(quota, 1)
    # hand out what is left by largest remainder, then trim any excess from the biggest
    order = np.argsort(-(exact - np.floor(exact)), kind="stable")
    i = 0
    while quota.sum() < max_count:
        c = order[i % len(order)]
        if quota[c] < sizes[c]:
            quota[c] += 1
        i += 1
    while quota.sum() > max_count:
        quota[np.argmax(quota)] -= 1
    rng = np.random.default_rng(seed)
    keep = [
        rng.permutation(np.flatnonzero(labels == c))[:q]
        for c, q in zip(classes, quota, strict=True)
    ]
    return np.sort(np.concatenate(keep)).astype(np.int64)
