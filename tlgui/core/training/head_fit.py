"""Training the head alone on cached features, so it converges whatever the step count.

A user who picks head-only and a number of epochs and leaves learning rate, optimizer and
batch size at their defaults gets what linear probes and Create ML do: full-batch L-BFGS
logistic regression on the cached features, with the L2 strength picked on the validation
set, spread over the epochs so the plots still show per-epoch curves. A learning rate,
optimizer or batch size the user sets explicitly is honoured: minibatch steps on the cached
features with the run's own optimizer and schedule.
"""

from __future__ import annotations

import copy
import math
from dataclasses import fields
from typing import Any

import torch
from torch import nn

from tlgui.core.base.config import TrainConfig
from tlgui.core.base.events import Message
from tlgui.core.training.feature_cache import (
    CachedBatches,
    FeatureCache,
    Features,
    head_loss_accuracy,
)
from tlgui.core.training.optim import build_optimizer, build_scheduler

L2_GRID = (1e-5, 1e-4, 1e-3, 1e-2, 1e-1)  # on the mean cross-entropy's scale
TOTAL_ITERATIONS = 300  # L-BFGS iterations over the whole run (it stops early once converged)
SEARCH_ITERATIONS = 150  # per candidate L2 strength


# The window always sends explicit values: its defaults (tlgui.settings.default_training, the
# demo's recipe) are a second "left at the defaults" recipe. A test checks the two agree.
WINDOW_DEFAULTS = {"lr": 3e-3, "optimizer": "adam", "batch_size": 16}


def uses_auto_fit(config: TrainConfig) -> bool:
    """True when learning rate, optimizer and batch size are all left at their defaults,
    the CLI's (TrainConfig's) or the training panel's."""
    defaults = {f.name: f.default for f in fields(TrainConfig)}
    lr = None if config.lr == "auto" else config.lr  # "auto": tlgui chooses, as with no rate given
    chosen = {"lr": lr, "optimizer": config.optimizer, "batch_size": config.batch_size}
    recipes = ({key: defaults[key] for key in chosen}, WINDOW_DEFAULTS)
    return any(chosen == recipe for recipe in recipes)


def _weights(head: nn.Module) -> list[nn.Parameter]:
    return [p for p in head.parameters() if p.requires_grad and p.dim() > 1]  # biases are not penalised


def lbfgs(head: nn.Module, iterations: int) -> torch.optim.LBFGS:
    params = [p for p in head.parameters() if p.requires_grad]
    return torch.optim.LBFGS(params, lr=1.0, max_iter=max(1, iterations), history_size=20,
                             line_search_fn="strong_wolfe", tolerance_grad=1e-7, tolerance_change=1e-10)


def fit_full_batch(head: nn.Module, optimizer: torch.optim.LBFGS, features: Features, criterion, l2: float) -> None:
    """One ``optimizer.step``: up to ``max_iter`` L-BFGS iterations on all features (eval mode:
    a deterministic objective; the L2 term does the regularising)."""
    head.eval()

    def closure():
        optimizer.zero_grad(set_to_none=True)
        loss = criterion(head(features.x).float(), features.y)
        loss = loss + 0.5 * l2 * sum(w.pow(2).sum() for w in _weights(head))
        loss.backward()
        return loss

    # Tiny matrices: extra intra-op threads only wait on each other. Measured here (2 cores, both
    # busy): a 96x512 -> 2 head's forward+backward 37 ms with 2 threads, 0.9 ms with 1.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with torch.enable_grad():
            optimizer.step(closure)
    finally:
        torch.set_num_threads(threads)


def pick_l2(head: nn.Module, cache: FeatureCache, criterion) -> float:
    """The L2 strength whose fit scores best on the validation features (accuracy, then loss)."""
    initial = copy.deepcopy(head.state_dict())
    best_key, best_l2 = None, L2_GRID[0]
    for l2 in L2_GRID:
        head.load_state_dict(initial)
        fit_full_batch(head, lbfgs(head, SEARCH_ITERATIONS), cache.train, criterion, l2)
        loss, acc = head_loss_accuracy(head, cache.val, criterion)
        key = (acc, -loss if math.isfinite(loss) else -math.inf)
        if best_key is None or key > best_key:
            best_key, best_l2 = key, l2
    head.load_state_dict(initial)
    return best_l2


def setup_cached_training(state: Any, epochs: int | None = None) -> None:
    """Replace the run's batches, optimizer and schedule by ones over the cached features
    (for ``epochs``: the run's, or its head phase's)."""
    config, cache = state.config, state.cache
    epochs = epochs or config.epochs
    head = state.model.get_submodule(state.prepared.head_path)
    if uses_auto_fit(config):
        state.head_l2 = pick_l2(head, cache, state.criterion)
        state.train_batches = CachedBatches(cache.train, len(cache.train.y), state.generator)  # one full batch
        state.optimizer = lbfgs(head, math.ceil(TOTAL_ITERATIONS / epochs))
        state.scheduler = torch.optim.lr_scheduler.LambdaLR(state.optimizer, lambda _: 1.0)
        state.emit(Message(f"head fit: full-batch L-BFGS logistic regression on the cached features, "
                           f"L2 strength {state.head_l2:g} picked on the validation set"))
        return
    state.train_batches = CachedBatches(cache.train, config.batch_size, state.generator)
    state.optimizer = build_optimizer(config, [p for p in head.parameters() if p.requires_grad])
    state.scheduler = build_scheduler(config, state.optimizer, epochs * len(state.train_batches))


def head_fit_summary(state: Any) -> dict[str, Any]:
    """summary.json's ``head_fit``: how the head was trained on cached features, if it was."""
    if state.cache is None:
        return {"method": "live"}  # no feature cache: the whole model's usual training steps
    if state.head_l2 is not None:
        return {"method": "lbfgs", "l2": state.head_l2}
    return {"method": "steps", "optimizer": state.config.optimizer}


def cached_train_epoch(state: Any, epoch: int, report_batch) -> tuple[float, float] | None:
    """One epoch of the head on cached features: (loss, accuracy), or None when stopped."""
    head = state.model.get_submodule(state.prepared.head_path)
    if state.head_l2 is not None:
        if state.control.stopped:
            return None
        fit_full_batch(head, state.optimizer, state.cache.train, state.criterion, state.head_l2)
        state.scheduler.step()
        loss, acc = head_loss_accuracy(head, state.cache.train, state.criterion)
        state.images_seen += len(state.cache.train.y)
        report_batch(state, epoch, 1, loss, acc)
        return loss, acc
    head.train()
    total_loss, correct, count = 0.0, 0, 0
    for index, (x, y) in enumerate(state.train_batches, start=1):
        state.control.wait_if_paused()
        if state.control.stopped:
            return None
        out = head(x).float()
        loss = state.criterion(out, y)
        state.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        state.optimizer.step()
        state.scheduler.step()
        batch_correct = int((out.argmax(1) == y).sum())
        total_loss, correct, count = total_loss + float(loss.detach()) * len(y), correct + batch_correct, count + len(y)
        state.images_seen += len(y)
        report_batch(state, epoch, index, float(loss.detach()), batch_correct / len(y))
    return total_loss / max(1, count), correct / max(1, count)
