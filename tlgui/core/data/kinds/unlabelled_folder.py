"""An unlabelled folder as a data source: every image at any depth, ``unlabelled:DIR`` (the
Label page and ``tlgui label`` label it; labels are a CSV that the CSV list kind reads).
 Listing walks the tree
with ``os.scandir`` and decodes nothing, so 50,000 files list in well under a second; a broken
file is found when its pixels are first read (the labelling features) and then listed as
skipped with its reason. Hidden and system files are ignored. Images are read later by the same
readers as training (TIFF stacks, deep images and .npy arrays with the Image values settings).
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tlgui.core.base.errors import DataError
from tlgui.core.data.folder_listing import check_folder, is_ignored_name, is_image_name
from tlgui.core.data.sources import ImageSet

DESCRIPTION = "unlabelled folder (images at any depth, to label in tlgui)"
PREFIX = "unlabelled:"
CLASS = "unlabelled"  # the one class an unlabelled set has (labels come from the labels CSV)


@dataclass
class Listing:
    root: Path
    files: list[tuple[str, int, int]]  # (absolute path, size, mtime_ns), sorted by path
    ignored: int = 0

    @property
    def paths(self) -> list[str]:
        return [f[0] for f in self.files]

    def fingerprint(self) -> str:
        """Hex digest of every file's path, size and modification time: changes when any file does."""
        digest = hashlib.blake2b(str(self.root).encode("utf-8"), digest_size=20)
        for path, size, mtime in self.files:
            digest.update(f"{path}\0{size}\0{mtime}\n".encode("utf-8", "surrogatepass"))
        return digest.hexdigest()


def folder_of(spec: str | os.PathLike) -> str:
    text = os.fspath(spec).strip()
    return text[len(PREFIX):] if text.startswith(PREFIX) else text


def matches(spec: str) -> bool:
    return str(spec).strip().startswith(PREFIX)


def list_images(folder: str | os.PathLike) -> Listing:
    """Every image file under ``folder`` at any depth (hidden/system files and folders skipped)."""
    root = check_folder(folder_of(folder))
    listing = Listing(root, [])
    stack = [str(root)]
    while stack:
        current = stack.pop()
        try:
            entries = list(os.scandir(current))
        except OSError as exc:
            if current == str(root):
                raise DataError(f"cannot read folder {root}: {exc.strerror or exc}") from None
            listing.ignored += 1
            continue
        for entry in entries:
            if is_ignored_name(entry.name):
                listing.ignored += 1
                continue
            try:
                if entry.is_dir():
                    stack.append(entry.path)
                    continue
                if not is_image_name(entry.name):
                    listing.ignored += 1
                    continue
                st = entry.stat()
                listing.files.append((entry.path, st.st_size, st.st_mtime_ns))
            except OSError:
                listing.files.append((entry.path, -1, 0))  # a broken link: reported when read
    listing.files.sort()
    return listing


def image_set(listing: Listing, name: str | None = None) -> ImageSet:
    """The listing as an ImageSet with one class (``unlabelled``), for the decoders."""
    paths = listing.paths
    return ImageSet(name or f"{PREFIX}{listing.root}", [CLASS], np.zeros(len(paths), dtype=np.int64), paths=paths)


def open(spec: str, split: str = "train") -> ImageSet:  # noqa: A001 - the kinds' interface
    """``unlabelled:DIR`` (or plain DIR) as an ImageSet; DataError when it holds no images."""
    listing = list_images(spec)
    if not listing.files:
        raise DataError(f"{listing.root} holds no image files (at any depth)")
    return image_set(listing, str(spec))


def describe(spec: str) -> str:
    """One line for the data summary."""
    listing = list_images(spec)
    return f"{len(listing.files):,} unlabelled image(s) under {listing.root}"
