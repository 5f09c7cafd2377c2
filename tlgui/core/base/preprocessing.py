"""How images become model inputs: one plain description shared by training,
evaluation, prediction and exported bundles (so they can never disagree)."""

from __future__ import annotations

import copy
import functools
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from PIL import Image

from tlgui.core.base.pixels import RESAMPLE as _RESAMPLE
from tlgui.core.base.pixels import Intensity, Prep, RawImage, model_input, to_mode

__all__ = ["IMAGENET_MEAN", "IMAGENET_STD", "Preprocessing", "to_mode", "_RESAMPLE"]

IMAGENET_MEAN = (0.485, 0.456, 0.406)


IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclass
class Preprocessing:
    resize: int  # shorter side is resized to this
    crop: int  # then a centred square crop of this side
    channels: int  # what the model takes: 1 (gray), 3 (RGB) or the data's own channel count
    mean: list[float] = field(default_factory=list)
    std: list[float] = field(default_factory=list)
    interpolation: str = "bilinear"
    # Deep and multi-channel data (see tlgui.core.base.pixels); defaults are 8-bit pictures as before.
    channel_select: list[int] | None = None  # 0-based channels of the file the model uses; None: all
    intensity: Intensity = field(default_factory=lambda: Intensity(mode="none"))  # raw value window
    source_dtype: str | None = None  # the training files' dtype ("uint16"); None: 8-bit pictures
    source_channels: int | None = None  # channels per training file, before channel_select
    stack: str = "middle"  # how z/t stacks become one image: "middle" | "max"

    def to_dict(self) -> Prep:
        """A plain copy (JSON in model.pt and the bundle), in the order of the fields."""
        return Prep(
            resize=self.resize, crop=self.crop, channels=self.channels, mean=list(self.mean), std=list(self.std),
            interpolation=self.interpolation,
            channel_select=None if self.channel_select is None else list(self.channel_select),
            intensity=copy.deepcopy(self.intensity), source_dtype=self.source_dtype,
            source_channels=self.source_channels, stack=self.stack,
        )

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> Preprocessing:
        """From a stored dict (a Prep, or one from before deep images: the size and channels only)."""
        return cls(
            resize=int(raw["resize"]),
            crop=int(raw["crop"]),
            channels=int(raw["channels"]),
            mean=[float(v) for v in raw.get("mean", [])],
            std=[float(v) for v in raw.get("std", [])],
            interpolation=str(raw.get("interpolation", "bilinear")),
            channel_select=[int(c) for c in raw["channel_select"]] if raw.get("channel_select") else None,
            intensity=_read_intensity(raw.get("intensity") or {"mode": "none"}),
            source_dtype=raw.get("source_dtype") or None,
            source_channels=int(raw["source_channels"]) if raw.get("source_channels") else None,
            stack=str(raw.get("stack") or "middle"),
        )

    @property
    def mode(self) -> str:
        return "L" if self.channels == 1 else "RGB"

    def load_image(self, image: Image.Image | RawImage | np.ndarray) -> np.ndarray:
        """A picture or raw image -> uint8 array (C, crop, crop), before normalisation
        (:func:`tlgui.core.base.pixels.model_input`, the one place this happens)."""
        return model_input(image, self.to_dict())

    @property
    def deep(self) -> bool:
        """Whether raw values pass an intensity window (data deeper than 8 bits, or asked for)."""
        return (self.intensity or {}).get("mode", "none") != "none"

    def normalize(self, batch: torch.Tensor) -> torch.Tensor:
        """uint8 batch (N, C, H, W) -> float batch ready for the model."""
        x = batch.float().div_(255.0)
        if self.mean:
            mean, std = _stats(tuple(self.mean), tuple(self.std), x.device)
            x = x.sub_(mean).div_(std)
        return x

    def __call__(self, image: Image.Image) -> torch.Tensor:
        """One PIL image -> normalised float tensor (C, H, W)."""
        return self.normalize(torch.from_numpy(self.load_image(image))[None])[0]


def _read_intensity(raw: Mapping[str, Any]) -> Intensity:
    """The stored window's keys, as they were."""
    intensity = Intensity()
    if "mode" in raw:
        intensity["mode"] = str(raw["mode"])
    if "low" in raw:
        intensity["low"] = list(raw["low"])
    if "high" in raw:
        intensity["high"] = list(raw["high"])
    return intensity


@functools.lru_cache(maxsize=16)
def _stats(mean: tuple, std: tuple, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean and std as broadcastable tensors, made once per device (normalize runs per batch)."""
    shape = (1, -1, 1, 1)
    return (torch.tensor(mean, device=device).view(shape), torch.tensor(std, device=device).view(shape))
