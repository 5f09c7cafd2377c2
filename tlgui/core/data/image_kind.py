"""What kind of images a data set holds (channels, dtype, value range), and the intensity
window fitted to its training images: the facts the data panel, the scan and the run log state,
and the statistics model.pt records so that every later use scales raw values the same way."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import numpy as np
from PIL import Image

from tlgui.core.base.errors import DataError
from tlgui.core.base.pixels import (
    Prep,
    RawImage,
    is_array_file,
    picture_array,
    scale_intensity,
    select_channels,
)
from tlgui.core.data.decode_cache import read_facts, write_facts
from tlgui.core.data.sources import ImageSet, image_error_reason, load_image_file, read_image

LOW_PERCENTILE, HIGH_PERCENTILE = 0.05, 99.95  # the "dataset" window: a few hot pixels don't set it
_STAT_IMAGES = 256  # training images sampled for the window and the mean/std
GRAY_MODES = frozenset({"1", "L", "LA"})  # 8-bit PIL modes of one channel (the rest become RGB)
DEEP_MODES = frozenset({"I;16", "I;16B", "I;16L", "I;16N", "I", "F"})  # PIL modes read as arrays (their values)


# what reading one image tells: (channels, dtype, low, high, notes, (width, height), read as an array)
ImageFacts = tuple[int, str, float, float, tuple[str, ...], tuple[int, int], bool]


@dataclass
class ImageKind:
    channels: int  # per file (the most common count)
    dtype: str  # "uint8" for pictures
    value_max: float  # the largest value seen
    count: int = 0  # images looked at
    notes: list[str] = field(default_factory=list)  # what reading did (reduced stacks, pages as channels)
    width: int = 0  # median size of those looked at
    height: int = 0
    arrays: bool = False  # read as arrays (TIFF stacks, .npy, 16-bit), not as 8-bit pictures

    @property
    def deep(self) -> bool:
        """Deeper than 8 bits (or float): raw values need an intensity window."""
        return self.dtype != "uint8"

    @property
    def bit_depth(self) -> int:
        return np.dtype(self.dtype).itemsize * 8

    @property
    def value_bits(self) -> int:
        """Bits the values really use (12 for a 12-bit camera in a 16-bit file)."""
        return max(1, int(np.ceil(np.log2(self.value_max + 1)))) if self.value_max > 0 else 1

    def describe(self, images: int | None = None) -> str:
        """E.g. "4 channels, 16-bit (12-bit values), 600 images"."""
        depth = f"{self.bit_depth}-bit float" if self.dtype.startswith("float") else f"{self.bit_depth}-bit"
        if not self.dtype.startswith("float") and self.value_bits < self.bit_depth:
            depth += f" ({self.value_bits}-bit values)"
        text = f"{self.channels} channel{'' if self.channels == 1 else 's'}, {depth}"
        return text + (f", {images:,} images" if images is not None else "")


def kind_of(item: Image.Image | RawImage) -> ImageFacts:
    """(channels, dtype, low, high, notes, (width, height), read as an array) of one read image."""
    if isinstance(item, RawImage):
        array = item.array
        low, high = (float(array.min()), float(array.max())) if array.size else (0.0, 0.0)
        return item.channels, str(array.dtype), low, high, item.notes, item.size, True
    channels = 1 if item.mode in GRAY_MODES else 3
    extrema = item.getextrema()
    flat = [extrema] if isinstance(extrema[0], (int, float)) else list(extrema)
    return channels, "uint8", float(min(e[0] for e in flat)), float(max(e[1] for e in flat)), (), item.size, False


def probe_kind(images: ImageSet, indices=None, stack: str = "middle", sample: int = 24) -> ImageKind:
    """Look at up to ``sample`` images spread over ``indices`` (default: all)."""
    indices = np.arange(len(images)) if indices is None else np.asarray(indices)
    if images.arrays is not None:
        arrays = images.arrays
        channels = 1 if arrays.ndim == 3 or arrays.shape[-1] == 1 else arrays.shape[-1]
        return ImageKind(int(channels), str(arrays.dtype), float(arrays[indices[:sample]].max(initial=0)),
                         len(indices), [], int(arrays.shape[2]), int(arrays.shape[1]))
    step = max(1, len(indices) // sample)
    seen = []
    for index in indices[::step][:sample]:
        try:
            seen.append(sample_kind(images, int(index), stack))
        except DataError:
            continue
    if not seen:
        raise DataError(f"{images.name}: none of the {min(sample, len(indices))} images looked at could be read")
    channels = Counter(s[0] for s in seen).most_common(1)[0][0]
    dtype = Counter(s[1] for s in seen).most_common(1)[0][0]
    notes = list(dict.fromkeys(n for s in seen for n in s[4]))
    return ImageKind(int(channels), dtype, max(s[3] for s in seen), len(seen), notes,
                     int(np.median([s[5][0] for s in seen])), int(np.median([s[5][1] for s in seen])),
                     any(s[6] for s in seen))


def sample_kind(images: ImageSet, index: int, stack: str = "middle") -> ImageFacts:
    """:func:`kind_of` sample ``index``: from the file (:func:`file_kind`) for file-based sets."""
    if images.paths is None:
        return kind_of(images.load(index, stack))
    return file_kind(images.paths[index], stack)


def file_kind(path: str, stack: str = "middle") -> ImageFacts:
    """:func:`kind_of` one file at the least cost. An 8-bit picture (JPEG, PNG, BMP...) is never
    decoded: its header gives the mode and size, and its values are 0..255 by definition. Arrays
    (TIFF, .npy, 16-bit images), whose values say how many bits they use, are read once; what
    that told is kept beside the decode cache, so later runs of the same files read nothing.
    DataError naming the file when it cannot be read."""
    if not is_array_file(path):
        mode, size = picture_header(path)
        if mode not in DEEP_MODES:
            return 1 if mode in GRAY_MODES else 3, "uint8", 0.0, 255.0, (), size, False
    kept = _kept_facts(path, stack)
    if kept is not None:
        return kept
    facts = kind_of(load_image_file(path, stack))
    write_facts(path, stack, facts)
    return facts


def _kept_facts(path: str, stack: str) -> ImageFacts | None:
    try:
        kept = read_facts(path, stack)
        if not kept:
            return None
        channels, dtype, low, high, notes, (width, height), arrays = kept
        return int(channels), str(dtype), float(low), float(high), tuple(map(str, notes)), (int(width), int(height)), \
            bool(arrays)
    except (TypeError, ValueError, OSError):
        return None  # not kept, the file is gone, or an entry from elsewhere: read the file


def picture_header(path: str) -> tuple[str, tuple[int, int]]:
    """(PIL mode, (width, height)) of a picture from its header alone, without decoding it."""
    try:
        with Image.open(path) as image:
            return image.mode, image.size
    except Exception as exc:  # noqa: BLE001 - PIL raises many types for bad data
        raise DataError(f"cannot read {path}: {image_error_reason(exc)}") from None


def load_reduced(images: ImageSet, index: int, side: int | None, stack: str = "middle") -> Image.Image | RawImage:
    """Sample ``index`` as training decodes it for ``side`` px: a JPEG at least twice that size is
    decoded at reduced scale (libjpeg's draft), never at full size; other files are read as they
    are. DataError naming the file when it cannot be read."""
    if images.paths is None:
        return images.load(index, stack)
    return read_reduced(images.paths[index], side, stack)


def read_reduced(path: str, side: int | None, stack: str = "middle") -> Image.Image | RawImage:
    """:func:`load_reduced` for a file path."""
    try:
        return read_image(path, side, stack)
    except Exception as exc:  # noqa: BLE001 - PIL raises many types for bad data
        raise DataError(f"cannot read {path}: {image_error_reason(exc)}") from None


def fit_intensity(images: ImageSet, indices, prep_dict: Prep, seed: int = 0) -> tuple[list[float], list[float]]:
    """Per-channel window (low, high) from the training images: the 0.05th and 99.95th
    percentiles of their pixels, so absolute levels mean the same in every image."""
    channels = len(prep_dict.get("channel_select") or []) or prep_dict.get("source_channels")
    if not channels:  # prepare always records them; a hand-made preprocessing may not
        raise DataError(f"{images.name}: the preprocessing names no image channels to measure the intensities of")
    planes: list[list[np.ndarray]] = [[] for _ in range(channels)]
    for array in _sample_arrays(images, indices, prep_dict, seed):
        array = select_channels(array, prep_dict)
        for c, plane in enumerate(array):
            flat = plane.reshape(-1)
            planes[c].append(flat[:: max(1, flat.size // 4096)])  # at most ~4k pixels per image
    if not planes[0]:
        raise DataError(f"{images.name}: none of the training images could be read to measure their intensities")
    low, high = [], []
    for values in planes:
        pooled = np.concatenate(values).astype(np.float64)
        lo, hi = np.percentile(pooled, [LOW_PERCENTILE, HIGH_PERCENTILE])
        if hi <= lo:
            hi = lo + 1.0
        low.append(float(lo))
        high.append(float(hi))
    return low, high


def fit_normalisation(images: ImageSet, indices, prep_dict: Prep, seed: int = 0) -> tuple[list[float], list[float]]:
    """Per-channel mean and std of the training images after the intensity window (on 0..1),
    so the model sees standardised channels, as a careful script does."""
    sums = None
    for array in _sample_arrays(images, indices, prep_dict, seed):
        scaled = scale_intensity(select_channels(array, prep_dict), prep_dict).astype(np.float64) / 255.0
        flat = scaled.reshape(scaled.shape[0], -1)
        stats = np.stack([flat.sum(1), (flat**2).sum(1), np.full(flat.shape[0], flat.shape[1])])
        sums = stats if sums is None else sums + stats
    if sums is None:
        raise DataError(f"{images.name}: none of the training images could be read")
    mean = sums[0] / sums[2]
    std = np.sqrt(np.maximum(sums[1] / sums[2] - mean**2, 0.0))
    return [round(float(m), 6) for m in mean], [round(float(max(s, 1e-3)), 6) for s in std]


def _sample_arrays(images: ImageSet, indices, prep_dict: Prep, seed: int):
    indices = np.asarray(indices)
    if len(indices) > _STAT_IMAGES:
        indices = np.sort(np.random.default_rng(seed).choice(indices, _STAT_IMAGES, replace=False))
    for index in indices:
        try:  # big JPEGs at the reduced scale training decodes them at (a --channels choice on photos)
            item = load_reduced(images, int(index), prep_dict.get("resize"), prep_dict.get("stack", "middle"))
        except DataError:
            continue
        array = item.array if isinstance(item, RawImage) else picture_array(item, "RGB" if item.mode != "L" else "L")
        channels = prep_dict.get("source_channels")
        if channels and array.shape[0] != int(channels):
            continue  # an odd file: skipped (and named) when the images are decoded
        if prep_dict.get("source_dtype") and str(array.dtype) != prep_dict["source_dtype"]:
            continue
        yield array
