"""A CSV list: ``csv:PATH`` or any ``*.csv``, a header and rows ``path,label`` (or one file per
channel in ``channel_1..channel_N``); relative paths are resolved against the CSV's folder."""

from __future__ import annotations

import csv
import os
from pathlib import Path

import numpy as np

from tlgui.core.base.errors import DataError
from tlgui.core.base.pixels import MULTI_FILE_SEPARATOR
from tlgui.core.data.folder_listing import absolute
from tlgui.core.data.sources import ImageSet, add_imbalance_warning, header_problem

DESCRIPTION = "CSV list (one image file and its label per row)"


def matches(spec: str) -> bool:
    return spec.startswith("csv:") or spec.lower().endswith(".csv")


def open(spec: str, split: str = "train") -> ImageSet:
    """The whole list whatever the split (a CSV names its own images)."""
    return open_csv(spec[4:] if spec.startswith("csv:") else spec)


def open_csv(path: str | os.PathLike) -> ImageSet:
    """A manifest with a header and columns ``path,label``; relative paths are resolved
    against the CSV's folder; missing or unreadable files are skipped. Labs that save one file
    per channel list them in columns ``channel_1..channel_N`` (instead of ``path``) or join them
    with ``;`` in ``path``: the sample is those files stacked as channels, in that order."""
    csv_path = absolute(path)
    if not csv_path.is_file():
        raise DataError(f"CSV manifest not found: {csv_path}")
    try:
        with csv_path.open(newline="", encoding="utf-8-sig") as handle:  # this module's open() is the kind's
            rows = list(csv.reader(handle))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise DataError(f"cannot read CSV manifest {csv_path}: {exc}") from None
    header = [h.strip().lower() for h in rows[0]] if rows else []
    channel_cols = _channel_columns(header)
    if ("path" not in header and not channel_cols) or "label" not in header:
        found = ", ".join(h for h in header if h) or "nothing"
        raise DataError(
            f"CSV manifest {csv_path} needs a header with columns 'path' and 'label' (or channel_1, channel_2, ... "
            f"and 'label' for one file per channel; found: {found})"
        )
    col_label = header.index("label")
    if channel_cols:  # one file per channel: joined as one multi-file path
        rows = [rows[0]] + [
            [MULTI_FILE_SEPARATOR.join(r[c].strip() for c in channel_cols if c < len(r) and r[c].strip())
             if len(r) > max(channel_cols) else "", r[col_label] if len(r) > col_label else ""]
            for r in rows[1:]
        ]
        col_path, col_label = 0, 1
    else:
        col_path = header.index("path")
    entries: list[tuple[str, str]] = []
    skipped: list[tuple[str, str]] = []
    for line, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        if (
            len(row) <= max(col_path, col_label)
            or not row[col_path].strip()
            or not row[col_label].strip()
        ):
            skipped.append((f"{csv_path} line {line}", "missing path or label"))
            continue
        parts = [_resolve(csv_path, p) for p in row[col_path].split(MULTI_FILE_SEPARATOR) if p.strip()]
        file_str = MULTI_FILE_SEPARATOR.join(parts)
        if len(parts) == 1 and not os.path.exists(parts[0]) and os.path.exists(_resolve(csv_path, row[col_path])):
            parts = [file_str := _resolve(csv_path, row[col_path])]  # a file name that holds ";"
        try:
            size = min(os.stat(p).st_size for p in parts)
        except OSError:
            missing = next(p for p in parts if not os.path.exists(p))
            skipped.append((missing, "file not found"))
            continue
        reason = header_problem(parts[0], size) if len(parts) == 1 else (None if size else "empty file (0 bytes)")
        if reason:
            skipped.append((file_str, reason))
        else:
            entries.append((file_str, row[col_label].strip()))
    if not entries:
        raise DataError(f"CSV manifest {csv_path} lists no readable images")
    names = sorted({label for _, label in entries}, key=_label_sort_key)
    if len(names) < 2:
        raise DataError(
            f"CSV manifest {csv_path} has only one class ({names[0]!r}); at least two are needed"
        )
    index = {label: i for i, label in enumerate(names)}
    labels = np.asarray([index[label] for _, label in entries], dtype=np.int64)
    image_set = ImageSet(str(path), names, labels, skipped, [], [p for p, _ in entries])
    add_imbalance_warning(image_set)
    return image_set


def _channel_columns(header: list[str]) -> list[int]:
    """Positions of channel_1, channel_2, ... in order (none when absent)."""
    found = {}
    for position, name in enumerate(header):
        if name.startswith("channel_") and name[8:].isdigit():
            found[int(name[8:])] = position
    return [found[k] for k in sorted(found)]


def _resolve(csv_path: Path, entry: str) -> str:
    file = Path(os.path.expanduser(entry.strip()))
    return os.path.normpath(str(file if file.is_absolute() else csv_path.parent / file))


def _label_sort_key(label: str) -> tuple[int, float, str]:
    try:
        return (0, float(label), label)  # numeric labels in numeric order: 2 before 10
    except ValueError:
        return (1, 0.0, label)
