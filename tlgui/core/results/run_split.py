"""``RUN_DIR/split.csv``: the exact split a run trained and validated on.

Columns ``path,label,subset``: ``path`` is the image file, or ``SOURCE#INDEX`` for samples
of an in-memory source (IDX files, built-in sets, the demo), where SOURCE is the data spec
of config.json (``data``, or ``val_data`` for a separate validation set, each with its
split); ``label`` is the class name; ``subset`` is ``train`` or ``val``.

Evaluation, resume and the Runs page read it back, so files added to the folder later, or
a health scan that drops a file, cannot move training images into validation.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tlgui.core.base.errors import DataError, RunDirError
from tlgui.core.base.files import atomic_write_text, csv_path, path_key
from tlgui.core.data.sources import ImageSet

SPLIT = "split.csv"

COLUMNS = ("path", "label", "subset")

SUBSETS = ("train", "val")


@dataclass(frozen=True)
class SplitRow:
    path: str
    label: str
    subset: str


def sample_key(images: ImageSet, spec: str, index: int) -> str:
    """What split.csv calls sample ``index`` of ``images`` (opened from ``spec``)."""
    if images.paths is not None:
        return images.paths[index]
    return f"{spec}#{index}"


def split_rows(images: ImageSet, spec: str, indices, subset: str) -> list[SplitRow]:
    return [SplitRow(sample_key(images, spec, int(i)), images.classes[int(images.labels[int(i)])], subset)
            for i in indices]


def write_split(run_dir: str | Path, rows: list[SplitRow]) -> Path:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(COLUMNS)
    writer.writerows((csv_path(r.path), r.label, r.subset) for r in rows)  # / on every system
    target = Path(run_dir) / SPLIT
    atomic_write_text(target, buffer.getvalue())
    return target


def read_split(run_dir: str | Path) -> list[SplitRow] | None:
    """The stored split, or None when the run has none (runs made before split.csv existed).
    A damaged file raises :class:`RunDirError` naming it."""
    path = Path(run_dir) / SPLIT
    if not path.is_file():
        return None
    try:
        with open(path, newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            if tuple(reader.fieldnames or ()) != COLUMNS:
                raise RunDirError(f"{path}: expected the columns {','.join(COLUMNS)}")
            rows = [SplitRow(r["path"], r["label"], r["subset"]) for r in reader]
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise RunDirError(f"cannot read {path}: {exc}") from None
    bad = next((r for r in rows if r.subset not in SUBSETS), None)
    if bad is not None:
        raise RunDirError(f"{path}: subset {bad.subset!r} for {bad.path} (expected train or val)")
    return rows


def indices_of(images: ImageSet, spec: str, rows: list[SplitRow], subset: str,
               what: str = "split.csv") -> tuple[np.ndarray, list[str]]:
    """Indices into ``images`` of the ``subset`` rows, and the rows' paths no longer found.

    A row whose class differs from the source's label for that sample counts as not found:
    the data changed under the run."""
    # either separator: a split written on Windows reads back on macOS and Linux, and the other way
    index_of = {path_key(sample_key(images, spec, i)): i for i in range(len(images))}
    found, missing = [], []
    for row in rows:
        if row.subset != subset:
            continue
        i = index_of.get(path_key(row.path))
        if i is None or images.classes[int(images.labels[i])] != row.label:
            missing.append(row.path)
        else:
            found.append(i)
    return np.array(found, dtype=np.int64), missing


def stored_indices(images: ImageSet, spec: str, rows: list[SplitRow], subset: str,
                   run_dir: str | Path) -> np.ndarray:
    """:func:`indices_of`, refusing when any image of the stored split is gone."""
    found, missing = indices_of(images, spec, rows, subset)
    if missing:
        raise DataError(
            f"{len(missing)} image(s) of the {subset} split stored in {Path(run_dir) / SPLIT} are gone "
            f"or changed class in {spec}, e.g. {missing[0]}"
        )
    return found
