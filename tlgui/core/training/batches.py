"""Training and validation batches, from memory or a lazy dataset; validation passes."""

from __future__ import annotations

import math

import torch
from torch import nn

from tlgui.core.base.cancel import StopCheck
from tlgui.core.base.config import TrainConfig
from tlgui.core.models.inference import autocast_for, batched_logits, to_model_input
from tlgui.core.training.distributed import SINGLE, Dist, sum_across
from tlgui.core.training.prepare import Prepared


class Batches:
    """Yields (uint8 images, labels) batches from memory or from a lazy dataset.

    Under torchrun (``dist.enabled``) every process draws the same permutation and yields
    its share of each *global* training batch, and its share of the validation images.
    """

    def __init__(self, prepared: Prepared, config: TrainConfig, train: bool, generator: torch.Generator,
                 dist: Dist = SINGLE):
        self.p, self.config, self.train, self.generator, self.dist = prepared, config, train, generator, dist
        self.lazy = prepared.train_lazy if train else prepared.val_lazy
        self.x = prepared.train_x if train else prepared.val_x
        self.y = prepared.train_y if train else prepared.val_y
        self.batch_size = config.batch_size if train else max(config.batch_size, 256)
        if dist.enabled and not train:  # validation: each process checks its own share
            if self.lazy is None:
                x, y = self.tensors()
                self.x, self.y = x[dist.rank :: dist.world], y[dist.rank :: dist.world]
            else:
                self.lazy = _Share(self.lazy, dist)

    def tensors(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The images and labels held in memory (when the data is not read lazily)."""
        if self.x is None or self.y is None:
            raise RuntimeError("these batches are read from the files as they go, not held in memory")
        return self.x, self.y

    def _count(self) -> int:
        return len(self.tensors()[1]) if self.lazy is None else len(self.lazy)

    def __len__(self) -> int:
        n = self._count()
        if self.dist.enabled and self.train:
            full, rest = divmod(n, self.batch_size)
            return max(1, full + (rest >= self.dist.world))  # a last batch too small to share is dropped
        return max(1, math.ceil(n / self.batch_size))

    def _global_batches(self):
        """This process's index lists, one per global batch (the same count on every process)."""
        n = self._count()
        order = torch.randperm(n, generator=self.generator)
        for start in range(0, n, self.batch_size):
            index = order[start : start + self.batch_size]
            if len(index) < self.dist.world:
                return
            yield self.dist.share(index)

    def __iter__(self):
        if self.dist.enabled and self.train:
            if self.lazy is None:
                for index in self._global_batches():
                    yield self.x[index], self.y[index]
                return
            yield from self._lazy_batches(batch_sampler=[i.tolist() for i in self._global_batches()])
            return
        if self.lazy is None:
            n = len(self.y)
            order = torch.randperm(n, generator=self.generator) if self.train else torch.arange(n)
            for start in range(0, n, self.batch_size):
                index = order[start : start + self.batch_size]
                yield self.x[index], self.y[index]
            return
        yield from self._lazy_batches(batch_size=self.batch_size, shuffle=self.train, generator=self.generator)

    def _lazy_batches(self, **sampling):
        loader = torch.utils.data.DataLoader(
            self.lazy,
            num_workers=self.config.num_workers,
            # never fork a process that runs Qt threads
            multiprocessing_context="spawn" if self.config.num_workers > 0 else None,
            persistent_workers=False,
            **sampling,
        )
        label_map = getattr(self.lazy, "label_map", None)
        for x, y in loader:
            if label_map is not None:
                y = torch.from_numpy(label_map)[y]
            yield x, y


class _Share(torch.utils.data.Dataset):
    """Every ``world``-th item of a lazy dataset, from ``rank`` (keeps its label_map)."""

    def __init__(self, dataset, dist: Dist):
        self.dataset, self.index = dataset, list(range(dist.rank, len(dataset), dist.world))
        self.label_map = getattr(dataset, "label_map", None)

    def __len__(self) -> int:
        return len(self.index)

    def __getitem__(self, i):
        return self.dataset[self.index[i]]


def evaluate_batches(model: nn.Module, batches: Batches, prepared: Prepared, criterion, should_stop: StopCheck):
    """(loss, accuracy) over every validation batch, under torchrun reduced over every process's
    share; (None, None) when ``should_stop`` ended the pass early: figures from part of the
    validation set are never reported."""
    sums = validation_sums(model, batches, prepared, criterion, should_stop)
    if sums is None:
        return None, None
    loss_sum, correct, count = sums
    if batches.dist.enabled:
        loss_sum, correct, count = sum_across(batches.dist, [loss_sum, correct, count], prepared.device)
    return (loss_sum / count, correct / count) if count else (float("nan"), float("nan"))


def validation_sums(model: nn.Module, batches: Batches, prepared: Prepared, criterion, should_stop: StopCheck):
    """(summed loss, correct, count) over this process's validation images; None if stopped early."""
    device = prepared.device
    if batches.lazy is None:
        x, y = batches.tensors()
        logits = batched_logits(model, x, prepared.preprocessing, device, batches.batch_size, should_stop,
                                prepared.precision.autocast_dtype, prepared.channels_last)
        if len(logits) < len(y):
            return None
        if len(logits) == 0:
            return 0.0, 0.0, 0.0
        return float(criterion(logits, y)) * len(y), float((logits.argmax(1) == y).sum()), float(len(y))
    total_loss, correct, count = 0.0, 0, 0
    model.eval()
    with torch.no_grad():
        for x, y in batches:
            if should_stop():
                return None
            with autocast_for(device, prepared.precision.autocast_dtype):
                out = model(to_model_input(x, prepared.preprocessing, device, prepared.channels_last)).float()
            y = y.to(device)
            total_loss += float(criterion(out, y)) * len(y)
            correct += int((out.argmax(1) == y).sum())
            count += len(y)
    return total_loss, float(correct), float(count)
