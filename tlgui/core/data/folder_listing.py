"""Listing a class-per-folder tree: which entries are images, which are hidden or system files,
class names in one Unicode form, and the train/ and test/ folders that hold splits rather than classes."""

from __future__ import annotations

import os
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

from tlgui.core.base.errors import DataError

IMAGE_EXTENSIONS = frozenset(
    {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm", ".pgm", ".pbm", ".npy"}
)


SYSTEM_FILES = frozenset({".ds_store", "thumbs.db", "desktop.ini", "ehthumbs.db", "icon\r"})


# what macOS's zip and Windows' drives add beside the user's folders (dot-names are hidden anyway)
SYSTEM_FOLDERS = frozenset({"__macosx", "$recycle.bin", "system volume information"})


FASHION_CLASSES = [
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
]  # fmt: skip


# folder names that mean "this level holds splits, not classes"
_SPLIT_DIRS = {
    "train": ("train", "training"),
    "test": ("test", "val", "valid", "validation", "testing"),
}


def is_ignored_name(name: str) -> bool:
    """Hidden and system entries (``.DS_Store``, ``._*``, ``Thumbs.db``, ``__MACOSX``, ...): never an
    image, never a class."""
    lower = name.lower()
    return name.startswith(".") or lower in SYSTEM_FILES or lower in SYSTEM_FOLDERS


def is_image_name(name: str) -> bool:
    return os.path.splitext(name)[1].lower() in IMAGE_EXTENSIONS


@dataclass
class FolderListing:
    root: Path  # absolute
    classes: dict[str, list[tuple[str, int, int]]]  # class -> [(path, size, mtime_ns)], sorted
    ignored: int = 0  # hidden, system and non-image files (and stray files at the top)
    stray_images: int = 0  # image files directly in root, outside any class folder
    warnings: list[str] = field(default_factory=list)  # class folders whose names collide elsewhere


def class_name_of(folder_name: str) -> str:
    """A class folder's name as a class: in NFC, the composed Unicode form (macOS's Finder writes
    the decomposed one), so the same folder gives the same class on every system."""
    return unicodedata.normalize("NFC", folder_name)


def absolute(path: str | os.PathLike[str]) -> Path:
    return Path(os.path.abspath(os.path.expanduser(os.fspath(path))))


def check_folder(path: str | os.PathLike[str]) -> Path:
    root = absolute(path)
    if not root.exists():
        raise DataError(f"data folder not found: {root}")
    if not root.is_dir():
        raise DataError(
            f"{root} is not a folder (expected a folder with one sub-folder per class, "
            "MNIST-style IDX files, or a .csv manifest)"
        )
    return root


def list_folder(path: str | os.PathLike[str]) -> FolderListing:
    """Walk a class-per-sub-folder tree (recursively inside each class), skipping hidden
    and system entries; classes are named in NFC, and ``warnings`` names class folders that would
    be one folder on Windows or macOS. DataError when the folder is missing or not a folder."""
    root = check_folder(path)
    listing = FolderListing(root=root, classes={})
    try:
        entries = sorted(os.scandir(root), key=lambda e: e.name)
    except OSError as exc:
        raise DataError(f"cannot read folder {root}: {exc.strerror or exc}") from None
    folders: dict[str, list[str]] = {}  # class name -> the folder names that gave it
    for entry in entries:
        if is_ignored_name(entry.name):
            listing.ignored += 1
        elif entry.is_dir():
            name = class_name_of(entry.name)
            folders.setdefault(name, []).append(entry.name)
            listing.classes[name] = listing.classes.get(name, []) + _walk_class(Path(entry.path), listing)
        else:
            listing.ignored += 1
            listing.stray_images += is_image_name(entry.name)
    listing.classes = dict(sorted(listing.classes.items()))
    listing.warnings = _name_collisions(folders)
    return listing


def _name_collisions(folders: dict[str, list[str]]) -> list[str]:
    """A warning for class folders that are one folder on Windows and macOS: names equal but for
    their Unicode form (merged into one class here), or but for case (kept apart here)."""
    notes = [
        f"{len(names)} class folders are named {name!r}, written in different Unicode forms (macOS writes "
        "accents as separate marks); they are one folder on macOS and are read as one class"
        for name, names in folders.items()
        if len(names) > 1
    ]
    by_case: dict[str, list[str]] = {}
    for name in sorted(folders):
        by_case.setdefault(name.casefold(), []).append(name)
    notes += [
        f"class folders {' and '.join(repr(n) for n in names)} differ only in case: they are one folder on "
        "Windows and macOS and their names collide in exports; rename or merge them"
        for names in by_case.values()
        if len(names) > 1
    ]
    return notes


def _walk_class(folder: Path, listing: FolderListing) -> list[tuple[str, int, int]]:
    files: list[tuple[str, int, int]] = []
    for dirpath, dirnames, filenames in os.walk(folder):
        listing.ignored += sum(is_ignored_name(d) for d in dirnames)
        dirnames[:] = sorted(d for d in dirnames if not is_ignored_name(d))
        for name in sorted(filenames):
            if is_ignored_name(name) or not is_image_name(name):
                listing.ignored += 1
                continue
            full = os.path.join(dirpath, name)
            try:
                st = os.stat(full)
            except OSError:
                files.append((full, -1, 0))  # broken link: reported as unreadable
                continue
            files.append((full, st.st_size, st.st_mtime_ns))
    return files


def split_subfolder(root: Path, split: str) -> Path | None:
    """``root/train`` (or val/test...) when root holds split folders rather than classes."""
    try:
        subdirs = {
            p.name.lower(): p for p in root.iterdir() if p.is_dir() and not is_ignored_name(p.name)
        }
    except OSError:
        return None
    known = {name for names in _SPLIT_DIRS.values() for name in names}
    if not subdirs or not set(subdirs) <= known:
        return None
    for name in _SPLIT_DIRS.get(split, (split,)):
        if name in subdirs:
            return subdirs[name]
    raise DataError(
        f"{root} has split folders ({', '.join(sorted(subdirs))}) but none for {split!r}"
    )

