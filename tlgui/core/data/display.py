"""Showing an image to a person, as Fiji and napari users expect: each channel auto-contrasted
on its own, a colour per channel, composited. Display only: it never changes what the model
sees (that is :func:`tlgui.core.base.pixels.model_input`)."""

from __future__ import annotations

import numpy as np
from PIL import Image

from tlgui.core.base.pixels import RawImage, to_mode

# Fiji's composite order: red, green, blue, gray, cyan, magenta, yellow
CHANNEL_COLOURS = (
    (255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 255), (0, 255, 255), (255, 0, 255), (255, 255, 0),
)
CHANNEL_COLOUR_NAMES = ("red", "green", "blue", "gray", "cyan", "magenta", "yellow")
CONTRAST_PERCENTILES = (0.5, 99.5)  # auto-contrast: a few bright pixels don't set the range


def channel_colour(index: int) -> tuple[int, int, int]:
    return CHANNEL_COLOURS[index % len(CHANNEL_COLOURS)]


def display_rgb(item: Image.Image | RawImage, visible: list[bool] | None = None) -> np.ndarray:
    """uint8 (H, W, 3) for the screen. 8-bit pictures are shown as they are; deep and
    multi-channel images per-channel auto-contrasted, one channel in gray, several in colour;
    ``visible`` (one flag per channel) hides channels."""
    if isinstance(item, Image.Image):
        return np.asarray(to_mode(item, "RGB"), dtype=np.uint8)
    array = item.array
    if array.dtype == np.uint8 and array.shape[0] == 3 and visible is None:
        return np.ascontiguousarray(array.transpose(1, 2, 0))  # an 8-bit RGB TIFF: a picture
    flags = list(visible) if visible is not None else [True] * array.shape[0]
    flags += [True] * (array.shape[0] - len(flags))
    if array.shape[0] == 1:
        plane = auto_contrast(array[0]) if flags[0] else np.zeros(array.shape[1:], np.float32)
        return (np.repeat(plane[..., None], 3, axis=2) * 255 + 0.5).astype(np.uint8)
    out = np.zeros((*array.shape[1:], 3), dtype=np.float32)
    for c in range(array.shape[0]):
        if flags[c]:
            out += auto_contrast(array[c])[..., None] * (np.asarray(channel_colour(c), np.float32) / 255)
    return (np.clip(out, 0, 1) * 255 + 0.5).astype(np.uint8)


def auto_contrast(plane: np.ndarray) -> np.ndarray:
    """One channel -> float32 0..1, stretched between its 0.5th and 99.5th percentiles."""
    values = plane.astype(np.float32)
    sample = values.reshape(-1)[:: max(1, values.size // 65536)]
    low, high = np.percentile(sample, CONTRAST_PERCENTILES)
    if high <= low:
        high = low + 1.0
    return np.clip((values - low) / (high - low), 0, 1)


def channel_count(item: Image.Image | RawImage) -> int:
    """How many channels a viewer can toggle (0 for 8-bit pictures, shown as they are)."""
    return item.channels if isinstance(item, RawImage) and not (item.array.dtype == np.uint8 and item.channels == 3) \
        else 0


def shrink(item: Image.Image | RawImage, side: int) -> Image.Image | RawImage:
    """``item`` fitted into ``side`` x ``side`` for a thumbnail, still raw (its dtype and every
    channel), so a viewer can re-render it with other channels shown without reading it again."""
    if isinstance(item, Image.Image):
        picture = item.copy()
        picture.thumbnail((side, side))
        return picture
    width, height = item.size
    scale = min(1.0, side / max(width, height, 1))
    if scale >= 1.0:
        return item
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    planes = [np.asarray(Image.fromarray(np.ascontiguousarray(plane, dtype=np.float32), "F")
                         .resize(size, Image.Resampling.BOX)) for plane in item.array]
    small = np.stack(planes)
    if item.array.dtype.kind in "iub":
        info = np.iinfo(item.array.dtype) if item.array.dtype.kind != "b" else np.iinfo(np.uint8)
        small = np.clip(np.rint(small), info.min, info.max)
    return RawImage(small.astype(item.array.dtype), item.notes)
