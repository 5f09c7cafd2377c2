"""Label corrections: a CSV ``path,label`` (label a class name or ``exclude``) applied when the
data is opened, never to the user's files: nothing in the data folder is moved, renamed or
deleted. ``tlgui train --corrections FILE`` records the file and its SHA-256 in config.json;
evaluation and resume apply the same file.

Rows that name a file not in the data set or a class that does not exist are reported, one
line each, and the rest are applied.
"""

from __future__ import annotations

import csv
import hashlib
import io
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from tlgui.core.base.errors import DataError
from tlgui.core.base.events import warning
from tlgui.core.base.files import atomic_write_text, csv_path
from tlgui.core.data.sources import ImageSet
from tlgui.paths import data_dir

COLUMNS = ("path", "label")


EXCLUDE = "exclude"


@dataclass
class Corrections:
    """What a corrections file says: sample key -> class name or ``exclude``."""

    labels: dict[str, str] = field(default_factory=dict)
    source: str = ""  # the file it was read from
    sha256: str = ""
    relabelled: int = 0  # what applying it did (apply_corrections counts)
    excluded: int = 0


def normalise_key(entry: str, base: Path | None = None) -> str:
    """A file path made absolute (relative ones against ``base``); ``SPEC#INDEX`` keys of
    in-memory data sets are left as they are."""
    if "#" in entry and not os.path.exists(entry):
        return entry
    if os.sep == "/" and "\\" in entry and not os.path.exists(entry):
        entry = entry.replace("\\", "/")  # written on Windows
    path = Path(entry).expanduser()
    if not path.is_absolute() and base is not None:
        path = base / path
    return os.path.normcase(os.path.abspath(path))


