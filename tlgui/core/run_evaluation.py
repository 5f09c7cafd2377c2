"""Evaluate a finished run on exactly the images it was validated on, and find those images
again later (for thumbnails in a results gallery).

A run validated either on separate data (``val_data`` with split ``val_split_name``) or on
a seeded, stratified share of its training data (``val_split`` of ``data``/``split``).
:func:`evaluate_run` rebuilds that share the way :mod:`tlgui.core.prepare` does, so its
accuracy equals the run's ``final_val_accuracy``.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from . import data as data_mod
from .checkpoint import load_checkpoint, model_from_checkpoint
from .config import TrainConfig
from .errors import DataError, RunDirError
from .evaluate import (
    Evaluation,
    _as_path_reason,
    _classify,
    _kept_indices,
    _stop_check,
    evaluate_model,
)
from .prepare import resolve_device
from .preprocessing import Preprocessing
from .runs import RunDir
from .sources import load_image_file

Progress = Callable[[int, int], None]
_INDEX = re.compile(r" #(\d+)$")


@dataclass(frozen=True)
class RunValidation:
    """Where a run's validation images come from."""

    data: str  # an open_source spec
    split: str
    indices: np.ndarray | None  # None: every image of data/split
    batch_size: int = 256

    def describe(self) -> str:
        if self.indices is None:
            return f"{self.data} ({self.split} split)"
        return f"{len(self.indices):,} validation images held out from {self.data}"


def run_validation(run_dir: str | Path) -> RunValidation:
    """Read ``config.json`` and say which images the run validated on."""
    run = RunDir(Path(run_dir).expanduser())
    if not run.config.is_file():
        raise RunDirError(f"{run.path} is not a tlgui run folder (it has no config.json)")
    config = TrainConfig.load(run.config)
    batch = max(int(config.batch_size), 256)  # what training validated with
    if config.val_data:
        return RunValidation(config.val_data, config.val_split_name, None, batch)
    images = data_mod.open_source(config.data, config.split)
    _train_idx, val_idx = data_mod.stratified_split(images.labels, config.val_split, config.seed)
    return RunValidation(config.data, config.split, val_idx, batch)


def evaluate_run(
    run_dir: str | Path,
    progress: Progress | None = None,
    should_stop=None,
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
    if val.indices is None:
        return evaluate_model(str(run.model), val.data, val.split, device, val.batch_size, progress, should_stop)
    return evaluate_indices(str(run.model), val.data, val.split, val.indices, device, val.batch_size, progress, should_stop)


def evaluate_indices(
    model_path: str,
    data: str,
    split: str,
    indices: np.ndarray,
    device: str = "auto",
    batch_size: int = 256,
    progress: Progress | None = None,
    should_stop=None,
) -> Evaluation:
    """Like :func:`tlgui.core.evaluate.evaluate_model`, on ``indices`` of the data only.

    ``Evaluation.descriptions`` name the samples as the full data set does, so
    :class:`ImageLookup` finds them again.
    """
    ckpt = load_checkpoint(model_path)
    classes = list(ckpt["classes"])
    prep = Preprocessing.from_dict(ckpt["preprocessing"])
    dev = resolve_device(device)
    model = model_from_checkpoint(ckpt, dev)
    images = data_mod.open_source(data, split)
    unknown = [c for c in images.classes if c not in classes]
    if unknown:
        raise DataError(f"{data} has classes the model was not trained on: {', '.join(unknown[:5])}")
    indices = np.asarray(indices, dtype=np.int64).reshape(-1)
    if len(indices) and (indices.min() < 0 or indices.max() >= len(images)):
        raise DataError(f"{data} has changed since the run: it now holds {len(images)} images")
    stop = _stop_check(should_stop)
    total = len(indices)
    label_map = np.array([classes.index(c) for c in images.classes], dtype=np.int64)
    decode_progress = (lambda done, _n: progress(done, 2 * total)) if progress else None
    x, y, bad = data_mod.decode_to_tensor(images, indices, prep, decode_progress, stop)
    skipped = [_as_path_reason(images, b) for b in bad]
    kept = _kept_indices(images, indices, bad, len(y))
    if len(y) == 0 and not stop():
        raise DataError(f"{data}: none of the validation images could be read")
    logits = torch.empty(0, len(classes))
    if len(y) and not stop():
        logits = _classify(model, x, prep, dev, batch_size, stop, progress, total)
    n = len(logits)
    probs = torch.softmax(logits, 1).numpy() if n else np.zeros((0, len(classes)), dtype=np.float32)
    targets = label_map[y.numpy()[:n]]
    confusion = np.zeros((len(classes), len(classes)), dtype=np.int64)
    if n:
        np.add.at(confusion, (targets, probs.argmax(1)), 1)
    descriptions = [images.describe(int(i)) for i in kept[:n]]
    if progress and not stop():
        progress(2 * total, 2 * total)
    return Evaluation(classes, confusion, probs, targets, descriptions, skipped, stopped=bool(stop()))


class ImageLookup:
    """Loads the image an :class:`Evaluation` row describes: a file path, or ``NAME #i``
    of an in-memory data set (opened once, on first need; safe to share between threads)."""

    def __init__(self, data: str | None = None, split: str = "test"):
        self.data, self.split = data, split
        self._images = None
        self._failed = False
        self._lock = threading.Lock()

    def load(self, description: str) -> Image.Image:
        """The image, or DataError when it cannot be found or read."""
        match = _INDEX.search(description)
        if match is None or Path(description).is_file():
            return load_image_file(description)
        images = self._open()
        index = int(match.group(1))
        if images is None or index >= len(images) or images.describe(index) != description:
            raise DataError(f"cannot find {description}")
        return images.load(index)

    def _open(self):
        with self._lock:
            return self._open_locked()

    def _open_locked(self):
        if self._images is None and not self._failed and self.data:
            try:
                self._images = data_mod.open_source(self.data, self.split)
            except Exception:  # noqa: BLE001 - no thumbnails then, not an error worth raising twice
                self._failed = True
        return self._images
