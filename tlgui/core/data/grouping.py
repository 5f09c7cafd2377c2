"""Splits that do not leak: sub-folder groups stay on one side, exact duplicates too.

Images from one patient, session or plate look more alike than images from different
ones; when some land in training and some in validation, validation accuracy flatters
the model. Byte-identical copies are the extreme case. This module finds both and builds
a stratified split that keeps them together.
"""

from __future__ import annotations

import hashlib
import os
from collections import defaultdict
from dataclasses import dataclass

import numpy as np

from tlgui.core.base.checksums import sha256_of
from tlgui.core.data.sources import ImageSet
from tlgui.core.data.split import stratified_split


@dataclass
class SplitReport:
    """What the split did about groups and duplicates, in words for the run's messages."""

    groups: int = 0  # sub-folder groups kept on one side
    duplicates_moved: int = 0  # validation images moved to training (copies of training images)

    def messages(self) -> list[str]:
        out = []
        if self.groups:
            out.append(
                f"split by sub-folder: each of {self.groups} sub-folder(s) of the class folders stays "
                "wholly in training or wholly in validation (turn off with --no-group-split)"
            )
        if self.duplicates_moved:
            out.append(
                f"moved {self.duplicates_moved} validation image(s) to training: they are exact copies "
                "of training images"
            )
        return out


def grouped_split(labels: np.ndarray, groups: list[str | None], fraction: float, seed: int):
    """(train_idx, val_idx) like :func:`stratified_split`, but whole groups at a time.

    Samples with group None are units of their own. Per class, groups are shuffled (seeded)
    and sent to validation until it holds about ``fraction`` of the class's images; a class
    with two or more units keeps at least one on each side.
    """
    labels = np.asarray(labels)
    rng = np.random.default_rng(seed)
    train, val = [], []
    for cls in np.unique(labels):
        members = np.flatnonzero(labels == cls)
        units: dict[object, list[int]] = defaultdict(list)
        for index in members:
            key = groups[index] if groups[index] is not None else ("single", int(index))
            units[key].append(int(index))
        ordered = [units[k] for k in sorted(units, key=str)]
        order = rng.permutation(len(ordered))
        target = fraction * len(members)
        taken: list[int] = []
        for position, unit_index in enumerate(order):
            unit = ordered[unit_index]
            if position == len(order) - 1 and len(order) > 1:
                break  # the last unit always trains
            if taken and abs(len(taken) + len(unit) - target) >= abs(len(taken) - target):
                continue
            taken += unit
        if len(ordered) < 2:
            taken = []
        chosen = set(taken)
        val.append(np.array(sorted(chosen), dtype=np.int64))
        train.append(np.array([i for i in members if i not in chosen], dtype=np.int64))
    return _joined(train), _joined(val)


def _joined(parts: list[np.ndarray]) -> np.ndarray:
    return np.sort(np.concatenate(parts)).astype(np.int64) if parts else np.zeros(0, np.int64)


def duplicate_sets(images: ImageSet) -> list[list[int]]:
    """Index lists of samples with identical bytes (files) or identical pixels (arrays).

    Files are hashed only when another file has the same size, so a folder without copies
    costs one ``stat`` per file."""
    if images.arrays is not None:
        by_hash: dict[bytes, list[int]] = defaultdict(list)
        for index in range(len(images)):
            by_hash[hashlib.blake2b(images.arrays[index].tobytes(), digest_size=16).digest()].append(index)
        return [v for v in by_hash.values() if len(v) > 1]
    if images.paths is None:
        return []
    by_size: dict[int, list[int]] = defaultdict(list)
    for index, path in enumerate(images.paths):
        try:
            by_size[os.path.getsize(path)].append(index)
        except OSError:
            continue
    sets = []
    for same_size in by_size.values():
        if len(same_size) < 2:
            continue
        by_digest: dict[str, list[int]] = defaultdict(list)
        for index in same_size:
            try:
                by_digest[sha256_of(images.paths[index])].append(index)  # hashlib.file_digest is 3.11+
            except OSError:
                continue
        sets += [v for v in by_digest.values() if len(v) > 1]
    return sets


def keep_duplicates_in_training(train_idx, val_idx, duplicates: list[list[int]]):
    """Move validation samples that are copies of training samples into training."""
    train_set, val_set = set(train_idx.tolist()), set(val_idx.tolist())
    moved: set[int] = set()
    for copies in duplicates:
        if any(i in train_set for i in copies):
            moved.update(i for i in copies if i in val_set)
    if not moved:
        return train_idx, val_idx, 0
    train_out = np.array(sorted(train_set | moved), dtype=np.int64)
    val_out = np.array(sorted(val_set - moved), dtype=np.int64)
    return train_out, val_out, len(moved)


def leak_free_split(images: ImageSet, fraction: float, seed: int, use_groups: bool = True):
    """(train_idx, val_idx, SplitReport): grouped when the source has sub-folder groups and
    ``use_groups``, else image by image; exact duplicates are kept together in training."""
    report = SplitReport()
    groups = images.groups if use_groups else None
    if groups is not None:
        train_idx, val_idx = grouped_split(images.labels, groups, fraction, seed)
        report.groups = len({g for g in groups if g is not None})
    else:
        train_idx, val_idx = stratified_split(images.labels, fraction, seed)
    train_idx, val_idx, report.duplicates_moved = keep_duplicates_in_training(
        train_idx, val_idx, duplicate_sets(images)
    )
    return train_idx, val_idx, report
