"""Batch augmentation for training."""

from __future__ import annotations

import torch
from torch import nn


def augment_batch(x: torch.Tensor, mode: str, generator: torch.Generator) -> torch.Tensor:
    if mode == "none":
        return x
    flip = torch.rand(len(x), generator=generator) < 0.5
    if flip.any():
        x = x.clone()
        x[flip] = x[flip].flip(-1)
    if mode == "standard":
        pad = max(1, x.shape[-1] // 8)
        padded = nn.functional.pad(x, (pad, pad, pad, pad), mode="replicate" if x.is_floating_point() else "constant")
        dx, dy = (int(v) for v in torch.randint(0, 2 * pad + 1, (2,), generator=generator))
        x = padded[..., dy : dy + x.shape[-2], dx : dx + x.shape[-1]]
    return x
