"""What every kind of data source shares: the ImageSet they all return, reading one image file,
listing a class-per-folder tree, the scan's cache of bad files, and the imbalance warning.

The kinds themselves (image folder, CSV list, IDX folder, ...) live in :mod:`tlgui.core.data.kinds`,
one module each; they import this module and never each other. An ImageSet only lists samples (file
paths or an in-memory uint8 array) and labels; decoding for training happens in :mod:`tlgui.core.data.decode`.
"""

from __future__ import annotations

import hashlib
import json
import os
import struct
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from tlgui import paths
from tlgui.core.base import pixels
from tlgui.core.base.errors import DataError
from tlgui.core.base.events import warning
from tlgui.core.base.pixels import PixelError, RawImage

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


@dataclass
class ImageSet:
    name: str  # what the user gave, e.g. the folder path or "demo:target"
    classes: list[str]
    labels: np.ndarray  # int64, one per usable sample
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (path, reason)
    warnings: list[str] = field(default_factory=list)
    paths: list[str] | None = None  # file per sample (file-based sources)
    arrays: np.ndarray | None = None  # uint8 (N,H,W) or (N,H,W,C) (in-memory sources)
    origin: str = ""  # what describe() names for in-memory samples, e.g. an IDX file name
    groups: list[str | None] | None = None  # per sample: CLASS/SUBFOLDER when it sits in one
    source: str = ""  # its kind's one-line description, e.g. "CSV list (...)" (set by open_source)

    def __len__(self) -> int:
        return int(len(self.labels))

    def load(self, index: int, stack: str = "middle") -> Image.Image | RawImage:
        """Sample ``index`` as a PIL picture or, for TIFF stacks, deep and .npy images, a RawImage
        (C, H, W) in its own dtype; DataError naming the file if unreadable."""
        if self.arrays is not None:
            array = self.arrays[index]
            if array.ndim == 3 and array.shape[-1] == 1:
                array = array[..., 0]
            return Image.fromarray(np.ascontiguousarray(array))
        assert self.paths is not None
        return load_image_file(self.paths[index], stack)

    def describe(self, index: int) -> str:
        if self.paths is not None:
            return self.paths[index]
        return f"{self.origin or self.name} #{index}"

    def counts(self) -> dict[str, int]:
        per = np.bincount(self.labels, minlength=len(self.classes)) if len(self.labels) else []
        return {name: int(per[i]) if len(per) else 0 for i, name in enumerate(self.classes)}

    def channels(self, sample: int = 16) -> int:
        """1 when the data looks grayscale (checks up to ``sample`` images), 3 for colour
        pictures, or the channel count of TIFF stacks and arrays (the most common one)."""
        if self.arrays is not None:
            return 1 if self.arrays.ndim == 3 or self.arrays.shape[-1] == 1 else 3
        step = max(1, len(self) // sample)
        counts: list[int] = []
        for index in range(0, len(self), step):
            path = self.paths[index]
            try:
                if pixels.is_array_file(path):
                    counts.append(read_image(path).channels)
                    continue
                with Image.open(path) as image:  # header only
                    if image.mode not in ("1", "L", "LA", "I", "I;16", "I;16B", "I;16L", "F"):
                        return 3
            except Exception:  # noqa: BLE001 - unreadable files are someone else's report
                continue
        return max(set(counts), key=counts.count) if counts else 1


class EmptyImageFile(ValueError):
    """A zero-byte file where an image was expected."""


# tlgui checks every image's size itself (check_decoded_size) before decoding it. PIL's own
# check only warns between 89 and 179 MP, and catching its warning needs warnings filters,
# which are process-wide and not thread-safe; so PIL's limit is off and ours is an error.
Image.MAX_IMAGE_PIXELS = None


MAX_DECODED_PIXELS = 90_000_000  # ~270 MB as RGB: a few decoder threads stay well under 2 GB


class ImageTooLarge(Exception):
    """An image would need more pixels decoded than MAX_DECODED_PIXELS."""

    def __init__(self, width: int, height: int):
        super().__init__(f"{width}x{height}")
        self.width, self.height = width, height


def check_decoded_size(image: Image.Image, full_size: tuple[int, int] | None = None) -> None:
    """Raise ImageTooLarge when decoding ``image`` (after any draft) would exceed the limit."""
    width, height = image.size
    if width * height > MAX_DECODED_PIXELS:
        raise ImageTooLarge(*(full_size or image.size))


def read_image(path: str, target: int | None = None, stack: str = "middle") -> Image.Image | RawImage:
    """Decode a whole image file now (no file handle stays open); raises what PIL raises.

    8-bit pictures come back as PIL images; TIFF stacks (every page and channel), 16-bit
    images and .npy arrays as a RawImage (C, H, W) in their own dtype (``stack``: how a z/t
    stack becomes one image; see :mod:`tlgui.core.base.pixels`).
    ``target``: the shorter side the caller will resize to. A JPEG at least twice that size
    is decoded at reduced scale by libjpeg (``Image.draft``, 1/2 to 1/8) and stays larger
    than ``target``, so the caller's resize still does the final, antialiased step.
    """
    if pixels.is_array_file(path):
        return pixels.read_any(path, stack, target)
    if os.path.getsize(path) == 0:
        raise EmptyImageFile(path)
    return pixels.read_picture(path, target, check_decoded_size)  # tlgui's limit and its ImageTooLarge


def load_image_file(path: str, stack: str = "middle") -> Image.Image | RawImage:
    """Like :func:`read_image` but any failure is a DataError naming the file."""
    try:
        return read_image(path, stack=stack)
    except Exception as exc:  # noqa: BLE001 - PIL raises many types for bad data
        raise DataError(f"cannot read {path}: {image_error_reason(exc)}") from None


def image_error_reason(exc: BaseException) -> str:
    """A short, specific reason for a PIL failure."""
    if isinstance(exc, ImageTooLarge):
        mp = exc.width * exc.height / 1e6
        return (f"image too large: {exc.width}x{exc.height} ({mp:.0f} MP); tlgui decodes at most "
                f"{MAX_DECODED_PIXELS / 1e6:.0f} MP of it (large JPEGs are decoded at reduced size); reduce it first")
    if isinstance(exc, PixelError):
        return str(exc)
    if isinstance(exc, Image.DecompressionBombError):
        return "image too large (possible decompression bomb)"
    if isinstance(exc, EmptyImageFile):
        return "empty file (0 bytes)"
    if isinstance(exc, UnidentifiedImageError):
        return "not an image"
    if isinstance(exc, FileNotFoundError):
        return "file not found"
    if isinstance(exc, PermissionError):
        return "permission denied"
    if isinstance(exc, MemoryError):
        return "image too large to decode (out of memory)"
    if isinstance(exc, _CORRUPT_ERRORS):
        return "truncated or corrupt image data"
    first = str(exc).strip().splitlines()[0][:120] if str(exc).strip() else ""
    return f"unreadable image ({type(exc).__name__}{': ' + first if first else ''})"


# what PIL's decoders raise on damaged data (struct.error included)
_CORRUPT_ERRORS = (
    OSError,
    SyntaxError,
    EOFError,
    ValueError,
    IndexError,
    ZeroDivisionError,
    struct.error,
)


def header_problem(path: str, size: int) -> str | None:
    """Cheap check (header and size only); None when the file looks like a usable image."""
    if size == 0:
        return "empty file (0 bytes)"
    if pixels.is_array_file(path):
        return None  # TIFF stacks and arrays are checked when read (axes, dtype, channels)
    try:
        with Image.open(path) as image:
            width, height = image.size
    except Exception as exc:  # noqa: BLE001
        return image_error_reason(exc)
    if width < 1 or height < 1:
        return "image has no pixels"
    return None


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


def absolute(path: str | os.PathLike) -> Path:
    return Path(os.path.abspath(os.path.expanduser(os.fspath(path))))


def check_folder(path: str | os.PathLike) -> Path:
    root = absolute(path)
    if not root.exists():
        raise DataError(f"data folder not found: {root}")
    if not root.is_dir():
        raise DataError(
            f"{root} is not a folder (expected a folder with one sub-folder per class, "
            "MNIST-style IDX files, or a .csv manifest)"
        )
    return root


def list_folder(path: str | os.PathLike) -> FolderListing:
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


def class_imbalance_warning(counts: dict[str, int], ratio: float = 3.0) -> str | None:
    """One sentence when the largest class has more than ``ratio`` times the smallest."""
    present = {name: n for name, n in counts.items() if n > 0}
    if len(present) < 2:
        return None
    big = max(present, key=present.get)
    small = min(present, key=present.get)
    if present[big] <= ratio * present[small]:
        return None
    return (
        f"classes are imbalanced: {big!r} has {present[big]} images but {small!r} only "
        f"{present[small]}, so accuracy alone can mislead (check per-class results; "
        "the Class weights setting balanced, --class-weights balanced, weighs the loss to match)"
    )


def add_imbalance_warning(image_set: ImageSet) -> None:
    message = class_imbalance_warning(image_set.counts())
    if message:
        image_set.warnings.append(warning(message))


# ---------------------------------------------------------------- the scan's cache of bad files
# The health scan (scan.py) decodes every file once and caches what it found under
# ``cache_dir()/scans/``, keyed by the folder and a fingerprint of every file's (relative path,
# size, mtime); opening an image folder reads that cache to skip known-bad files unopened.

SCAN_VERSION = 3  # 2: channels, dtype and value range per file; 3: class names in NFC, name collisions


TINY_PIXELS = 16  # images smaller than this on a side are flagged by the scan (still usable)


def folder_fingerprint(listing: FolderListing) -> str:
    """Changes when any file is added, removed, resized or touched (or scan rules change)."""
    digest = hashlib.sha256()
    digest.update(
        f"v{SCAN_VERSION}|{MAX_DECODED_PIXELS}|{TINY_PIXELS}|{listing.ignored}|{listing.stray_images}\n".encode()
    )
    root = str(listing.root)
    for name, entries in listing.classes.items():
        digest.update(f"D{name}\n".encode())
        for p, size, mtime in entries:
            digest.update(f"{os.path.relpath(p, root)}|{size}|{mtime}\n".encode())
    return digest.hexdigest()


def scan_cache_file(root: Path) -> Path:
    key = hashlib.sha256(str(root).encode("utf-8", "surrogateescape")).hexdigest()[:32]
    return paths.cache_dir() / "scans" / f"{key}.json"


def read_scan_cache(root: Path) -> dict | None:
    """The cached scan of folder ``root`` (None when absent, unreadable or of another version)."""
    try:
        raw = json.loads(scan_cache_file(root).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if (
        not isinstance(raw, dict)
        or raw.get("version") != SCAN_VERSION
        or raw.get("folder") != str(root)
    ):
        return None
    return raw


def cached_bad_files(listing: FolderListing) -> tuple[dict[str, str], bool]:
    """(path -> reason for cached bad files still unchanged, whether the whole cached scan
    still matches the folder, in which case every other file is known good)."""
    cached = read_scan_cache(listing.root)
    if cached is None:
        return {}, False
    try:
        bad = {b["path"]: b["reason"] for b in cached["report"]["bad"]}
        if cached.get("fingerprint") == folder_fingerprint(listing):
            return bad, True
        current = {
            p: [size, mtime] for entries in listing.classes.values() for p, size, mtime in entries
        }
        stats = cached.get("bad_stats", {})
        return {p: r for p, r in bad.items() if p in current and stats.get(p) == current[p]}, False
    except (KeyError, TypeError):
        return {}, False
