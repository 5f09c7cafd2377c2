"""Training and validation batches, from memory or a lazy dataset; validation passes."""

from __future__ import annotations

import math

import torch
from torch import nn

from tlgui.core.base.config import TrainConfig
from tlgui.core.models.inference import autocast_for, batched_logits, to_model_input
from tlgui.core.training.prepare import Prepared


class Batches:
    """Yields (uint8 images, labels) batches from memory or from a lazy dataset."""

    def __init__(self, prepared: Prepared, config: TrainConfig, train: bool, generator: torch.Generator):
        self.p, self.config, self.train, self.generator = prepared, config, train, generator
        self.lazy = prepared.train_lazy if train else prepared.val_lazy
        self.x = prepared.train_x if train else prepared.val_x
        self.y = prepared.train_y if train else prepared.val_y
        self.batch_size = config.batch_size if train else max(config.batch_size, 256)

    def __len__(self) -> int:
        n = len(self.y) if self.lazy is None else len(self.lazy)
        return max(1, math.ceil(n / self.batch_size))

    def __iter__(self):
        if self.lazy is None:
            n = len(self.y)
            order = torch.randperm(n, generator=self.generator) if self.train else torch.arange(n)
            for start in range(0, n, self.batch_size):
                index = order[start : start + self.batch_size]
                yield self.x[index], self.y[index]
            return
        loader = torch.utils.data.DataLoader(
            self.lazy,
            batch_size=self.batch_size,
            shuffle=self.train,
            generator=self.generator,
            num_workers=self.config.num_workers,
            # never fork a process that runs Qt threads
            multiprocessing_context="spawn" if self.config.num_workers > 0 else None,
            persistent_workers=False,
        )
        label_map = getattr(self.lazy, "label_map", None)
        for x, y in loader:
            if label_map is not None:
                y = torch.from_numpy(label_map)[y]
            yield x, y


def evaluate_batches(model: nn.Module, batches: Batches, prepared: Prepared, criterion, should_stop):
    """(loss, accuracy) over every validation batch, or (None, None) when ``should_stop``
    ended the pass early: figures from part of the validation set are never reported."""
    device = prepared.device
    if batches.lazy is None:
        logits = batched_logits(model, batches.x, prepared.preprocessing, device, batches.batch_size, should_stop)
        if len(logits) < len(batches.y):
            return None, None
        y = batches.y
        return float(criterion(logits, y)), float((logits.argmax(1) == y).float().mean())
    total_loss, correct, count = 0.0, 0, 0
    model.eval()
    with torch.no_grad():
        for x, y in batches:
            if should_stop():
                return None, None
            with autocast_for(device):
                out = model(to_model_input(x, prepared.preprocessing, device)).float()
            y = y.to(device)
            total_loss += float(criterion(out, y)) * len(y)
            correct += int((out.argmax(1) == y).sum())
            count += len(y)
    return (total_loss / count, correct / count) if count else (float("nan"), float("nan"))