def file_sha256(path: str | Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def read_corrections(path: str | Path, expected_sha256: str | None = None, base: Path | None = None) -> Corrections:
    """Read a corrections file; DataError naming it when it is missing, unreadable, has the
    wrong columns, or (``expected_sha256``) changed since a run recorded it. Relative paths in
    it are resolved against ``base`` (default: its own folder)."""
    path = Path(path).expanduser()
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise DataError(f"corrections file not found: {path}") from None
    except OSError as exc:
        raise DataError(f"cannot read corrections file {path}: {exc.strerror or exc}") from None
    digest = hashlib.sha256(data).hexdigest()
    if expected_sha256 and digest != expected_sha256:
        raise DataError(f"corrections file {path} has changed since this run recorded it "
                        "(its SHA-256 differs); start a new run to use the new corrections")
    try:
        rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    except (UnicodeDecodeError, csv.Error) as exc:
        raise DataError(f"cannot read corrections file {path}: {exc}") from None
    if not rows or tuple(c.strip().lower() for c in rows[0][:2]) != COLUMNS:
        raise DataError(f"corrections file {path}: the first line must be the header path,label")
    labels: dict[str, str] = {}
    for row in rows[1:]:
        if len(row) >= 2 and row[0].strip():
            labels[normalise_key(row[0].strip(), base or path.parent)] = row[1].strip()
    return Corrections(labels, str(path), digest)


def write_corrections(path: str | Path, labels: dict[str, str]) -> Path:
    """Write ``labels`` (sample key -> class or ``exclude``) as a corrections CSV, sorted by path."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(COLUMNS)
    writer.writerows(sorted((csv_path(key), label) for key, label in labels.items()))  # / on every system
    target = Path(path).expanduser()
    target.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(target, buffer.getvalue())
    return target


def _keys(images: ImageSet, spec: str) -> list[str]:
    if images.paths is not None:
        return [normalise_key(p) for p in images.paths]
    return [f"{spec}#{i}" for i in range(len(images))]


def apply_corrections(corrections: Corrections, sets: list[tuple[ImageSet, str]]) -> list[str]:
    """Relabel and exclude samples of the opened ``sets`` ((ImageSet, spec) pairs) in place.
    Returns one line per row that could not be applied; the rest are applied."""
    problems: list[str] = []
    found: set[str] = set()
    name = Path(corrections.source).name or "corrections"
    for images, spec in sets:
        keys = _keys(images, spec)
        keep = np.ones(len(images), dtype=bool)
        for index, key in enumerate(keys):
            label = corrections.labels.get(key)
            if label is None:
                continue
            found.add(key)
            if label.lower() == EXCLUDE:
                if images.paths is None:
                    problems.append(warning(f"{name}: cannot exclude {key}: only image files can be excluded"))
                    continue
                keep[index] = False
                corrections.excluded += 1
            elif label in images.classes:
                images.labels[index] = images.classes.index(label)
                corrections.relabelled += 1
            else:
                problems.append(warning(f"{name}: class {label!r} for {key} does not exist "
                                        f"(classes: {', '.join(images.classes[:8])})"))
        if not keep.all():
            _drop(images, keep)
    for key in corrections.labels:
        if key not in found:
            problems.append(warning(f"{name}: {key} is not in the data set; row ignored"))
    return problems


def _drop(images: ImageSet, keep: np.ndarray) -> None:
    assert images.paths is not None  # apply_corrections excludes file samples only
    images.labels = images.labels[keep]
    images.paths = [p for p, k in zip(images.paths, keep, strict=True) if k]
    if images.groups is not None:
        images.groups = [g for g, k in zip(images.groups, keep, strict=True) if k]


def summary(corrections: Corrections) -> str:
    return (f"corrections from {corrections.source}: {corrections.relabelled} relabelled, "
            f"{corrections.excluded} excluded (the image files are not changed)")


RUN_COPY = "corrections.csv"  # a run folder's copy of the corrections it trained with


def snapshot_corrections(path: str | None, sha256: str | None, run_dir: str | Path) -> None:
    """Keep a copy of the corrections a run trained with in its folder, so evaluation and
    resume still work after the user's file changes (the copy is used when it has the hash
    config.json recorded)."""
    if not path or not sha256:
        return
    try:
        data = Path(path).read_bytes()
        if hashlib.sha256(data).hexdigest() == sha256:
            (Path(run_dir) / RUN_COPY).write_bytes(data)
    except OSError:
        pass  # the run still records the file and its hash; only the fallback copy is missing


def correct_sets(path: str | None, expected_sha256: str | None, sets: list[tuple[ImageSet, str]],
                 run_dir: str | Path | None = None) -> tuple[str | None, list[str]]:
    """Apply the corrections file at ``path`` (if any) to ``sets``: (its SHA-256, the lines to
    show: a summary, then one per row not applied). With ``run_dir`` and the hash the run
    recorded, the run's own copy of the file is used (the user's may have changed since)."""
    if not path:
        return None, []
    copy = Path(run_dir) / RUN_COPY if run_dir else None
    if expected_sha256 and copy is not None and copy.is_file() and file_sha256(copy) == expected_sha256:
        corrections = read_corrections(copy, expected_sha256, base=Path(path).expanduser().parent)
        problems = apply_corrections(corrections, sets)
        return corrections.sha256, [summary(corrections), *problems]
    corrections = read_corrections(path, expected_sha256)
    problems = apply_corrections(corrections, sets)
    return corrections.sha256, [summary(corrections), *problems]


def default_corrections_path(data: str) -> Path:
    """Where the window keeps the corrections of data set ``data``: the user's data folder
    (tlgui.paths), one CSV per data set, named after the folder and a hash of its path."""
    spec = normalise_key(data) if os.path.exists(data) else data
    name = "".join(c if c.isalnum() or c in "-_" else "_" for c in Path(spec).name)[:40] or "data"
    digest = hashlib.sha256(spec.encode("utf-8")).hexdigest()[:10]
    return data_dir() / "corrections" / f"{name}-{digest}.csv"
