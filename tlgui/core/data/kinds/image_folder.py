"""An image folder: one sub-folder of images per class (files may sit deeper, in a patient's or a
plate's folder, which becomes their group), optionally under train/ and test/ (or val/) folders.
This is the catch-all kind: any spec no other kind claims is taken for a folder path."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tlgui.core.base.errors import DataError
from tlgui.core.base.events import warning
from tlgui.core.data import sources
from tlgui.core.data.folder_listing import check_folder, class_name_of, list_folder, split_subfolder
from tlgui.core.data.scan_cache import cached_bad_files
from tlgui.core.data.sources import ImageSet, add_imbalance_warning

DESCRIPTION = "image folder (one sub-folder of images per class)"


def matches(spec: str) -> bool:
    return True  # asked last: whatever is left is a folder path (open says what is wrong with it)


def open(spec: str, split: str = "train") -> ImageSet:
    """The images of ``spec`` (or of its train/ or test/ sub-folder for ``split``); files a cached
    scan found bad, or whose header is bad, are skipped with their reason."""
    root = check_folder(spec)
    root = split_subfolder(root, split) or root
    listing = list_folder(root)
    if not any(listing.classes.values()):
        hint = (
            " (its images sit directly in it: put each class in its own sub-folder)"
            if listing.stray_images
            else ""
        )
        raise DataError(f"{root} holds no class sub-folders with images{hint}")
    cached, trusted = cached_bad_files(listing)
    classes: list[str] = []
    paths: list[str] = []
    labels: list[int] = []
    skipped: list[tuple[str, str]] = []
    warnings: list[str] = list(listing.warnings)
    empty: list[str] = []
    for class_name, files in listing.classes.items():
        usable = []
        for path, size, _ in files:
            reason = cached.get(path)
            if reason is None and not trusted:
                # looked up on the module, so a test that replaces it sees every call
                reason = "file cannot be read" if size < 0 else sources.header_problem(path, size)
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
        warnings.append(warning(f"class folder {class_name!r} has {what} and was ignored"))
    image_set = ImageSet(
        spec, classes, np.asarray(labels, dtype=np.int64), skipped, warnings, paths
    )
    image_set.groups = _subfolder_groups(root, paths)
    add_imbalance_warning(image_set)
    return image_set


def _subfolder_groups(root: Path, paths: list[str]) -> list[str | None] | None:
    """CLASS/SUB for files inside a sub-folder of their class folder (a patient, a plate),
    None for files directly in it; None overall when no class folder has sub-folders."""
    groups: list[str | None] = []
    for path in paths:
        parts = Path(path).relative_to(root).parts
        groups.append(class_name_of(f"{parts[0]}/{parts[1]}") if len(parts) > 2 else None)
    return groups if any(g is not None for g in groups) else None
