"""Opening a data source by its spec: an image folder, a CSV list, IDX files, a built-in set, the demo."""

from __future__ import annotations

import csv
import os
from pathlib import Path

import numpy as np

from tlgui.core.base.errors import DataError
from tlgui.core.base.pixels import MULTI_FILE_SEPARATOR
from tlgui.core.data.sources import (
    ImageSet,
    _add_imbalance_warning,
    absolute,
    check_folder,
    header_problem,
    list_folder,
    split_subfolder,
)


def open_source(spec: str, split: str = "train") -> ImageSet:
    """Open a data set: an image folder (one sub-folder per class), a folder of IDX files,
    ``torchvision:NAME:ROOT``, ``csv:PATH`` / ``*.csv``, or ``demo:source`` / ``demo:target``."""
    spec = str(spec).strip()
    if spec.startswith("demo:"):
        return _open_demo(spec, split)
    if spec.startswith("torchvision:"):
        from tlgui.core.data.builtin_sets import open_torchvision

        return open_torchvision(spec, split)
    if spec.startswith("csv:"):
        return open_csv(spec[4:])
    if spec.lower().endswith(".csv"):
        return open_csv(spec)
    root = check_folder(spec)
    from tlgui.core.data.idx import is_idx_folder

    if is_idx_folder(root):
        from tlgui.core.data.builtin_sets import open_idx_folder

        return open_idx_folder(root, split, name=spec)
    return open_image_folder(root, split=split, name=spec)


def _subfolder_groups(root: Path, paths: list[str]) -> list[str | None] | None:
    """CLASS/SUB for files inside a sub-folder of their class folder (a patient, a plate),
    None for files directly in it; None overall when no class folder has sub-folders."""
    groups: list[str | None] = []
    for path in paths:
        parts = Path(path).relative_to(root).parts
        groups.append(f"{parts[0]}/{parts[1]}" if len(parts) > 2 else None)
    return groups if any(g is not None for g in groups) else None


def open_image_folder(
    path: str | os.PathLike, split: str = "train", name: str | None = None
) -> ImageSet:
    root = check_folder(path)
    root = split_subfolder(root, split) or root
    listing = list_folder(root)
    name = name or str(path)
    if not any(listing.classes.values()):
        hint = (
            " (its images sit directly in it: put each class in its own sub-folder)"
            if listing.stray_images
            else ""
        )
        raise DataError(f"{root} holds no class sub-folders with images{hint}")
    from tlgui.core.data.scan import cached_bad_files

    cached, trusted = cached_bad_files(listing)
    classes: list[str] = []
    paths: list[str] = []
    labels: list[int] = []
    skipped: list[tuple[str, str]] = []
    warnings: list[str] = []
    empty: list[str] = []
    for class_name, files in listing.classes.items():
        usable = []
        for path, size, _ in files:
            reason = cached.get(path)
            if reason is None and not trusted:
                reason = "file cannot be read" if size < 0 else header_problem(path, size)
            if reason is None:
                usable.append(path)
            else:
                skipped.append((path, reason))
        if not usable:
            empty.append(class_name)
            continue
        paths += usable
        labels += [len(classes)] * len(usable)
        classes.append(class_name)
    if not paths:
        first = f" (first: {skipped[0][0]}: {skipped[0][1]})" if skipped else ""
        raise DataError(f"none of the {len(skipped)} image files in {root} could be read{first}")
    if len(classes) < 2:
        raise DataError(
            f"{root} has only one class with readable images ({classes[0]!r}); at least two are needed"
        )
    for class_name in empty:
        had_files = bool(listing.classes[class_name])
        what = "no readable images" if had_files else "no images"
        warnings.append(f"class folder {class_name!r} has {what} and was ignored")
    image_set = ImageSet(
        name, classes, np.asarray(labels, dtype=np.int64), skipped, warnings, paths
    )
    image_set.groups = _subfolder_groups(root, paths)
    _add_imbalance_warning(image_set)
    return image_set


def open_csv(path: str | os.PathLike) -> ImageSet:
    """A manifest with a header and columns ``path,label``; relative paths are resolved
    against the CSV's folder; missing or unreadable files are skipped. Labs that save one file
    per channel list them in columns ``channel_1..channel_N`` (instead of ``path``) or join them
    with ``;`` in ``path``: the sample is those files stacked as channels, in that order."""
    csv_path = absolute(path)
    if not csv_path.is_file():
        raise DataError(f"CSV manifest not found: {csv_path}")
    try:
        with open(csv_path, newline="", encoding="utf-8-sig") as handle:
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
        rows = [rows[0]] + [[MULTI_FILE_SEPARATOR.join(r[c].strip() for c in channel_cols if c < len(r) and r[c].strip())
                             if len(r) > max(channel_cols) else "", r[col_label] if len(r) > col_label else ""]
                            for r in rows[1:]]
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
    _add_imbalance_warning(image_set)
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


def _open_demo(spec: str, split: str) -> ImageSet:
    kind = spec.split(":", 1)[1]
    if kind not in ("source", "target"):
        raise DataError(f"unknown demo data set {spec!r} (choose demo:source or demo:target)")
    from tlgui.core.data.demo_images import make_demo

    if split not in ("train", "test"):
        raise DataError(f"unknown split {split!r} for {spec} (choose train or test)")
    # the test split is a separate, disjoint draw
    images, labels, classes = make_demo(kind, split=split)
    return ImageSet(
        spec,
        list(classes),
        np.asarray(labels, dtype=np.int64),
        arrays=np.asarray(images, dtype=np.uint8),
        origin=f"{spec} ({split})",
    )
