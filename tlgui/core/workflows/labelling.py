"""Labelling an unlabelled folder, the model choosing what to label next (``tlgui label``, the Label page).

The frozen backbone runs once over the folder and its features are stored
(:mod:`label_features`), so every later call only fits a small head on the labelled images'
features and scores the rest, in well under a second for thousands of images. Which images
come next (:mod:`label_strategies`): *typical* ones (TypiClust) until every class has a few
labels, then the least certain (smallest top-2 margin) with about 20 % drawn at random. The
random draws make the accuracy estimate honest (:mod:`label_estimate`). The labels file is only
read here; :class:`LabelStore` writes it.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from typing import Literal

import numpy as np
import torch

from tlgui.core.base.cancel import StopFlag
from tlgui.core.base.errors import DataError
from tlgui.core.base.events import Emit, ignore
from tlgui.core.workflows.label_estimate import (
    Estimate,
    cross_validated,
    estimate_from_rows,
    estimate_history,
    held_out,
    honest_estimate,
)
from tlgui.core.workflows.label_export import export_labels
from tlgui.core.workflows.label_features import FolderFeatures, folder_features
from tlgui.core.workflows.label_hints import hint_for
from tlgui.core.workflows.label_store import LabelStore, absolute_path
from tlgui.core.workflows.label_strategies import (
    FEW_LABELS,
    Pick,
    fit_head,
    pick_margin,
    pick_random,
    pick_typical,
    predict,
)

__all__ = ["Estimate", "LabelQueue", "LabelStore", "Suggestion", "estimate_from_rows", "estimate_history",
           "export_labels", "next_to_label", "ranked_for_class"]

STRATEGIES = ("auto", "typical", "margin", "random")


@dataclass
class Suggestion:
    """One image to label next."""

    path: str
    suggested: str | None  # the model's class; None while the model knows no class
    confidence: float | None  # its probability
    picked: Pick | Literal["bulk"]  # bulk: from the review grid of one class


@dataclass
class LabelQueue:
    next: list[Suggestion]  # best first
    strategy: Pick  # the strategy used
    reason: str  # why, in plain words
    labelled: int  # usable labels on images of this folder
    total: int  # images in the folder (readable or not)
    classes: list[str]
    estimate: Estimate | None
    seconds: float  # time spent in this call
    skipped: list[tuple[str, str]] = field(default_factory=list)  # unreadable images and why
    hint: str = ""  # plain-words advice: keep labelling / more labels stop paying off / features don't separate
    problems: list[str] = field(default_factory=list)  # labels-file rows not used, one line each
    features_reused: bool = False  # the stored features were used (no backbone pass)
    counts: dict[str, int] = field(default_factory=dict)  # labels per class

    def to_json(self) -> dict:
        """The ``tlgui label next --json`` object."""
        return {
            "next": [asdict(s) for s in self.next], "strategy": self.strategy, "reason": self.reason,
            "labelled": self.labelled, "total": self.total, "classes": list(self.classes),
            "estimate": asdict(self.estimate) if self.estimate else None, "seconds": round(self.seconds, 3),
            "skipped": [[p, r] for p, r in self.skipped], "hint": self.hint, "problems": list(self.problems),
            "features_reused": self.features_reused, "counts": dict(self.counts),
        }


@dataclass
class _State:
    """The folder's features joined with the labels file."""

    features: FolderFeatures
    classes: list[str]
    rows: list[dict]  # usable label rows of images with features
    labelled_index: np.ndarray  # feature row of each labelled image
    labelled_y: np.ndarray  # class index of each
    problems: list[str]


def _state(data, labels_csv, classes, model, weights, run, emit: Emit, should_stop: StopFlag, settings) -> _State:
    folder = _folder(data)
    store = LabelStore(labels_csv, folder) if labels_csv else None
    features = folder_features(folder, model=model, weights=weights, run=run, emit=emit, should_stop=should_stop,
                               **(settings or {}))
    problems = store.problems() if store else []
    listed = list(classes) if classes else (store.classes() if store else [])
    rows = store.rows() if store else []
    for row in rows:  # a label of a class --classes leaves out: kept as a class, said once
        if row["label"] not in listed:
            listed.append(row["label"])
    position = {path: i for i, path in enumerate(features.paths)}
    used, index, y = [], [], []
    for row in rows:
        if row["path"] in position:
            used.append(row)
            index.append(position[row["path"]])
            y.append(listed.index(row["label"]))
    return _State(features, listed, used, np.asarray(index, dtype=np.int64), np.asarray(y, dtype=np.int64), problems)


def _folder(data) -> str:
    from tlgui.core.data.kinds.unlabelled_folder import folder_of

    return folder_of(data)


def _choose(strategy: str, state: _State) -> tuple[Pick, str]:
    """(strategy, reason in plain words)."""
    counts = np.bincount(state.labelled_y, minlength=len(state.classes)) if state.classes else np.zeros(0, int)
    known = int((counts > 0).sum())
    if strategy == "typical":
        return "typical", "typical images were asked for (--strategy typical)"
    if strategy == "random":
        return "random", "random images were asked for (--strategy random)"
    if strategy == "margin":
        if known < 2:
            return "typical", "margin needs labels of at least two classes; typical images until then"
        return "margin", "the least certain images were asked for (--strategy margin), with about 20 % random ones"
    if len(state.classes) < 2 or known < 2:
        return "typical", "typical images first: the model needs labels of at least two classes before it can suggest"
    few = [c for c, n in zip(state.classes, counts, strict=True) if n < FEW_LABELS]
    if few:
        shown = ", ".join(f"{c} ({n})" for c, n in zip(state.classes, counts, strict=True) if n < FEW_LABELS)
        return "typical", (f"typical images until every class has {FEW_LABELS} labels; still short: {shown}")
    return "margin", (f"every class has at least {FEW_LABELS} labels: the images the model is least sure of, "
                      "with about 20 % drawn at random to keep the accuracy estimate honest")


