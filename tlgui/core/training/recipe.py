"""The fine-tuning recipe around the loop: class weights, the head-first phase, the learning-rate
finder's place in a run, and the per-class figures of the last validation.

``--head-epochs N`` (fastai's ``fine_tune``): for the first N epochs only the head trains, with the
backbone frozen, so the feature cache and head fit of head-only runs apply (seconds); then the
chosen freeze plan (``--freeze``) takes over for the remaining epochs, with a fresh optimizer and
schedule over those epochs (and ``--layer-lr-decay``'s rates).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from tlgui.core.base.cancel import StopCheck, StopFlag, stop_check
from tlgui.core.base.config import TrainConfig
from tlgui.core.base.events import Emit, Message, Stage, ignore
from tlgui.core.models.inference import autocast_for, batched_logits, to_model_input
from tlgui.core.models.layers import FreezePlan, apply_freeze
from tlgui.core.results.metrics import confusion_matrix, metrics_from_confusion
from tlgui.core.training import distributed
from tlgui.core.training.batches import Batches
from tlgui.core.training.feature_cache import build_feature_cache, trains_head_only
from tlgui.core.training.head_fit import setup_cached_training
from tlgui.core.training.lr_find import find_lr
from tlgui.core.training.optim import build_optimizer, build_scheduler, model_param_groups
from tlgui.core.training.prepare import Prepared


def train_class_counts(prepared: Prepared) -> np.ndarray:
    """Images per class in the training split (split.csv's rows)."""
    index = {name: i for i, name in enumerate(prepared.classes)}
    counts = np.zeros(len(prepared.classes), dtype=np.int64)
    for row in prepared.split:
        if row.subset == "train" and row.label in index:
            counts[index[row.label]] += 1
    return counts


def balanced_weights(counts: np.ndarray) -> torch.Tensor:
    """n / (k * n_c) (scikit-learn's "balanced"); a class with no training image gets 0."""
    counts = np.asarray(counts, dtype=np.float64)
    present = counts > 0
    weights = np.zeros_like(counts)
    weights[present] = counts.sum() / (present.sum() * counts[present])
    return torch.tensor(weights, dtype=torch.float32)


def make_criterion(config: TrainConfig, prepared: Prepared) -> nn.Module:
    if config.class_weights != "balanced":
        return nn.CrossEntropyLoss()
    return nn.CrossEntropyLoss(weight=balanced_weights(train_class_counts(prepared)).to(prepared.device))


def find_lr_for_run(config: TrainConfig, prepared: Prepared, emit: Emit, should_stop: StopCheck) -> None:
    """``--lr auto``: run the range test and set ``config.lr_found`` (config.json records both)."""
    emit(Stage("lr-find", "Finding a learning rate (a short range test)"))
    finding = find_lr(prepared, config, make_criterion(config, prepared), should_stop)
    config.lr_found = float(f"{finding.pick:.3g}")
    text = (f"learning-rate finder: {config.lr_found:g} (where the smoothed loss fell fastest over "
            f"{len(finding.lrs)} steps from 1e-7 to 1; lowest at {finding.min_loss_lr:.3g})")
    prepared.messages.append(text)
    emit(Message(text))


def in_head_phase(config: TrainConfig, epoch: int) -> bool:
    return int(config.head_epochs) > 0 and epoch <= int(config.head_epochs)


def setup_phase(state: Any, epoch: int) -> None:
    """Freeze plan, batches, optimizer, schedule and feature cache for the phase ``epoch`` is in."""
    config, prepared = state.config, state.prepared
    head_phase = in_head_phase(config, epoch)
    adapt_bn = None
    if config.head_epochs:
        later = FreezePlan.parse(config.freeze, config.bn_update_frozen)
        if head_phase:
            adapt_bn = _bn_trained_later(prepared, later, config.bn_update_frozen)
        plan = FreezePlan("backbone") if head_phase else later
        prepared.freeze = apply_freeze(prepared.model, plan, prepared.head_path)
    # under torchrun DDP records which parameters train when it wraps the model: wrap per phase
    state.train_model = distributed.wrap(state.dist, state.model, state.device, config.sync_bn)
    phase_epochs = int(config.head_epochs) if head_phase else config.epochs - int(config.head_epochs)
    state.cache = None
    state.head_l2 = None
    state.train_batches = Batches(prepared, config, True, state.generator, state.dist)
    groups = model_param_groups(config, state.model, prepared.head_path)
    state.optimizer = build_optimizer(config, groups)
    state.scheduler = build_scheduler(config, state.optimizer, phase_epochs * len(state.train_batches))
    if state.dist.enabled:  # each process would cache and fit the whole head on its own
        if trains_head_only(prepared):
            state.emit(Message(f"the feature cache is not used under torchrun ({state.dist.world} processes): "
                               "the frozen backbone runs every epoch"))
    else:
        state.cache = build_feature_cache(prepared, state.generator, state.emit, lambda: state.control.stopped,
                                          adapt_bn=adapt_bn)
    if state.cache is not None:
        setup_cached_training(state, phase_epochs)


def _bn_trained_later(prepared, later: FreezePlan, bn_update_frozen: bool) -> tuple[str, ...]:
    """The BatchNorm layers frozen in the head phase that train (in train mode, on batch
    statistics) once the layers are unfrozen. Their statistics are re-estimated on the data
    before the head phase caches its features: the head fitted on features normalised by the
    source's statistics met very different ones in the first unfrozen epoch (loss 0.46 -> 5.1,
    69 % instead of 99 % on the photo protocol)."""
    head_only = apply_freeze(prepared.model, FreezePlan("backbone"), prepared.head_path)
    if bn_update_frozen:
        return head_only.frozen_bn
    still_frozen = set(apply_freeze(prepared.model, later, prepared.head_path).frozen_bn)
    return tuple(path for path in head_only.frozen_bn if path not in still_frozen)


def next_phase(state: Any, epoch: int) -> None:
    """At the first epoch after the head phase: unfreeze the chosen layers."""
    if not config_switches_at(state.config, epoch):
        return
    from tlgui.core.training.head_fit import head_fit_summary

    state.head_phase_fit = head_fit_summary(state)
    setup_phase(state, epoch)
    freeze = state.prepared.freeze
    state.emit(Message(f"head trained alone for {state.config.head_epochs} epoch(s); now training "
                       f"{freeze.trainable_params:,} of {freeze.total_params:,} parameters"))


def config_switches_at(config: TrainConfig, epoch: int) -> bool:
    return int(config.head_epochs) > 0 and epoch == int(config.head_epochs) + 1


def param_group_rates(optimizer) -> list[dict[str, float]]:
    """summary.json's ``param_groups``: each group's starting rate, its multiple and size."""
    return [{"lr": float(g.get("initial_lr", g["lr"])), "lr_scale": float(g.get("lr_scale", 1.0)),
             "weight_decay": float(g.get("weight_decay", 0.0)), "params": sum(p.numel() for p in g["params"])}
            for g in optimizer.param_groups]


@torch.no_grad()
def class_figures(state: Any) -> dict[str, Any]:
    """Balanced accuracy and each class's recall on the validation images, for the model as saved."""
    prepared = state.prepared
    if state.validated_epoch is None or state.dist.enabled:
        return {}
    if state.cache is not None:
        head = state.model.get_submodule(prepared.head_path)
        head.eval()
        logits, targets = head(state.cache.val.x).float(), state.cache.val.y
    elif prepared.val_y is not None:
        logits = batched_logits(state.model, prepared.val_x, prepared.preprocessing, prepared.device, 256,
                                lambda: False, prepared.precision.autocast_dtype, prepared.channels_last)
        targets = prepared.val_y
    else:
        logits, targets = _lazy_logits(state)
    if len(targets) == 0:
        return {}
    confusion = confusion_matrix(targets.cpu().numpy(), logits.argmax(1).cpu().numpy(), len(prepared.classes))
    m = metrics_from_confusion(confusion)
    recall = {name: float(r) for name, r, n in zip(prepared.classes, m["recall"], confusion.sum(1), strict=True)
              if n > 0}
    return {"val_balanced_accuracy": float(m["balanced_accuracy"]), "val_per_class_recall": recall}


def _lazy_logits(state: Any) -> tuple[torch.Tensor, torch.Tensor]:
    prepared, model = state.prepared, state.model
    parts, labels = [], []
    model.eval()
    for x, y in state.val_batches:
        with autocast_for(prepared.device, prepared.precision.autocast_dtype):
            x = to_model_input(x, prepared.preprocessing, prepared.device, prepared.channels_last)
            parts.append(model(x).float().cpu())
        labels.append(y)
    if not parts:
        return torch.empty(0, 0), torch.empty(0, dtype=torch.long)
    return torch.cat(parts), torch.cat(labels)


def run_lr_finder(config: TrainConfig, emit: Emit = ignore, should_stop: StopFlag = None):
    """``tlgui lr-find`` and the training panel's Find: prepare the data and model as a run
    would (nothing is written), run the range test, return its :class:`LrFinding`."""
    from tlgui.core.training.prepare import prepare

    torch.manual_seed(config.seed)
    np.random.seed(config.seed % (2**32))
    prepared = prepare(config, emit)
    return find_lr(prepared, config, make_criterion(config, prepared), stop_check(should_stop))
