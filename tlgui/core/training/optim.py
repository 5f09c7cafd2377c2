"""Optimizers and learning-rate schedules from a TrainConfig."""

from __future__ import annotations

import torch
from torch import nn

from tlgui.core.base.config import TrainConfig
from tlgui.core.models.lr_groups import parameter_scales


def decay_groups(params, weight_decay: float) -> list[dict]:
    """Parameter groups: weight decay on weight matrices and kernels only.

    Biases and normalisation weights (every 0-d or 1-d tensor) get none: shrinking a
    BatchNorm scale or a bias towards zero is not regularisation, it only distorts the
    layer (the same rule as timm's ``param_groups_weight_decay``).
    """
    params = list(params)
    decay = [p for p in params if p.ndim > 1]
    no_decay = [p for p in params if p.ndim <= 1]
    groups = [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    return [g for g in groups if g["params"]]


def model_param_groups(config: TrainConfig, model: nn.Module, head_path: str) -> list[dict]:
    """The trainable parameters' groups: weight decay as :func:`decay_groups`, and with
    ``--layer-lr-decay F`` below 1 one rate per block group (see lr_groups), earliest first, each
    with its ``lr`` and ``lr_scale`` (its multiple of the run's rate)."""
    named = [(name, p) for name, p in model.named_parameters() if p.requires_grad]
    decay, lr = config.resolved_weight_decay(), config.resolved_lr()
    if float(config.layer_lr_decay) >= 1.0:
        return decay_groups([p for _, p in named], decay)
    scales = parameter_scales(model, head_path, float(config.layer_lr_decay))
    groups: list[dict] = []
    for scale in sorted({scales[name] for name, _ in named}):
        params = [p for name, p in named if scales[name] == scale]
        for group in decay_groups(params, decay):
            groups.append({**group, "lr": lr * scale, "lr_scale": scale})
    return groups


def build_optimizer(config: TrainConfig, params) -> torch.optim.Optimizer:
    """``params``: tensors (one rate), or the groups of :func:`model_param_groups`."""
    lr = config.resolved_lr()
    params = list(params)
    given = bool(params) and isinstance(params[0], dict)
    groups = params if given else decay_groups(params, config.resolved_weight_decay())
    if config.optimizer == "sgd":
        return torch.optim.SGD(groups, lr=lr, momentum=config.momentum)
    if config.optimizer == "adamw":
        return torch.optim.AdamW(groups, lr=lr)
    return torch.optim.Adam(groups, lr=lr)


def build_scheduler(config: TrainConfig, optimizer, total_steps: int):
    if config.schedule == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(1, total_steps))
    if config.schedule == "onecycle":
        return torch.optim.lr_scheduler.OneCycleLR(
            optimizer, max_lr=[group["lr"] for group in optimizer.param_groups], total_steps=max(2, total_steps)
        )
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda _: 1.0)
