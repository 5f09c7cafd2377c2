"""Data for training: samples of an opened source (see :mod:`tlgui.core.data.catalog`) turned
into uint8 tensors, skipping (never crashing on) files that fail to decode.

The kinds of source live in ``kinds/`` (image folder, CSV list, IDX folder, torchvision set,
demo), their shared helpers in ``sources.py``.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Literal

import numpy as np
import torch

from tlgui.core.base.cancel import StopFlag, stop_check
from tlgui.core.base.errors import DataError
from tlgui.core.base.preprocessing import Preprocessing
from tlgui.core.data.decode_cache import DecodeCache, cache_key
from tlgui.core.data.sources import (
    ImageSet,
    image_error_reason,
    read_image,
)

Progress = Callable[[int, int], None]


_CHUNK = 256  # samples decoded between stop checks


def fits_in_memory(n: int, prep: Preprocessing, budget_bytes: int | None = None) -> bool:
    """Whether ``n`` decoded uint8 samples of this preprocessing fit in ``budget_bytes``
    (default 2 GiB; ``TLGUI_MEMORY_BUDGET_MB`` overrides it, 0 = always decode on demand)."""
    if budget_bytes is None:
        mb = os.environ.get("TLGUI_MEMORY_BUDGET_MB", "")
        budget_bytes = int(float(mb) * 1024**2) if mb.replace(".", "", 1).isdigit() else 2 * 1024**3
    return n * prep.channels * prep.crop * prep.crop <= budget_bytes


def decode_to_tensor(
    images: ImageSet,
    indices: np.ndarray,
    prep: Preprocessing,
    progress: Progress | None = None,
    should_stop: StopFlag = None,
    cache: DecodeCache | None | Literal["default"] = "default",
) -> tuple[torch.Tensor, torch.Tensor, list[tuple[str, str]]]:
    """Decode ``images[indices]`` into a uint8 (N, C, H, W) tensor and int64 labels.

    Samples that fail to decode are left out and listed as (path, reason). ``progress(done,
    total)`` is called at most ~20 times. ``should_stop`` (any ``core.base.cancel.StopFlag``) is
    checked between chunks: when set, decoding ends early and only the samples done so far
    are returned, so the caller must check its own flag afterwards. Image files go through
    the on-disk decode ``cache`` ("default": the user's; None: none).
    """
    indices = np.asarray(indices, dtype=np.int64).reshape(-1)
    total = len(indices)
    report = _Reporter(progress, total)
    fast = _fast_arrays(images, indices, prep)
    if fast is not None:
        report(total)
        return torch.from_numpy(fast), torch.from_numpy(images.labels[indices].astype(np.int64)), []
    out = torch.empty((total, prep.channels, prep.crop, prep.crop), dtype=torch.uint8)
    out_np = out.numpy()  # shares memory; PIL's arrays are read-only, so copy into it
    ok = np.zeros(total, dtype=bool)
    bad: list[tuple[str, str]] = []
    stop = stop_check(should_stop)
    if cache == "default":
        disk = DecodeCache() if images.paths is not None else None
    else:
        disk = cache
    shape = (prep.channels, prep.crop, prep.crop)

    def work(position: int) -> np.ndarray | Exception:
        index = int(indices[position])
        key = _key(images, index, prep) if disk is not None else None
        if disk is not None and key is not None:
            hit = disk.get(key, shape)
            if hit is not None:
                return hit
        try:
            array = prep.load_image(_load_raw(images, index, prep))
        except Exception as exc:  # noqa: BLE001 - one bad file must not end the run
            return exc
        if disk is not None and key is not None:
            disk.put(key, array)
        return array

    workers = min(4, os.cpu_count() or 1) if images.paths is not None and total >= 64 else 1
    pool = ThreadPoolExecutor(workers) if workers > 1 else None
    try:
        for start in range(0, total, _CHUNK):
            if stop():
                break
            positions = range(start, min(start + _CHUNK, total))
            results = pool.map(work, positions) if pool else map(work, positions)
            for position, result in zip(positions, results, strict=True):
                if isinstance(result, Exception):
                    bad.append(
                        (images.describe(int(indices[position])), image_error_reason(result))
                    )
                else:
                    out_np[position] = result
                    ok[position] = True
            report(positions.stop)
    finally:
        if pool:
            pool.shutdown()
        if disk is not None:
            disk.trim()
    keep = torch.from_numpy(np.flatnonzero(ok))
    labels = torch.from_numpy(images.labels[indices[ok]].astype(np.int64))
    return (out if bool(ok.all()) else out[keep]), labels, bad


def _key(images: ImageSet, index: int, prep: Preprocessing) -> str | None:
    if images.paths is None:
        return None
    try:
        return cache_key(images.paths[index], prep)
    except OSError:
        return None  # a missing file fails (and is reported) when it is decoded


def _load_raw(images: ImageSet, index: int, prep: Preprocessing | None = None):
    """PIL image for ``index`` raising PIL's own exception (for a precise reason); JPEGs much
    larger than ``prep`` needs are decoded at reduced scale."""
    if images.paths is None:
        return images.load(index)
    if prep is None:
        return read_image(images.paths[index])
    return read_image(images.paths[index], prep.resize, prep.stack)


def _fast_arrays(images: ImageSet, indices: np.ndarray, prep: Preprocessing) -> np.ndarray | None:
    """Vectorised conversion when in-memory images need no resizing; None otherwise."""
    arrays = images.arrays
    if arrays is None or arrays.dtype != np.uint8 or prep.resize != prep.crop or prep.deep or prep.channel_select:
        return None
    if arrays.shape[1:3] != (prep.crop, prep.crop):
        return None
    batch = arrays[indices]
    if batch.ndim == 4 and batch.shape[-1] == 1:
        batch = batch[..., 0]
    if batch.ndim == 3:  # grayscale
        batch = batch[:, None]
        return np.ascontiguousarray(np.repeat(batch, 3, axis=1) if prep.channels == 3 else batch)
    if batch.ndim != 4 or batch.shape[-1] != 3:
        return None  # RGBA etc.: PIL composites on white in the slow path
    if prep.channels == 3:
        return np.ascontiguousarray(batch.transpose(0, 3, 1, 2))
    # PIL's own RGB -> L formula (ITU-R 601-2 luma, fixed point), so both paths agree
    weights = np.array([19595, 38470, 7471], dtype=np.uint32)
    luma = (batch.astype(np.uint32) @ weights + 0x8000) >> 16
    return np.ascontiguousarray(luma.astype(np.uint8)[:, None])


class _Reporter:
    """Calls progress(done, total) at most ~20 times, always for the last step."""

    def __init__(self, progress: Progress | None, total: int):
        self.progress, self.total = progress, total
        self.step = max(1, math.ceil(total / 20))
        self.next = self.step

    def __call__(self, done: int) -> None:
        if self.progress is None:
            return
        if done >= self.next or done >= self.total:
            self.progress(done, self.total)
            self.next = (done // self.step + 1) * self.step


class LazyImageDataset(torch.utils.data.Dataset):
    """Decodes on demand, for sets too big for memory. A sample that fails to decode is
    recorded in ``self.bad`` (path, reason) and a readable one (same class when possible)
    is returned instead, so an epoch never stops on a bad file. With DataLoader worker
    processes each worker keeps its own ``bad`` list."""

    def __init__(self, images: ImageSet, indices, prep: Preprocessing, cache: DecodeCache | None = None):
        self.images = images
        self.indices = np.asarray(indices, dtype=np.int64).reshape(-1)
        self.prep = prep
        self.cache = cache if images.paths is not None else None  # decoded files on disk, as decode_to_tensor
        self.bad: list[tuple[str, str]] = []
        self._bad_positions: set[int] = set()

    def __len__(self) -> int:
        return len(self.indices)

    def _try(self, position: int):
        if position in self._bad_positions:
            return None
        index = int(self.indices[position])
        key = _key(self.images, index, self.prep) if self.cache is not None else None
        shape = (self.prep.channels, self.prep.crop, self.prep.crop)
        array = self.cache.get(key, shape) if self.cache is not None and key else None
        if array is not None:
            return torch.from_numpy(array), int(self.images.labels[index])
        try:
            array = self.prep.load_image(_load_raw(self.images, index, self.prep))
        except Exception as exc:  # noqa: BLE001
            self._bad_positions.add(position)
            self.bad.append((self.images.describe(index), image_error_reason(exc)))
            return None
        if self.cache is not None and key is not None:
            self.cache.put(key, array)
        if not array.flags.writeable:  # PIL-backed arrays are read-only
            array = array.copy()
        return torch.from_numpy(array), int(self.images.labels[index])

    def __getitem__(self, position: int) -> tuple[torch.Tensor, int]:
        item = self._try(position)
        if item is not None:
            return item
        n = len(self.indices)
        labels = self.images.labels
        label = labels[self.indices[position]]
        for same_class in (True, False):  # prefer a stand-in of the same class
            for k in range(1, n):
                candidate = (position + k) % n
                if (labels[self.indices[candidate]] == label) != same_class:
                    continue
                item = self._try(candidate)
                if item is not None:
                    return item
        raise DataError(f"none of the {n} images in {self.images.name} could be decoded")
