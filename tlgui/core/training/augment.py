"""Per-sample training augmentation on uint8 images.

``flip`` and ``standard`` use ``torchvision.transforms.v2``. v2 transforms draw one set of
random parameters per call, so a whole batch passed at once would share one flip and one
shift; each image is transformed on its own instead. ``flip-rotate`` (microscopy: a cell has
no up, down, left or right) is the 8 flips and quarter turns of a square, drawn per image
and applied to the whole batch at once with ``torch.where``. The random numbers come from the
run's data generator, so a run and its resumed continuation augment identically.
"""

from __future__ import annotations

from functools import lru_cache

import torch
from torchvision.transforms import v2

FLIP_ROTATE = "flip-rotate"


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


def flip_rotate(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Each image of a (N, C, H, W) batch in one of the 8 orientations of a square, all equally
    likely: a left-right flip, an up-down flip and a transpose, each with probability 1/2,
    compose to every flip and quarter turn exactly once (the transpose only on square images)."""
    coins = torch.randint(0, 2, (len(x), 3), generator=generator, device="cpu").bool().to(x.device)
    pick = coins.view(-1, 3, 1, 1, 1)
    x = torch.where(pick[:, 0], x.flip(-1), x)
    x = torch.where(pick[:, 1], x.flip(-2), x)
    if x.shape[-1] == x.shape[-2]:
        x = torch.where(pick[:, 2], x.transpose(-1, -2), x)
    return x


def augment_batch(x: torch.Tensor, mode: str, generator: torch.Generator) -> torch.Tensor:
    """Augment each image of a (N, C, H, W) batch independently; the input is not modified."""
    if mode == FLIP_ROTATE:
        return flip_rotate(x, generator) if len(x) else x
    transform = build_augmentation(mode, int(x.shape[-1]))
    if transform is None or len(x) == 0:
        return x
    seed = int(torch.randint(0, 2**62, (1,), generator=generator))
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return torch.stack([transform(image) for image in x])
