"""What every kind of data source shares: the ImageSet they all return, reading one image file,
and the imbalance warning.

The kinds themselves (image folder, CSV list, IDX folder, ...) live in :mod:`tlgui.core.data.kinds`,
one module each; they import this module and never each other. An ImageSet only lists samples (file
paths or an in-memory uint8 array) and labels; decoding for training happens in :mod:`tlgui.core.data.decode`.
Listing a class-per-folder tree lives in :mod:`tlgui.core.data.folder_listing` (its names are re-exported
here, where the command line and the tests import them), the scan's cache of bad files in
:mod:`tlgui.core.data.scan_cache`.
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass, field

import numpy as np
from PIL import Image, UnidentifiedImageError

from tlgui.core.base import pixels
from tlgui.core.base.errors import DataError
from tlgui.core.base.events import warning
from tlgui.core.base.pixels import PixelError, RawImage
from tlgui.core.data.folder_listing import FolderListing as FolderListing
from tlgui.core.data.folder_listing import absolute as absolute
from tlgui.core.data.folder_listing import check_folder as check_folder
from tlgui.core.data.folder_listing import class_name_of as class_name_of
from tlgui.core.data.folder_listing import is_ignored_name as is_ignored_name
from tlgui.core.data.folder_listing import is_image_name as is_image_name
from tlgui.core.data.folder_listing import list_folder as list_folder
from tlgui.core.data.folder_listing import split_subfolder as split_subfolder

FASHION_CLASSES = [
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
]  # fmt: skip


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
        if not len(self.labels):
            return {name: 0 for name in self.classes}
        per = np.bincount(self.labels, minlength=len(self.classes))
        return {name: int(per[i]) for i, name in enumerate(self.classes)}

    def channels(self, sample: int = 16) -> int:
        """1 when the data looks grayscale (checks up to ``sample`` images), 3 for colour
        pictures, or the channel count of TIFF stacks and arrays (the most common one)."""
        if self.arrays is not None:
            return 1 if self.arrays.ndim == 3 or self.arrays.shape[-1] == 1 else 3
        paths = self.paths or []  # a set without arrays has paths
        step = max(1, len(self) // sample)
        counts: list[int] = []
        for index in range(0, len(self), step):
            path = paths[index]
            try:
                if pixels.is_array_file(path):
                    raw = read_image(path)
                    if isinstance(raw, RawImage):  # what array files give
                        counts.append(raw.channels)
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


def class_imbalance_warning(counts: dict[str, int], ratio: float = 3.0) -> str | None:
    """One sentence when the largest class has more than ``ratio`` times the smallest."""
    present = {name: n for name, n in counts.items() if n > 0}
    if len(present) < 2:
        return None
    big = max(present, key=present.__getitem__)
    small = min(present, key=present.__getitem__)
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


