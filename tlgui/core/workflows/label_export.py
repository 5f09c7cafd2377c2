"""``tlgui label export``: the labelled images into one sub-folder per class, copied or linked, never moved."""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path
from typing import TypedDict

from tlgui.core.base.errors import DataError

_UNSAFE = '<>:"/\\|?*'


def class_folder_name(name: str) -> str:
    """A class name usable as a folder name on every OS."""
    clean = "".join("_" if ch in _UNSAFE or ord(ch) < 32 else ch for ch in name).strip(" .")
    return clean or "_"


def _target(folder: Path, source: str, taken: set[str]) -> Path:
    """``folder/<file name>``, with a short hash of the source path added when two files share a name."""
    name = Path(source).name
    if name.lower() in taken:
        stem, suffix = os.path.splitext(name)
        name = f"{stem}-{hashlib.blake2b(source.encode('utf-8', 'surrogatepass'), digest_size=4).hexdigest()}{suffix}"
    taken.add(name.lower())
    return folder / name


def _link(source: str, target: Path) -> bool:
    """A symbolic link; False where links are not allowed (Windows without the privilege, some file systems)."""
    try:
        os.symlink(source, target)
        return True
    except (OSError, NotImplementedError, AttributeError):
        return False


class ExportedLabels(TypedDict):
    """What :func:`export_labels` did (a plain dict, printed as JSON by ``tlgui label --export``)."""

    to: str
    copied: int
    linked: int
    classes: dict[str, int]  # class -> images exported
    skipped: list[list[str]]  # [path, reason]
    notes: list[str]


def export_labels(labels_csv: str | Path, to_dir: str | Path, link: bool = False) -> ExportedLabels:
    """Copy (or link) every labelled image into ``to_dir/<class>/``.
    Files already there are left alone (skipped with the reason); the sources are never changed."""
    from tlgui.core.workflows.label_store import LabelStore

    store = LabelStore(labels_csv)
    if not store.csv_path.is_file():
        raise DataError(f"labels file not found: {store.csv_path}")
    rows = store.rows()
    if not rows:
        raise DataError(f"{store.csv_path} holds no labels to export")
    out = Path(to_dir).expanduser().resolve()
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DataError(f"cannot create {out}: {exc.strerror or exc}") from None
    result = ExportedLabels(to=str(out), copied=0, linked=0, classes={}, skipped=[], notes=[])
    taken: dict[str, set[str]] = {}
    links_refused = False
    for row in rows:
        source, label = row["path"], row["label"]
        folder = out / class_folder_name(label)
        folder.mkdir(exist_ok=True)
        target = _target(folder, source, taken.setdefault(label, set()))
        if not os.path.isfile(source):
            result["skipped"].append([source, "file not found"])
            continue
        if target.exists() or target.is_symlink():
            result["skipped"].append([source, f"{target} already exists"])
            continue
        if link and not links_refused and _link(source, target):
            result["linked"] += 1
        else:
            links_refused = links_refused or link
            try:
                shutil.copy2(source, target)
            except OSError as exc:
                result["skipped"].append([source, f"cannot copy: {exc.strerror or exc}"])
                continue
            result["copied"] += 1
        result["classes"][label] = result["classes"].get(label, 0) + 1
    if links_refused:
        result["notes"].append("symbolic links are not allowed here (on Windows they need Developer Mode or "
                               "administrator rights): the images were copied instead")
    return result
