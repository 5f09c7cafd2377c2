"""Evaluate a finished run on exactly the images it was validated on, and find those images
again later (for thumbnails in a results gallery).

A run validated on the images its ``split.csv`` lists as ``val`` (from separate data,
``val_data``, or held out from ``data``). :func:`evaluate_run` evaluates exactly those, so
its accuracy equals the run's ``final_val_accuracy``.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from tlgui.core.base.cancel import StopFlag
from tlgui.core.base.config import TrainConfig
from tlgui.core.base.errors import DataError, RunDirError
from tlgui.core.base.pixels import RawImage
from tlgui.core.data.catalog import open_source
from tlgui.core.data.corrections import correct_sets
from tlgui.core.data.sources import ImageSet, load_image_file
from tlgui.core.data.split import stratified_split
from tlgui.core.models.inference import DEVICE_DEFAULT
from tlgui.core.results.evaluate import Evaluation, evaluate_model
from tlgui.core.results.run_split import indices_of, read_split
from tlgui.core.results.runs import RunDir

Progress = Callable[[int, int], None]


_INDEX = re.compile(r" #(\d+)$")


@dataclass(frozen=True)
class RunValidation:
    """Where a run's validation images come from."""

    data: str  # an open_source spec
    split: str
    indices: np.ndarray | None  # None: every image of data/split
    batch_size: int = 256
    missing: int = 0  # images of the stored split that are gone from the data
    amp_dtype: torch.dtype | None | str = DEVICE_DEFAULT  # what the run validated in (summary.json "precision")
    corrections: str | None = None  # the run's label corrections file (config.json)
    corrections_sha256: str | None = None
    run_dir: str | None = None  # where the run keeps its own copy of them

    def describe(self) -> str:
        if self.indices is None:
            return f"{self.data} ({self.split} split)"
        gone = f" ({self.missing:,} listed in split.csv are gone)" if self.missing else ""
        return f"{len(self.indices):,} validation images held out from {self.data}{gone}"


def run_validation(run_dir: str | Path) -> RunValidation:
    """Read ``config.json`` (and ``split.csv``) and say which images the run validated on.

    The stored split wins: images added to the folder later, or a scan that drops a file,
    cannot move training images into validation. Runs from before split.csv existed get
    their split rebuilt the way training made it then."""
    run = RunDir(Path(run_dir).expanduser())
    if not run.config.is_file():
        raise RunDirError(f"{run.path} is not a tlgui run folder (it has no config.json)")
    config = TrainConfig.load(run.config)
    batch = max(int(config.batch_size), 256)  # what training validated with
    stored = read_split(run.path)
    spec, split = (config.val_data, config.val_split_name) if config.val_data else (config.data, config.split)
    fixes = (config.corrections, config.corrections_sha256)
    if stored is not None:
        images = open_source(spec, split)
        correct_sets(*fixes, [(images, spec)], run.path)  # split.csv holds the corrected labels
        indices, missing = indices_of(images, spec, stored, "val")
        if len(indices) == 0:
            raise DataError(f"none of the validation images listed in {run.path / 'split.csv'} are in {spec} any more")
        return RunValidation(spec, split, indices, batch, len(missing), _run_precision(run), *fixes, str(run.path))
    if config.val_data:
        return RunValidation(
            config.val_data, config.val_split_name, None, batch, 0, _run_precision(run), *fixes, str(run.path)
        )
    images = open_source(config.data, config.split)
    correct_sets(*fixes, [(images, config.data)], run.path)
    _train_idx, val_idx = stratified_split(images.labels, config.val_split, config.seed)
    return RunValidation(config.data, config.split, val_idx, batch, 0, _run_precision(run), *fixes, str(run.path))


def _run_precision(run: RunDir) -> torch.dtype | None | str:
    """The autocast dtype the run validated in, from summary.json; the device's default for
    runs that did not record it. bf16 and fp32 differ in a few borderline images."""
    try:
        precision = json.loads(run.summary.read_text(encoding="utf-8")).get("precision")
    except (OSError, ValueError, AttributeError):
        return DEVICE_DEFAULT
    return {"bf16": torch.bfloat16, "fp32": None}.get(precision, DEVICE_DEFAULT)


def evaluate_run(
    run_dir: str | Path,
    progress: Progress | None = None,
    should_stop: StopFlag = None,
    device: str = "auto",
) -> Evaluation:
    """Evaluate ``run_dir/model.pt`` on the run's own validation images.

    Raises :class:`TlguiError` when the folder is not a run, has no model yet, or its data
    cannot be opened any more.
    """
    run = RunDir(Path(run_dir).expanduser())
    if not run.config.is_file():
        raise RunDirError(f"{run.path} is not a tlgui run folder (it has no config.json)")
    if not run.model.is_file():
        raise RunDirError(f"{run.path.name} has no model.pt yet: the run is still going, or it failed before saving")
    val = run_validation(run.path)
    return evaluate_model(str(run.model), val.data, val.split, device, val.batch_size, progress, should_stop,
                          indices=val.indices, amp_dtype=val.amp_dtype, corrections=val.corrections,
                          corrections_sha256=val.corrections_sha256, run_dir=val.run_dir)


class ImageLookup:
    """Loads the image an :class:`Evaluation` row describes: a file path, or ``NAME #i``
    of an in-memory data set (opened once, on first need; safe to share between threads)."""

    def __init__(self, data: str | None = None, split: str = "test"):
        self.data, self.split = data, split
        self._images: ImageSet | None = None
        self._failed = False
        self._lock = threading.Lock()

    def load(self, description: str) -> Image.Image | RawImage:
        """The image (a RawImage for TIFF stacks, deep and .npy images), or DataError when it
        cannot be found or read."""
        match = _INDEX.search(description)
        if match is None or Path(description).is_file():
            return load_image_file(description)
        images = self._open()
        index = int(match.group(1))
        if images is None or index >= len(images) or images.describe(index) != description:
            raise DataError(f"cannot find {description}")
        return images.load(index)

    def _open(self) -> ImageSet | None:
        with self._lock:
            return self._open_locked()

    def _open_locked(self) -> ImageSet | None:
        if self._images is None and not self._failed and self.data:
            try:
                self._images = open_source(self.data, self.split)
            except Exception:  # noqa: BLE001 - no thumbnails then, not an error worth raising twice
                self._failed = True
        return self._images