def next_to_label(data, labels_csv, *, model=None, weights=None, run=None, n: int = 10, strategy: str = "auto",
                  classes: Iterable[str] | None = None, seed: int = 0, exclude: Iterable[str] = (),
                  emit: Emit | None = None, should_stop: StopFlag = None,
                  feature_settings: dict | None = None) -> LabelQueue:
    """The ``n`` images to label next, best first, with the model's suggestion for each.

    ``data``: the image folder (DIR or ``unlabelled:DIR``); ``labels_csv``: its labels (read,
    never written; may not exist yet); ``model``/``weights`` or ``run`` (a tlgui run folder):
    whose frozen backbone gives the features. ``exclude``: paths not to suggest (e.g. skipped
    in the window). ``feature_settings``: image settings (device, image_size, channels,
    intensity, stack), as for ``tlgui train``. Raises TlguiError for bad input."""
    if strategy not in STRATEGIES:
        raise DataError(f"unknown strategy {strategy!r} (choose {', '.join(STRATEGIES)})")
    started = time.perf_counter()
    state = _state(data, labels_csv, classes, model, weights, run, emit or ignore, should_stop,
                   feature_settings)
    with one_thread():
        return _queue(state, strategy, n, seed, exclude, started)


@contextmanager
def one_thread():
    """Small matrices (heads, k-means on stored features): a second intra-op thread only waits on the
    first. Measured on 1,500 x 1,280 features: three typical picks took 0.12 s of CPU with one thread and
    0.47-2.2 s with two, so later calls went over 2 s. (As head_fit does for the training head.)"""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def _queue(state: _State, strategy: str, n: int, seed: int, exclude: Iterable[str], started: float) -> LabelQueue:
    x = state.features.x
    used, reason = _choose(strategy, state)
    pool = np.ones(len(x), dtype=bool)
    pool[state.labelled_index] = False
    excluded = {absolute_path(p) for p in exclude}
    if excluded:
        pool &= np.array([p not in excluded for p in state.features.paths], dtype=bool)
    rng = np.random.default_rng(seed + len(state.labelled_index))
    head = fit_head(x, state.labelled_index, state.labelled_y, len(state.classes)) \
        if len(np.unique(state.labelled_y)) >= 2 else None
    probs = predict(head, x) if head is not None else None
    count = min(int(n), int(pool.sum()))
    if used == "typical":
        typical = pick_typical(x, state.labelled_index, pool, count, seed)
        picks: list[tuple[int, Pick]] = [(i, "typical") for i in typical]
    elif used == "random":
        picks = [(i, "random") for i in pick_random(pool, count, rng)]
    elif probs is None:  # _choose picks margin only with labels of two classes, so a head is fitted
        raise RuntimeError("margin picks need the fitted head's probabilities")
    else:
        picks = pick_margin(probs, pool, count, rng)
    suggestions = [_suggestion(state, probs, int(i), how) for i, how in picks]
    held = held_out(x, state.labelled_index, state.labelled_y, len(state.classes)) if head is not None else None
    estimate = honest_estimate(x, state.labelled_index, state.labelled_y, state.rows, len(state.classes), head, held)
    counts = np.bincount(state.labelled_y, minlength=len(state.classes))
    separation = cross_validated(x, state.labelled_index, state.labelled_y, len(state.classes), held) \
        if len(state.classes) >= 2 and counts.min() >= FEW_LABELS else None
    return LabelQueue(
        suggestions, used, reason, len(state.labelled_index), state.features.total, list(state.classes), estimate,
        time.perf_counter() - started, list(state.features.skipped),
        hint_for(state.classes, counts, estimate, int(pool.sum()), separation), state.problems, state.features.reused,
        {c: int(k) for c, k in zip(state.classes, counts, strict=True)})


def _suggestion(state: _State, probs, index: int, picked: Pick | Literal["bulk"]) -> Suggestion:
    if probs is None:
        return Suggestion(state.features.paths[index], None, None, picked)
    best = int(np.argmax(probs[index]))
    return Suggestion(state.features.paths[index], state.classes[best], round(float(probs[index, best]), 4), picked)


def ranked_for_class(data, labels_csv, cls: str, *, model=None, weights=None, run=None, limit: int = 200,
                     emit: Emit | None = None, should_stop: StopFlag = None,
                     feature_settings: dict | None = None) -> list[Suggestion]:
    """Unlabelled images sorted by the head's probability of ``cls``, best first (the review
    grid); empty while the model knows fewer than two classes. ``picked`` is "bulk"."""
    state = _state(data, labels_csv, None, model, weights, run, emit or ignore, should_stop,
                   feature_settings)
    if cls not in state.classes:
        raise DataError(f"no class {cls!r} (the classes are {', '.join(state.classes) or 'none yet'})")
    if len(np.unique(state.labelled_y)) < 2:
        return []
    x = state.features.x
    with one_thread():
        head = fit_head(x, state.labelled_index, state.labelled_y, len(state.classes))
        probs = predict(head, x)
    column = state.classes.index(cls)
    pool = np.ones(len(x), dtype=bool)
    pool[state.labelled_index] = False
    candidates = np.flatnonzero(pool)
    order = candidates[np.argsort(-probs[candidates, column], kind="stable")][: int(limit)]
    return [Suggestion(state.features.paths[i], cls, round(float(probs[i, column]), 4), "bulk") for i in order]

