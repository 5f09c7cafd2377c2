"""The learning-rate range test (Smith 2017, fastai's ``lr_find``): ``--lr auto`` and ``tlgui lr-find``.

From the run's own starting point (weights, freeze plan, optimizer, layer rates, loss), the rate
grows exponentially from 1e-7 to 1 over 100 training steps while the loss is recorded; then every
weight, buffer and random stream is put back, so training starts exactly as it would have.

The pick: where the smoothed loss falls fastest (its steepest descent against log(rate), the
first tenth of the steps left out), and never above a tenth of the rate at its minimum
(Smith's and fastai's original rule). Measured (benchmarks/bench_recipe.py, few labels: 40
training images, a pretrained smallcnn, everything trained): the test also trains, and on so
few images the loss went on falling until ~0.5, so "minimum / 10" alone picked 0.04-0.07 for
Adam and lost 30 points of accuracy against the default 1e-3, while the steepest descent was
at 0.0017-0.0024.
"""

from __future__ import annotations

import copy
import itertools
import math
from dataclasses import asdict, dataclass

import numpy as np
import torch

from tlgui.core.base.cancel import StopCheck
from tlgui.core.base.config import TrainConfig
from tlgui.core.models.inference import autocast_for, to_model_input
from tlgui.core.models.layers import set_train_mode
from tlgui.core.training.augment import augment_batch
from tlgui.core.training.batches import Batches
from tlgui.core.training.optim import build_optimizer, model_param_groups
from tlgui.core.training.prepare import Prepared

START_LR, END_LR, STEPS = 1e-7, 1.0, 100
SMOOTHING = 0.98  # exponential moving average of the loss, bias-corrected (fastai's)
DIVERGED = 4.0  # stop once the smoothed loss is this many times its minimum
RULE = "steepest, at most min/10"


@dataclass
class LrFinding:
    lrs: list[float]
    losses: list[float]
    smoothed: list[float]
    pick: float  # the chosen rate: steepest_lr, at most min_loss_lr / 10
    min_loss_lr: float
    steepest_lr: float | None
    rule: str = RULE

    def to_dict(self) -> dict:
        return asdict(self)


def lr_at(step: int, steps: int = STEPS, start: float = START_LR, end: float = END_LR) -> float:
    return start * (end / start) ** (step / max(1, steps - 1))


def pick_rate(lrs: list[float], smoothed: list[float], fallback: float) -> tuple[float, float, float | None]:
    """(pick, min_loss_lr, steepest_lr) from a recorded curve; ``fallback`` when too short to read."""
    if len(smoothed) < 5:
        return fallback, fallback, None
    values = np.asarray(smoothed, dtype=float)
    low = int(np.nanargmin(values))
    min_lr = float(lrs[low])
    steepest = None
    first = len(values) // 10  # the first points carry the moving average's start-up
    if low - first >= 2:
        slope = np.gradient(values[first : low + 1], np.log(np.asarray(lrs[first : low + 1])))
        steepest = float(lrs[first + int(np.argmin(slope))])
    pick = min(steepest, min_lr / 10) if steepest is not None else min_lr / 10
    return max(pick, START_LR), min_lr, steepest


def find_lr(prepared: Prepared, config: TrainConfig, criterion, should_stop: StopCheck = lambda: False,
            steps: int = STEPS) -> LrFinding:
    """Run the range test on ``prepared`` (its model is left exactly as it was)."""
    model = prepared.model
    saved = copy.deepcopy(model.state_dict())
    rng = torch.get_rng_state()
    cuda_rng = torch.cuda.get_rng_state_all() if prepared.device.type == "cuda" else None
    try:
        lrs, losses = _record(prepared, config, criterion, should_stop, steps)
    finally:
        model.load_state_dict(saved)
        torch.set_rng_state(rng)
        if cuda_rng is not None:
            torch.cuda.set_rng_state_all(cuda_rng)
    smoothed = _smooth(losses)
    pick, min_lr, steepest = pick_rate(lrs, smoothed, config.resolved_lr())
    return LrFinding(lrs, losses, smoothed, pick, min_lr, steepest)


def _smooth(losses: list[float]) -> list[float]:
    average, out = 0.0, []
    for i, loss in enumerate(losses, start=1):
        average = SMOOTHING * average + (1 - SMOOTHING) * loss
        out.append(average / (1 - SMOOTHING**i))
    return out


def _record(prepared: Prepared, config: TrainConfig, criterion, should_stop: StopCheck, steps: int):
    model, device = prepared.model, prepared.device
    optimizer = build_optimizer(config, model_param_groups(config, model, prepared.head_path))
    scales = [group.get("lr_scale", 1.0) for group in optimizer.param_groups]
    generator = torch.Generator().manual_seed(int(config.seed) + 1)
    batches = itertools.chain.from_iterable(itertools.repeat(Batches(prepared, config, True, generator)))
    set_train_mode(model, prepared.freeze, config.bn_update_frozen)
    lrs, losses, best = [], [], math.inf
    for step in range(steps):
        if should_stop():
            break
        lr = lr_at(step, steps)
        for group, scale in zip(optimizer.param_groups, scales, strict=True):
            group["lr"] = lr * scale
        x, y = next(batches)
        x = to_model_input(augment_batch(x, config.augment, generator), prepared.preprocessing, device,
                           prepared.channels_last)
        with autocast_for(device, prepared.precision.autocast_dtype):
            loss = criterion(model(x).float(), y.to(device))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        value = float(loss.detach())
        if not math.isfinite(value):
            break
        lrs.append(lr)
        losses.append(value)
        smoothed = _smooth(losses)[-1]
        best = min(best, smoothed)
        if step > 10 and smoothed > DIVERGED * best:
            break
    return lrs, losses
