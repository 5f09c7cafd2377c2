"""Classification metrics from a confusion matrix (rows = true class, columns = predicted),
top losses, and CSV tables of both. Pure numpy; no model or data access here."""

from __future__ import annotations

import csv
import io
import math
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

PER_CLASS_COLUMNS = ("class", "support", "predicted", "correct", "precision", "recall", "f1")


TOP_LOSS_COLUMNS = ("path", "true", "predicted", "probability", "true_probability", "loss")


def confusion_matrix(targets, predictions, num_classes: int) -> np.ndarray:
    """int64 (num_classes, num_classes) counts; rows = true class, columns = predicted."""
    targets = np.asarray(targets, dtype=np.int64).reshape(-1)
    predictions = np.asarray(predictions, dtype=np.int64).reshape(-1)
    if targets.shape != predictions.shape:
        raise ValueError(f"{len(targets)} targets but {len(predictions)} predictions")
    confusion = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(confusion, (targets, predictions), 1)
    return confusion


def metrics_from_confusion(confusion: np.ndarray) -> dict[str, Any]:
    """Per-class precision, recall and F1 (0 where undefined), plus overall figures.

    * precision of a class never predicted is 0 (no true positives to show for it);
    * recall of a class never present is 0, and it is left out of balanced accuracy;
    * balanced accuracy is the mean recall over classes with at least one true sample;
    * ``macro_f1`` averages F1 over the same present classes.
    """
    cm = np.asarray(confusion, dtype=np.float64)
    if cm.ndim != 2 or cm.shape[0] != cm.shape[1]:
        raise ValueError(f"a confusion matrix must be square, got shape {cm.shape}")
    tp = np.diag(cm)
    predicted = cm.sum(axis=0)
    actual = cm.sum(axis=1)
    precision = np.divide(tp, predicted, out=np.zeros_like(tp), where=predicted > 0)
    recall = np.divide(tp, actual, out=np.zeros_like(tp), where=actual > 0)
    denom = precision + recall
    f1 = np.divide(2 * precision * recall, denom, out=np.zeros_like(tp), where=denom > 0)
    present = actual > 0
    total = cm.sum()
    return {
        "precision": [float(v) for v in precision],
        "recall": [float(v) for v in recall],
        "f1": [float(v) for v in f1],
        "support": [int(v) for v in actual],
        "predicted": [int(v) for v in predicted],
        "correct": [int(v) for v in tp],
        "balanced_accuracy": float(recall[present].mean()) if present.any() else 0.0,
        "macro_f1": float(f1[present].mean()) if present.any() else 0.0,
        "accuracy": float(tp.sum() / total) if total else 0.0,
    }


def per_class_table(classes: list[str], confusion: np.ndarray) -> list[dict[str, Any]]:
    """One row per class with the columns of :data:`PER_CLASS_COLUMNS`."""
    m = metrics_from_confusion(confusion)
    return [
        {
            "class": name,
            "support": m["support"][i],
            "predicted": m["predicted"][i],
            "correct": m["correct"][i],
            "precision": m["precision"][i],
            "recall": m["recall"][i],
            "f1": m["f1"][i],
        }
        for i, name in enumerate(classes)
    ]


@dataclass(frozen=True)
class TopLoss:
    """One confidently wrong prediction."""

    index: int  # row in the evaluation
    path: str
    true: str
    predicted: str
    probability: float  # the model's probability for its (wrong) prediction
    true_probability: float
    loss: float  # cross-entropy, -log(true_probability)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def top_losses(
    probabilities: np.ndarray,
    targets: np.ndarray,
    classes: list[str],
    descriptions: list[str] | None = None,
    k: int = 20,
) -> list[TopLoss]:
    """The ``k`` most confidently wrong rows: misclassified samples sorted by the probability
    of the wrong prediction (highest first), ties broken by the loss."""
    probs = np.asarray(probabilities, dtype=np.float64)
    targets = np.asarray(targets, dtype=np.int64)
    if len(probs) == 0 or k <= 0:
        return []
    predictions = probs.argmax(1)
    wrong = np.flatnonzero(predictions != targets)
    confidence = probs[wrong, predictions[wrong]]
    true_p = probs[wrong, targets[wrong]]
    # lexsort: last key is primary -> confidence descending, then true probability ascending
    order = np.lexsort((true_p, -confidence))[:k]
    out = []
    for j in order:
        i = int(wrong[j])
        p_true = float(true_p[j])
        out.append(
            TopLoss(
                index=i,
                path=descriptions[i] if descriptions is not None and i < len(descriptions) else f"#{i}",
                true=classes[int(targets[i])],
                predicted=classes[int(predictions[i])],
                probability=float(confidence[j]),
                true_probability=p_true,
                loss=float(-math.log(max(p_true, 1e-12))),
            )
        )
    return out


def write_csv_rows(path: str | os.PathLike[str], header: list[str], rows: list[list[Any]]) -> Path:
    """Write a CSV atomically (temp file + rename), readable by others as the umask allows."""
    from tlgui.core.base.files import atomic_write_text

    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    atomic_write_text(Path(path), buffer.getvalue())
    return Path(path)


def _fmt(value: Any) -> Any:
    return f"{value:.6f}" if isinstance(value, float) else value


def write_per_class_csv(path: str | Path, classes: list[str], confusion: np.ndarray) -> Path:
    """``class,support,predicted,correct,precision,recall,f1``, one row per class."""
    table = per_class_table(classes, confusion)
    return write_csv_rows(path, list(PER_CLASS_COLUMNS), [[_fmt(r[c]) for c in PER_CLASS_COLUMNS] for r in table])


def write_confusion_csv(path: str | Path, classes: list[str], confusion: np.ndarray) -> Path:
    """A square table: first column the true class, then one column per predicted class."""
    cm = np.asarray(confusion, dtype=np.int64)
    header = ["true \\ predicted", *classes]
    return write_csv_rows(path, header, [[name, *map(int, cm[i])] for i, name in enumerate(classes)])


def write_top_losses_csv(path: str | Path, losses: list[TopLoss]) -> Path:
    rows = [[_fmt(getattr(t, c)) for c in TOP_LOSS_COLUMNS] for t in losses]
    return write_csv_rows(path, list(TOP_LOSS_COLUMNS), rows)
