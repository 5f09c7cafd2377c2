"""``tlgui check-labels``: which given labels are probably wrong.

Every image gets out-of-fold predicted probabilities (K folds: each image is scored by a model
that never saw its label). With a pretrained, frozen backbone the backbone runs once over all
images (the feature cache's machinery) and K L-BFGS logistic-regression heads are fitted on
the cached features: seconds. Otherwise (random init, a fine-tuned run, or a model whose head
cannot be cached) K short trainings of the whole trainable model, and ``method`` says so.
Every image is then ranked by how suspicious its label is (self-confidence, lowest first) and
marked ``flagged`` where confident learning flags it (:mod:`tlgui.core.workflows.confident`).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, replace

import numpy as np
import torch
from torch import nn

from tlgui.core.base.cancel import StopCheck, StopFlag, stop_check
from tlgui.core.base.config import TrainConfig
from tlgui.core.base.errors import DataError, TrainingError
from tlgui.core.base.events import Emit, Stage, ignore
from tlgui.core.models.inference import batched_logits, to_model_input
from tlgui.core.training.feature_cache import (
    Features,
    HeadInputs,
    _NotCached,
    capture_features,
    trains_head_only,
)
from tlgui.core.training.head_fit import fit_full_batch, lbfgs
from tlgui.core.training.prepare import Prepared, prepare
from tlgui.core.workflows.confident import rank_all

L2_CHOICES = (1e-3, 1e-2, 1e-1)
# Out-of-fold probabilities averaged over this many fold splits: one split's ranking depends on
# which images happened to share a fold. Measured on real photos with 10 % of the labels flipped
# (benchmarks/bench_labels.py --real, medians of 3 seeds, K = 75 flips of 750): precision@K of the
# self-confidence ranking 0.83 with one split (L2 1e-4..1e-2), 0.88 with three and this grid;
# a plain 5-fold L-BFGS probe 0.85. Recall@2K 0.99 both times, the plain probe 0.96.
SPLITS = 3
CL_METHOD = ("every image ranked by self-confidence (its given label's out-of-fold probability, lowest first); "
             "flagged: the labels confident learning finds wrong (per-class thresholds, confident joint, "
             "prune by noise rate)")


@dataclass
class LabelCheck:
    suspects: list[dict]  # every image, most suspicious label first; "flagged" marks confident learning's
    method: str
    probabilities: np.ndarray  # out-of-fold, one row per image
    paths: list[str]
    labels: np.ndarray
    classes: list[str]

    @property
    def flagged(self) -> list[dict]:
        return [s for s in self.suspects if s["flagged"]]

    def to_json(self) -> dict:
        return {"suspects": self.suspects, "method": self.method, "flagged_count": len(self.flagged),
                "images": len(self.suspects)}


def fold_ids(labels: np.ndarray, folds: int, seed: int) -> np.ndarray:
    """Stratified fold number per image."""
    rng = np.random.default_rng(seed)
    out = np.zeros(len(labels), dtype=np.int64)
    for label in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == label))
        out[members] = np.arange(len(members)) % folds
    return out


def check_config(data: str, model: str, weights: str, val_data: str | None = None, **extra) -> TrainConfig:
    """The configuration check-labels opens the data and model with (--model/--weights): the
    backbone frozen when the weights are pretrained, else everything trains."""
    freeze = "none" if weights == "none" else "backbone"
    return TrainConfig(data=data, model=model, weights=weights, val_data=val_data, freeze=freeze, **extra)


def check_labels(config: TrainConfig, folds: int = 5, emit: Emit | None = None,
                 should_stop: StopFlag = None) -> LabelCheck:
    """Out-of-fold probabilities for every image of ``config.data`` (and ``val_data``), then
    confident learning. Raises TlguiError for bad data, model or weights."""
    emit = emit or ignore
    if folds < 2:
        raise DataError(f"--folds {folds}: at least 2 folds are needed")
    config = replace(config, augment="none", max_train_images=None)
    prepared = prepare(config, emit)
    held = _held_in_memory(prepared)
    if held is None:
        raise DataError(f"{config.data}: too many images to hold in memory for check-labels")
    labels = held[1].numpy()
    counts = np.bincount(labels, minlength=len(prepared.classes))
    if counts[counts > 0].min() < folds:
        raise DataError(f"{config.data}: every class needs at least {folds} images for {folds}-fold checking "
                        "(use --folds with a smaller number)")
    ids = fold_ids(labels, folds, config.seed)
    probs, method = None, ""
    if config.weights != "none" and trains_head_only(prepared):
        emit(Stage("cache", "Running the frozen backbone once over the images"))
        try:
            features = _all_features(prepared)
            splits = [ids] + [fold_ids(labels, folds, config.seed + 1000 * r) for r in range(1, SPLITS)]
            probs = np.mean([_head_folds(features, labels, split, len(prepared.classes)) for split in splits], 0)
            method = (f"out-of-fold probabilities from {folds}-fold L-BFGS logistic-regression heads on features "
                      f"of the frozen pretrained {config.model} backbone, extracted once, averaged over "
                      f"{SPLITS} fold splits; ")
        except _NotCached:
            probs = None
    if probs is None:
        probs = _short_trainings(prepared, held[0], labels, ids, emit, stop_check(should_stop))
        method = (f"out-of-fold probabilities from {folds} short trainings of {config.model} "
                  f"({config.epochs} epoch(s) each; the backbone is not a frozen pretrained one); ")
    paths = _sample_paths(prepared)
    suspects = [{"path": paths[s.index], "given": prepared.classes[s.given],
                 "suggested": prepared.classes[s.suggested], "confidence": round(s.confidence, 4),
                 "flagged": s.flagged, "self_confidence": round(s.self_confidence, 4)}
                for s in rank_all(probs, labels)]
    return LabelCheck(suspects, method + CL_METHOD, probs, paths, labels, list(prepared.classes))


def _held_in_memory(prepared: Prepared) -> tuple[torch.Tensor, torch.Tensor] | None:
    """Every image (training, then validation) and its label; None when they are read from files."""
    p = prepared
    if p.train_x is None or p.train_y is None or p.val_x is None or p.val_y is None:
        return None
    return torch.cat([p.train_x, p.val_x]), torch.cat([p.train_y, p.val_y])


def _sample_paths(prepared: Prepared) -> list[str]:
    bad = {path for path, _reason in prepared.skipped}
    return [row.path for row in prepared.split if row.path not in bad]


def _all_features(prepared: Prepared) -> torch.Tensor:
    capture = HeadInputs(prepared.model, prepared.head_path)
    never = lambda: False  # noqa: E731
    train = capture_features(prepared, True, 1, "none", None, never, capture=capture)
    val = capture_features(prepared, False, 1, "none", None, never, check=False, capture=capture)
    if train is None or val is None:  # only a stop ends a capture early, and ``never`` stops
        raise RuntimeError("the features were not captured")
    return torch.cat([train.x, val.x]).cpu()


def _fit_probe(x: torch.Tensor, y: torch.Tensor, classes: int, l2: float) -> nn.Linear:
    torch.manual_seed(0)
    head = nn.Linear(x.shape[1], classes)
    fit_full_batch(head, lbfgs(head, 100), Features(x, y), nn.CrossEntropyLoss(), l2)
    return head


def _head_folds(features: torch.Tensor, labels: np.ndarray, ids: np.ndarray, classes: int) -> np.ndarray:
    """Out-of-fold softmax of L-BFGS logistic regression; the L2 strength with the lowest
    out-of-fold log loss of :data:`L2_CHOICES`."""
    x = features.flatten(1).float()
    x = (x - x.mean(0)) / (x.std(0) + 1e-6)  # standardised: one L2 grid fits every backbone
    y = torch.from_numpy(labels)
    best: np.ndarray | None = None
    best_loss = np.inf
    for l2 in L2_CHOICES:
        probs = np.zeros((len(labels), classes))
        for fold in np.unique(ids):
            held = torch.from_numpy(ids == fold)
            head = _fit_probe(x[~held], y[~held], classes, l2)
            with torch.no_grad():
                probs[held.numpy()] = torch.softmax(head(x[held]), 1).double().numpy()
        loss = -np.mean(np.log(probs[np.arange(len(labels)), labels] + 1e-12))
        if loss < best_loss:
            best, best_loss = probs, loss
    if best is None:
        raise TrainingError("the label check's probes gave no finite log loss at any L2 strength")
    return best


def _short_trainings(prepared: Prepared, x_all: torch.Tensor, labels: np.ndarray, ids: np.ndarray, emit: Emit,
                     should_stop: StopCheck) -> np.ndarray:
    """K trainings of the model as prepared (frozen parts stay frozen), each scoring its held-out fold."""
    y_all = torch.from_numpy(labels)
    initial = copy.deepcopy(prepared.model.state_dict())
    probs = np.zeros((len(labels), len(prepared.classes)))
    config, prep, device = prepared.config, prepared.preprocessing, prepared.device
    for fold in np.unique(ids):
        emit(Stage("train", f"Short training {fold + 1} of {len(np.unique(ids))}"))
        prepared.model.load_state_dict(initial)
        held = ids == fold
        torch.manual_seed(config.seed + int(fold))
        _train_briefly(prepared, x_all[torch.from_numpy(~held)], y_all[torch.from_numpy(~held)], should_stop)
        logits = batched_logits(prepared.model, x_all[torch.from_numpy(held)], prep, device, amp_dtype=None)
        probs[held] = torch.softmax(logits, 1).double().numpy()
    prepared.model.load_state_dict(initial)
    return probs


def _train_briefly(prepared: Prepared, x: torch.Tensor, y: torch.Tensor, should_stop: StopCheck) -> None:
    config, model = prepared.config, prepared.model
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.Adam(params, lr=config.resolved_lr())
    criterion = nn.CrossEntropyLoss()
    batch = max(1, min(int(config.batch_size), 64))
    model.train()
    for _epoch in range(int(config.epochs)):
        order = torch.randperm(len(y))
        for start in range(0, len(y), batch):
            if should_stop():
                return
            index = order[start : start + batch]
            inputs = to_model_input(x[index], prepared.preprocessing, prepared.device, prepared.channels_last)
            loss = criterion(model(inputs).float(), y[index].to(prepared.device))
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
    model.eval()
