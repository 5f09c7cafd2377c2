"""Per-sample training augmentation with ``torchvision.transforms.v2`` on uint8 images.

v2 transforms draw one set of random parameters per call, so a whole batch passed at once
would share one flip and one shift; each image is transformed on its own instead. The
random numbers come from the run's data generator (via a forked global stream), so a run
and its resumed continuation augment identically.
"""

from __future__ import annotations

from functools import lru_cache

import torch
from torchvision.transforms import v2


@lru_cache(maxsize=16)
def build_augmentation(mode: str, size: int) -> v2.Transform | None:
    """``flip``: random horizontal flip; ``standard``: flip plus a random shift of up to
    1/8 of the side (pad with edge pixels, then crop back). ``none``: None."""
    if mode == "none":
        return None
    steps: list[v2.Transform] = [v2.RandomHorizontalFlip(0.5)]
    if mode == "standard":
        steps.append(v2.RandomCrop(size, padding=max(1, size // 8), padding_mode="edge"))
    return v2.Compose(steps)


def augment_batch(x: torch.Tensor, mode: str, generator: torch.Generator) -> torch.Tensor:
    """Augment each image of a (N, C, H, W) batch independently; the input is not modified."""
    transform = build_augmentation(mode, int(x.shape[-1]))
    if transform is None or len(x) == 0:
        return x
    seed = int(torch.randint(0, 2**62, (1,), generator=generator))
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return torch.stack([transform(image) for image in x])
