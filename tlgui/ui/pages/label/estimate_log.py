"""The estimates the page showed as the labels grew, kept beside the labels file (``NAME.estimates.json``).

The curve then draws what the page said at each point: the model's own estimate, made with the
features and labels of that moment, which a later call cannot recompute from the labels file alone.
Labels given before this log existed (or by ``tlgui label`` alone) fall back to the estimate that the
random picks' suggestions give (core's ``estimate_history``).
"""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

from tlgui.core.base.files import atomic_write_text

MAX_POINTS = 1000


def log_path(csv_path: str) -> Path:
    path = Path(csv_path)
    return path.with_name(path.stem + ".estimates.json")


def read_points(csv_path: str) -> list[tuple[int, SimpleNamespace]]:
    """(labels given, estimate) in order of labels; [] when there is no log or it cannot be read."""
    try:
        rows = json.loads(log_path(csv_path).read_text(encoding="utf-8"))
        return [(int(r["labelled"]), SimpleNamespace(accuracy=float(r["accuracy"]), low=float(r["low"]),
                                                     high=float(r["high"]), method=str(r["method"]),
                                                     count=int(r.get("count", 0))))
                for r in rows]
    except (OSError, ValueError, KeyError, TypeError):
        return []  # a damaged log only costs the curve its older points


def add_point(csv_path: str, labelled: int, estimate) -> list[tuple[int, SimpleNamespace]]:
    """Record the estimate shown at ``labelled`` labels (replacing one made at the same count)."""
    points = {n: e for n, e in read_points(csv_path)}
    points[int(labelled)] = estimate
    kept = sorted(points.items())[-MAX_POINTS:]
    rows = [{"labelled": n, "accuracy": e.accuracy, "low": e.low, "high": e.high, "method": e.method,
             "count": getattr(e, "count", 0)} for n, e in kept]
    try:
        atomic_write_text(log_path(csv_path), json.dumps(rows, indent=1))
    except OSError:
        pass  # the curve still shows the points of this session
    return [(n, SimpleNamespace(accuracy=e.accuracy, low=e.low, high=e.high, method=e.method,
                                count=getattr(e, "count", 0))) for n, e in kept]
