"""How images become model inputs: one plain description shared by training,
evaluation, prediction and exported bundles (so they can never disagree)."""

from __future__ import annotations

import functools
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import torch
from PIL import Image, ImageOps

IMAGENET_MEAN = (0.485, 0.456, 0.406)


IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclass
class Preprocessing:
    resize: int  # shorter side is resized to this
    crop: int  # then a centred square crop of this side
    channels: int  # 1 (grayscale) or 3 (RGB): input adaptation happens here
    mean: list[float] = field(default_factory=list)
    std: list[float] = field(default_factory=list)
    interpolation: str = "bilinear"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Preprocessing:
        return cls(
            resize=int(raw["resize"]),
            crop=int(raw["crop"]),
            channels=int(raw["channels"]),
            mean=[float(v) for v in raw.get("mean", [])],
            std=[float(v) for v in raw.get("std", [])],
            interpolation=str(raw.get("interpolation", "bilinear")),
        )

    @property
    def mode(self) -> str:
        return "L" if self.channels == 1 else "RGB"

    def load_image(self, image: Image.Image) -> np.ndarray:
        """PIL image (any mode) -> uint8 array (C, crop, crop), before normalisation."""
        image = to_mode(image, self.mode)
        w, h = image.size
        if (w, h) != (self.crop, self.crop) or self.resize != self.crop:
            scale = self.resize / min(w, h)
            new = (max(1, round(w * scale)), max(1, round(h * scale)))
            if new != (w, h):
                image = image.resize(new, _RESAMPLE[self.interpolation])
            w, h = image.size
            left, top = (w - self.crop) // 2, (h - self.crop) // 2
            image = image.crop((left, top, left + self.crop, top + self.crop))
        array = np.array(image, dtype=np.uint8)  # a writable copy (torch.from_numpy needs one)
        if array.ndim == 2:
            array = array[None]
        else:
            array = array.transpose(2, 0, 1)
        return np.ascontiguousarray(array)

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


@functools.lru_cache(maxsize=16)
def _stats(mean: tuple, std: tuple, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean and std as broadcastable tensors, made once per device (normalize runs per batch)."""
    shape = (1, -1, 1, 1)
    return (torch.tensor(mean, device=device).view(shape), torch.tensor(std, device=device).view(shape))


_RESAMPLE = {
    "nearest": Image.Resampling.NEAREST,
    "bilinear": Image.Resampling.BILINEAR,
    "bicubic": Image.Resampling.BICUBIC,
}


def to_mode(image: Image.Image, mode: str) -> Image.Image:
    """Convert any PIL mode (L, RGB, RGBA, P, CMYK, I;16, I, F, LA...) to L or RGB."""
    image = ImageOps.exif_transpose(image) or image
    if image.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        array = np.asarray(image, dtype=np.float64)
        lo, hi = float(array.min()), float(array.max())
        scaled = (array - lo) / (hi - lo) * 255.0 if hi > lo else np.zeros_like(array)
        image = Image.fromarray(scaled.astype(np.uint8), mode="L")
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        # composite on white rather than letting transparent pixels turn black
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        image = Image.alpha_composite(background, rgba)
    if image.mode != mode:
        image = image.convert(mode)
    return image
