"""Optimizers and learning-rate schedules from a TrainConfig."""

from __future__ import annotations

import torch

from tlgui.core.base.config import TrainConfig


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


def build_optimizer(config: TrainConfig, params) -> torch.optim.Optimizer:
    lr = config.resolved_lr()
    groups = decay_groups(params, config.resolved_weight_decay())
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
            optimizer, max_lr=config.resolved_lr(), total_steps=max(2, total_steps)
        )
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda _: 1.0)
