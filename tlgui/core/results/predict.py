"""Classify image files with a saved model: ``predict_paths`` (CLI, batch jobs) and
:class:`Predictor` (keeps the model loaded, e.g. for a GUI panel that predicts repeatedly).

Preprocessing comes from the model file, and logits from the same batched forward pass
as evaluation, so a file gets the same label here as in ``tlgui evaluate``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from tlgui.core.base.cancel import StopFlag, stop_check
from tlgui.core.base.errors import DataError
from tlgui.core.base.preprocessing import Preprocessing
from tlgui.core.data.folder_listing import is_ignored_name, is_image_name
from tlgui.core.data.sources import image_error_reason, read_image
from tlgui.core.models.checkpoint import load_checkpoint, model_from_checkpoint
from tlgui.core.models.device import resolve_device
from tlgui.core.models.inference import batched_logits

Progress = Callable[[int, int], None]


_CHUNK = 64  # images decoded and classified between stop checks


@dataclass(frozen=True)
class Prediction:
    path: str
    label: str
    probability: float
    top: tuple[tuple[str, float], ...] = ()  # (label, probability), best first

    def as_dict(self) -> dict[str, Any]:
        return {"path": self.path, "label": self.label, "probability": self.probability,
                "top": [list(t) for t in self.top]}


@dataclass
class PredictionReport:
    classes: list[str]
    predictions: list[Prediction] = field(default_factory=list)
    unreadable: list[tuple[str, str]] = field(default_factory=list)  # (path, reason)
    stopped: bool = False
    top_k: int = 1


def collect_image_files(paths: Iterable[str | os.PathLike]) -> tuple[list[str], list[tuple[str, str]]]:
    """Expand files and folders into image files, in a stable order.

    Folders are walked recursively, skipping hidden and system entries and files without
    an image extension; a file named explicitly is always tried. Missing paths come back
    in the second list as (path, reason). Each file appears once.
    """
    files: list[str] = []
    problems: list[tuple[str, str]] = []
    seen: set[str] = set()

    def add(path: str) -> None:
        key = os.path.normcase(os.path.abspath(path))
        if key not in seen:
            seen.add(key)
            files.append(path)

    for raw in paths:
        path = os.path.expanduser(os.fspath(raw))
        if os.path.isdir(path):
            for dirpath, dirnames, filenames in os.walk(path):
                dirnames[:] = sorted(d for d in dirnames if not is_ignored_name(d))
                for name in sorted(filenames):
                    if not is_ignored_name(name) and is_image_name(name):
                        add(os.path.join(dirpath, name))
        elif os.path.isfile(path):
            add(path)
        else:
            problems.append((path, "file not found"))
    return files, problems


class Predictor:
    """A loaded model plus its preprocessing; safe to call from one worker thread."""

    def __init__(self, checkpoint: dict[str, Any], device: str = "auto", batch_size: int = 64):
        self.checkpoint = checkpoint
        self.classes = list(checkpoint["classes"])
        self.preprocessing = Preprocessing.from_dict(checkpoint["preprocessing"])
        self.device = resolve_device(device)
        self.model = model_from_checkpoint(checkpoint, self.device)
        self.batch_size = max(1, int(batch_size))

    @classmethod
    def from_file(cls, model_path: str | os.PathLike, device: str = "auto", batch_size: int = 64) -> Predictor:
        return cls(load_checkpoint(Path(model_path)), device, batch_size)

    def probabilities(self, images: list[Image.Image]) -> np.ndarray:
        """Softmax probabilities (N, classes) for PIL images of any mode and size."""
        if not images:
            return np.zeros((0, len(self.classes)), dtype=np.float32)
        x = torch.from_numpy(np.stack([self.preprocessing.load_image(im) for im in images]))
        return self._probabilities(x)

    def _probabilities(self, x: torch.Tensor) -> np.ndarray:
        logits = batched_logits(self.model, x, self.preprocessing, self.device, self.batch_size)
        return torch.softmax(logits, 1).numpy()

    def predict_image(self, image: Image.Image, top_k: int = 3, path: str = "") -> Prediction:
        return self._prediction(path, self.probabilities([image])[0], self._clamp(top_k))

    def predict_files(
        self,
        files: list[str],
        top_k: int = 3,
        progress: Progress | None = None,
        should_stop: StopFlag = None,
    ) -> PredictionReport:
        top_k = self._clamp(top_k)
        stop = stop_check(should_stop)
        report = PredictionReport(self.classes, top_k=top_k)
        workers = min(4, os.cpu_count() or 1) if len(files) >= 16 else 1
        pool = ThreadPoolExecutor(workers) if workers > 1 else None
        try:
            for start in range(0, len(files), _CHUNK):
                if stop():
                    report.stopped = True
                    break
                chunk = files[start : start + _CHUNK]
                decoded = list(pool.map(self._decode, chunk) if pool else map(self._decode, chunk))
                ok = [(p, a) for p, a in zip(chunk, decoded, strict=True) if isinstance(a, np.ndarray)]
                report.unreadable += [(p, a) for p, a in zip(chunk, decoded, strict=True) if isinstance(a, str)]
                if ok:
                    probs = self._probabilities(torch.from_numpy(np.stack([a for _, a in ok])))
                    report.predictions += [
                        self._prediction(p, row, top_k) for (p, _), row in zip(ok, probs, strict=True)
                    ]
                if progress:
                    progress(start + len(chunk), len(files))
        finally:
            if pool:
                pool.shutdown()
        return report

    def _decode(self, path: str) -> np.ndarray | str:
        """uint8 (C, H, W) array, or the reason the file cannot be used."""
        try:
            return self.preprocessing.load_image(read_image(path, stack=self.preprocessing.stack))
        except Exception as exc:  # noqa: BLE001 - one bad file must not end the job
            return image_error_reason(exc)

    def _clamp(self, top_k: int) -> int:
        return max(1, min(int(top_k), len(self.classes)))

    def _prediction(self, path: str, probs: np.ndarray, top_k: int) -> Prediction:
        order = np.argsort(-probs, kind="stable")[:top_k]
        best = int(probs.argmax())  # same argmax as evaluation's confusion matrix
        top = tuple((self.classes[int(i)], float(probs[int(i)])) for i in order)
        return Prediction(path, self.classes[best], float(probs[best]), top)


def predict_paths(
    model_path: str | os.PathLike,
    paths: Iterable[str | os.PathLike],
    top_k: int = 3,
    progress: Progress | None = None,
    should_stop: StopFlag = None,
    device: str = "auto",
    batch_size: int = 64,
) -> PredictionReport:
    """Classify every image in ``paths`` (files, or folders searched recursively).

    Unreadable or missing files are listed in ``report.unreadable``; DataError only when
    ``paths`` hold no image files at all. ``should_stop`` is checked between chunks of 64.
    """
    paths = list(paths)
    predictor = Predictor.from_file(model_path, device, batch_size)  # a bad model file is the first error
    files, problems = collect_image_files(paths)
    if not files:
        shown = ", ".join(str(p) for p in paths[:3]) + (" ..." if len(paths) > 3 else "")
        raise DataError(f"no image files found in {shown or 'the given paths'}")
    report = predictor.predict_files(files, top_k, progress, should_stop)
    report.unreadable = problems + report.unreadable
    return report


def csv_header(top_k: int) -> list[str]:
    header = ["path", "label", "probability"]
    for k in range(1, top_k + 1):
        header += [f"top{k}", f"p{k}"]
    return header


def write_predictions_csv(path: str | os.PathLike, report: PredictionReport) -> Path:
    """``path,label,probability,top1,p1,...,topK,pK``; one row per readable image."""
    from tlgui.core.results.metrics import write_csv_rows

    rows = []
    for p in report.predictions:
        row: list[Any] = [p.path, p.label, f"{p.probability:.6f}"]
        for label, prob in p.top:
            row += [label, f"{prob:.6f}"]
        row += [""] * (len(csv_header(report.top_k)) - len(row))
        rows.append(row)
    return write_csv_rows(path, csv_header(report.top_k), rows)

