"""The "Last result" box's text: accuracy, time, balanced accuracy and recall per class."""

from __future__ import annotations

from html import escape
from pathlib import Path
from typing import Any

from PySide6.QtCore import QUrl

from tlgui.ui.base.formatting import format_duration


def result_html(result) -> str:
    """A few lines about a finished run for the "Last result" box."""
    s = result.summary or {}
    lines = []
    acc, best = s.get("final_val_accuracy"), s.get("best_val_accuracy")
    if isinstance(acc, (int, float)):
        line = f"<b>Validation accuracy: {100 * acc:.1f} %</b>"
        if isinstance(best, (int, float)) and best > acc + 1e-9:
            line += f" (best {100 * best:.1f} % after epoch {s.get('best_epoch')})"
        lines.append(line)
    epochs, seconds = s.get("epochs_completed"), s.get("train_seconds")
    if epochs is not None and isinstance(seconds, (int, float)):
        lines.append(f"{epochs} epoch(s) in {format_duration(seconds)}")
    lines.extend(_class_lines(s))
    trainable, frozen = s.get("trainable_params"), s.get("frozen_params")
    if isinstance(trainable, int) and isinstance(frozen, int):
        lines.append(f"{trainable:,} parameters trained, {frozen:,} frozen")
    if result.run_dir:
        url = QUrl.fromLocalFile(result.run_dir).toString()
        lines.append(f'Saved in <a href="{url}">{escape(Path(result.run_dir).name)}</a>')
    return "<br>".join(lines)


def _class_lines(s: dict[str, Any]) -> list[str]:
    """Balanced accuracy, each class's recall, and the rate the finder picked."""
    lines = []
    balanced, recall = s.get("val_balanced_accuracy"), s.get("val_per_class_recall") or {}
    if isinstance(balanced, (int, float)):
        lines.append(f"Balanced accuracy: {100 * balanced:.1f} %")
    if recall:
        shown = ", ".join(f"{escape(str(k))} {100 * v:.0f} %" for k, v in list(recall.items())[:12])
        more = f" and {len(recall) - 12} more" if len(recall) > 12 else ""
        lines.append(f"Recall per class: {shown}{more}")
    if isinstance(s.get("lr_found"), (int, float)):
        lines.append(f"Learning rate found: {s['lr_found']:.2g}")
    return lines
