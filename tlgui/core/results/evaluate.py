"""Evaluate a saved model on a data set: accuracy, per-class figures, confusion matrix,
top losses, CSV tables.

:func:`evaluate_model` runs on whatever thread calls it; a GUI worker passes
``progress(done, total)`` and ``should_stop`` (a callable or ``threading.Event``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from tlgui.core.base.cancel import StopFlag, stop_check
from tlgui.core.base.errors import DataError, RunDirError
from tlgui.core.base.preprocessing import Preprocessing
from tlgui.core.data.catalog import open_source
from tlgui.core.data.corrections import correct_sets
from tlgui.core.data.decode import decode_to_tensor
from tlgui.core.models.checkpoint import load_checkpoint, model_from_checkpoint
from tlgui.core.models.device import resolve_device
from tlgui.core.models.inference import DEVICE_DEFAULT, batched_logits
from tlgui.core.results.metrics import (
    TopLoss,
    metrics_from_confusion,
    per_class_table,
    top_losses,
    write_confusion_csv,
    write_csv_rows,
    write_per_class_csv,
    write_top_losses_csv,
)

Progress = Callable[[int, int], None]


@dataclass
class Evaluation:
    classes: list[str]
    confusion: np.ndarray  # rows = true class, columns = predicted
    probabilities: np.ndarray  # (N, classes) softmax
    targets: np.ndarray  # (N,) index into ``classes``
    descriptions: list[str] = field(default_factory=list)  # file path (or "SET #i") per row
    skipped: list[tuple[str, str]] = field(default_factory=list)  # unreadable (path, reason)
    stopped: bool = False  # the caller's stop flag ended it early: rows are a prefix
    notes: list[str] = field(default_factory=list)  # what applying label corrections reported

    @property
    def n(self) -> int:
        return int(self.confusion.sum())

    @property
    def accuracy(self) -> float:
        return float(np.trace(self.confusion) / max(1, self.n))

    @property
    def predictions(self) -> np.ndarray:
        """Predicted class index per row (the argmax the confusion matrix counts)."""
        if len(self.probabilities) == 0:
            return np.zeros(0, dtype=np.int64)
        return self.probabilities.argmax(1)

    def metrics(self) -> dict[str, Any]:
        return metrics_from_confusion(self.confusion)

    def per_class(self) -> list[dict[str, Any]]:
        return per_class_table(self.classes, self.confusion)

    def top_losses(self, k: int = 20) -> list[TopLoss]:
        """The ``k`` most confidently wrong images (path, true, predicted, probability...)."""
        return top_losses(self.probabilities, self.targets, self.classes, self.descriptions, k)

    def to_json(self, top_loss_count: int = 10) -> dict[str, Any]:
        m = self.metrics()

        def by_class(values):
            return {c: values[i] for i, c in enumerate(self.classes)}

        return {
            "accuracy": self.accuracy,
            "per_class": by_class(m["recall"]),  # per-class accuracy is the class's recall
            "precision": by_class(m["precision"]),
            "recall": by_class(m["recall"]),
            "f1": by_class(m["f1"]),
            "support": by_class(m["support"]),
            "balanced_accuracy": m["balanced_accuracy"],
            "macro_f1": m["macro_f1"],
            "confusion": self.confusion.astype(int).tolist(),
            "classes": list(self.classes),
            "n": self.n,
            "skipped": len(self.skipped),
            "stopped": self.stopped,
            "top_losses": [t.as_dict() for t in self.top_losses(top_loss_count)],
        }

    def write_csv(self, folder: str | Path, top_loss_count: int = 50) -> list[Path]:
        """``per_class.csv``, ``confusion.csv``, ``top_losses.csv`` and ``predictions.csv``
        (path, true, predicted, probability per image) in ``folder``."""
        folder = Path(folder).expanduser()
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise RunDirError(f"cannot create folder {folder}: {exc.strerror or exc}") from None
        predictions = self.predictions
        rows = [
            [
                self.descriptions[i] if i < len(self.descriptions) else f"#{i}",
                self.classes[int(self.targets[i])],
                self.classes[int(predictions[i])],
                f"{float(self.probabilities[i, predictions[i]]):.6f}",
            ]
            for i in range(len(self.targets))
        ]
        try:
            return [
                write_per_class_csv(folder / "per_class.csv", self.classes, self.confusion),
                write_confusion_csv(folder / "confusion.csv", self.classes, self.confusion),
                write_top_losses_csv(folder / "top_losses.csv", self.top_losses(top_loss_count)),
                write_csv_rows(folder / "predictions.csv", ["path", "true", "predicted", "probability"], rows),
            ]
        except OSError as exc:
            raise RunDirError(f"cannot write CSV files to {folder}: {exc.strerror or exc}") from None


def evaluate_model(
    model_path: str,
    data: str,
    split: str = "test",
    device: str = "auto",
    batch_size: int = 256,
    progress: Progress | None = None,
    should_stop: StopFlag = None,
    indices: np.ndarray | None = None,
    amp_dtype: torch.dtype | None | str = DEVICE_DEFAULT,
    corrections: str | None = None,
    corrections_sha256: str | None = None,
    run_dir: str | None = None,
) -> Evaluation:
    """Evaluate ``model_path`` (a tlgui model.pt) on ``data`` (any ``open_source`` spec).

    ``amp_dtype``: autocast dtype (None: fp32; default: bf16 on a CUDA GPU that has it). A run's own
    evaluation passes the precision it validated in (bf16 where the CPU has it), so the figures match
    the run's to the image.
    ``indices``: only these samples of the data (e.g. a run's validation split); the
    descriptions still name them as the full data set does.
    ``progress(done, total)`` counts each image twice (decoded, then classified).
    ``should_stop``: when set, the evaluation ends early and ``Evaluation.stopped`` is True.
    ``corrections``: a label corrections CSV applied to the data (a run's own, checked against
    ``corrections_sha256``); its rows that do not apply are listed in ``Evaluation.notes``.
    Raises :class:`TlguiError` for a bad model file or unusable data.
    """
    ckpt = load_checkpoint(model_path)
    classes = list(ckpt["classes"])
    prep = Preprocessing.from_dict(ckpt["preprocessing"])
    dev = resolve_device(device)
    model = model_from_checkpoint(ckpt, dev)
    images = open_source(data, split)
    _sha, notes = correct_sets(corrections, corrections_sha256, [(images, data)], run_dir)
    unknown = [c for c in images.classes if c not in classes]
    if unknown:
        raise DataError(
            f"{data} has classes the model was not trained on: {', '.join(unknown[:5])} "
            f"(the model knows {', '.join(classes[:10])})"
        )
    if indices is None:
        indices = np.arange(len(images), dtype=np.int64)
        skipped = list(images.skipped)
    else:
        indices = np.asarray(indices, dtype=np.int64).reshape(-1)
        if len(indices) and (indices.min() < 0 or indices.max() >= len(images)):
            raise DataError(f"{data} has changed: it now holds {len(images)} images")
        skipped = []
    stop = stop_check(should_stop)
    total = len(indices)
    label_map = np.array([classes.index(c) for c in images.classes], dtype=np.int64)
    decode_progress = (lambda done, _n: progress(done, 2 * total)) if progress else None
    x, y, bad = decode_to_tensor(images, indices, prep, decode_progress, stop)
    skipped += [_as_path_reason(images, b) for b in bad]
    kept = _kept_indices(images, indices, bad, len(y))
    if len(y) == 0 and not stop():
        raise DataError(f"{data}: none of the images could be read")
    logits = torch.empty(0, len(classes))
    if len(y) and not stop():
        logits = _classify(model, x, prep, dev, batch_size, stop, progress, total, amp_dtype)
    n = len(logits)
    probs = torch.softmax(logits, 1).numpy() if n else np.zeros((0, len(classes)), dtype=np.float32)
    targets = label_map[y.numpy()[:n]]
    confusion = np.zeros((len(classes), len(classes)), dtype=np.int64)
    if n:
        np.add.at(confusion, (targets, probs.argmax(1)), 1)
    descriptions = [images.describe(int(i)) for i in kept[:n]]
    if progress and not stop():
        progress(2 * total, 2 * total)
    return Evaluation(classes, confusion, probs, targets, descriptions, skipped, stopped=bool(stop()), notes=notes)


def _classify(model, x, prep, dev, batch_size, stop, progress, total, amp_dtype) -> torch.Tensor:
    """Logits in slices, so progress moves and a stop is noticed between slices."""
    chunk = max(batch_size, 1) * 4
    parts = []
    for start in range(0, len(x), chunk):
        if stop():
            break
        parts.append(batched_logits(model, x[start : start + chunk], prep, dev, batch_size, stop, amp_dtype))
        if progress:
            progress(total + min(start + chunk, len(x)), 2 * total)
    parts = [p for p in parts if len(p)]
    return torch.cat(parts) if parts else torch.empty(0, 0)


def _bad_key(entry) -> Any:
    """What a decode failure names: an int index, or a description (path)."""
    if isinstance(entry, (tuple, list)) and entry:
        entry = entry[0]
    if isinstance(entry, (int, np.integer)):
        return int(entry)
    return str(entry)


def _as_path_reason(images, entry) -> tuple[str, str]:
    key = _bad_key(entry)
    reason = str(entry[1]) if isinstance(entry, (tuple, list)) and len(entry) > 1 else "unreadable image"
    return (images.describe(key) if isinstance(key, int) else key), reason


def _kept_indices(images, indices: np.ndarray, bad, n_kept: int) -> np.ndarray:
    """Which samples the ``n_kept`` decoded rows are, in order.

    ``decode_to_tensor`` keeps the order of ``indices`` and leaves failures out (and stops
    after a prefix when asked). Failures may be named by index or by description; a path
    named twice (a manifest listing one file twice) is removed as often as it failed.
    """
    if not bad:
        return indices[:n_kept]
    keys = [_bad_key(b) for b in bad]
    if all(isinstance(k, int) for k in keys):
        failed = set(keys)
        kept = [int(i) for i in indices if int(i) not in failed]
    else:
        remaining = Counter(str(k) if not isinstance(k, int) else images.describe(k) for k in keys)
        kept = []
        for i in indices:
            d = images.describe(int(i))
            if remaining[d] > 0:
                remaining[d] -= 1
            else:
                kept.append(int(i))
    return np.asarray(kept[:n_kept], dtype=np.int64)
