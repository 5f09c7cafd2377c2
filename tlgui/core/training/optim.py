"""Optimizers and learning-rate schedules from a TrainConfig."""

from __future__ import annotations

import torch

from tlgui.core.base.config import TrainConfig


def build_optimizer(config: TrainConfig, params) -> torch.optim.Optimizer:
    lr = config.resolved_lr()
    if config.optimizer == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=config.momentum, weight_decay=config.weight_decay)
    if config.optimizer == "adamw":
        return torch.optim.AdamW(params, lr=lr, weight_decay=config.weight_decay or 0.01)
    return torch.optim.Adam(params, lr=lr, weight_decay=config.weight_decay)


def build_scheduler(config: TrainConfig, optimizer, total_steps: int):
    if config.schedule == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(1, total_steps))
    if config.schedule == "onecycle":
        return torch.optim.lr_scheduler.OneCycleLR(
            optimizer, max_lr=config.resolved_lr(), total_steps=max(2, total_steps)
        )
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda _: 1.0)
