"""IDX files (the MNIST family's format): a safe reader, the file-name conventions, and an
ImageSet made of an (images, labels) pair, which the IDX folder and torchvision kinds both use.

Format: two zero bytes, a type code, the number of dimensions, then one big-endian
uint32 per dimension, then the values in big-endian order. Files may be gzip-compressed.
"""

from __future__ import annotations

import gzip
import re
import zlib
from pathlib import Path
from typing import Any

import numpy as np

from tlgui.core.base.errors import DataError
from tlgui.core.data.sources import ImageSet, add_imbalance_warning

# type code -> numpy dtype (big-endian)
_DTYPES: dict[int, np.dtype[Any]] = {
    0x08: np.dtype("u1"),
    0x09: np.dtype("i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}


# train-images-idx3-ubyte, t10k-labels.idx1-ubyte.gz, train_images_idx3_ubyte ...
_NAME = re.compile(
    r"^(?P<split>train|t10k)[-._](?P<kind>images|labels)[-._]idx(?P<ndim>[13])[-._]ubyte(?P<gz>\.gz)?$",
    re.IGNORECASE,
)


SPLIT_PREFIX = {"train": "train", "test": "t10k"}


def read_idx(path: str | Path) -> np.ndarray:
    """Read one IDX file (raw or .gz) into a native-endian array; DataError naming it if bad."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise DataError(f"IDX file not found: {path}") from None
    except OSError as exc:
        raise DataError(f"cannot read IDX file {path}: {exc.strerror or exc}") from None
    if raw[:2] == b"\x1f\x8b":  # gzip magic, whatever the name says
        try:
            raw = gzip.decompress(raw)
        except EOFError:
            raise DataError(f"IDX file {path} is truncated (the gzip stream ends early)") from None
        except (OSError, zlib.error) as exc:
            raise DataError(f"IDX file {path} is not a valid gzip file ({exc})") from None
    return parse_idx(raw, path.name if isinstance(path, Path) else str(path))


def parse_idx(raw: bytes, name: str = "IDX data") -> np.ndarray:
    """Parse the bytes of an uncompressed IDX file."""
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _DTYPES:
        raise DataError(f"{name} is not an IDX file (bad magic number)")
    dtype, ndim = _DTYPES[raw[2]], raw[3]
    if not 1 <= ndim <= 4:
        raise DataError(f"{name} is not an IDX file ({ndim} dimensions)")
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DataError(f"IDX file {name} is truncated (header incomplete)")
    shape = tuple(int(v) for v in np.frombuffer(raw, dtype=">u4", count=ndim, offset=4))
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    found = len(raw) - header
    if found < expected:
        raise DataError(
            f"IDX file {name} is truncated: its header promises {expected} bytes of data "
            f"but only {found} are there"
        )
    if found > expected:
        raise DataError(f"IDX file {name} has {found - expected} unexpected bytes after its data")
    array = np.frombuffer(raw, dtype=dtype, count=expected // dtype.itemsize, offset=header)
    return array.reshape(shape).astype(dtype.newbyteorder("="), copy=True)


def _candidate_dirs(folder: Path) -> list[Path]:
    """The folder itself, its raw/, and torchvision's <root>/<Name>/raw/."""
    dirs = [folder, folder / "raw"]
    try:
        dirs += sorted(
            p / "raw" for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")
        )
    except OSError:
        pass
    return [d for d in dirs if d.is_dir()]


def _idx_files(directory: Path) -> dict[tuple[str, str], Path]:
    """(split prefix, kind) -> file; uncompressed files win over .gz."""
    found: dict[tuple[str, str], Path] = {}
    try:
        names = sorted(p for p in directory.iterdir() if p.is_file())
    except OSError:
        return found
    for path in names:
        match = _NAME.match(path.name)
        if match is None:
            continue
        key = (match["split"].lower(), match["kind"].lower())
        if key not in found or found[key].suffix == ".gz":
            found[key] = path
    return found


def is_idx_folder(folder: str | Path) -> bool:
    """True when the folder (or its raw/, or <Name>/raw/) holds MNIST-style IDX files."""
    return any(_idx_files(d) for d in _candidate_dirs(Path(folder)))


def find_idx_pair(
    folder: str | Path, split: str = "train", dirs: list[Path] | None = None
) -> tuple[Path, Path]:
    """The (images, labels) files of ``split`` ("train" or "test") in ``folder``, its raw/
    or <Name>/raw/ (or only in ``dirs`` when given); DataError when absent."""
    folder = Path(folder)
    prefix = SPLIT_PREFIX.get(split)
    if prefix is None:
        raise DataError(f"unknown split {split!r} for {folder} (choose train or test)")
    for directory in _candidate_dirs(folder) if dirs is None else dirs:
        files = _idx_files(directory)
        images, labels = files.get((prefix, "images")), files.get((prefix, "labels"))
        if images and labels:
            return images, labels
        if images or labels:
            have, want = (images, "labels") if images else (labels, "images")
            ndim = 1 if want == "labels" else 3
            raise DataError(
                f"found {have} but not its {want} file "
                f"({prefix}-{want}-idx{ndim}-ubyte[.gz]) in {directory}"
            )
    raise DataError(
        f"no {split}-split IDX files in {folder} (expected {prefix}-images-idx3-ubyte[.gz] "
        f"and {prefix}-labels-idx1-ubyte[.gz], directly or in raw/)"
    )


def write_idx(path: str | Path, array: np.ndarray) -> None:
    """Write ``array`` as an IDX file (gzip-compressed when the name ends in .gz)."""
    array = np.asarray(array)
    codes = {dt.newbyteorder("=").str[1:]: code for code, dt in _DTYPES.items()}
    code = codes.get(array.dtype.newbyteorder("=").str[1:])
    if code is None:
        raise ValueError(f"IDX cannot store {array.dtype}")
    header = bytes([0, 0, code, array.ndim]) + np.asarray(array.shape, dtype=">u4").tobytes()
    data = header + array.astype(_DTYPES[code], copy=False).tobytes()
    path = Path(path)
    path.write_bytes(gzip.compress(data, compresslevel=1) if path.suffix == ".gz" else data)


def read_class_names(path: Path) -> list[str]:
    """One class name per line (a classes.txt); DataError naming the file when unreadable or empty."""
    try:
        lines = path.read_text(encoding="utf-8-sig").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"cannot read class names from {path}: {exc}") from None
    names = [line.strip() for line in lines if line.strip()]
    if not names:
        raise DataError(f"{path} lists no class names (one name per line expected)")
    return names


def idx_image_set(
    name: str,
    images_file: Path,
    labels_file: Path,
    classes: list[str] | None,
    names_from: Path | None = None,
) -> ImageSet:
    """An in-memory ImageSet of an IDX pair; ``classes`` names the labels (numbers when None or
    too few, unless ``names_from``, the file that listed them, says more were expected)."""
    images, labels = read_idx(images_file), read_idx(labels_file)
    if images.dtype != np.uint8 or images.ndim not in (3, 4):
        raise DataError(
            f"{images_file} does not hold 8-bit images (found {images.dtype} with shape {images.shape})"
        )
    if labels.ndim != 1 or labels.dtype.kind not in "iu":
        raise DataError(f"{labels_file} does not hold one integer label per image")
    if len(images) != len(labels):
        raise DataError(
            f"{images_file} holds {len(images)} images but {labels_file} holds {len(labels)} labels"
        )
    if len(labels) == 0:
        raise DataError(f"{images_file} holds no images")
    if labels.min() < 0:
        raise DataError(f"{labels_file} holds negative labels")
    labels = labels.astype(np.int64)
    top = int(labels.max()) + 1
    if names_from is not None and classes is not None and len(classes) < top:
        raise DataError(
            f"{names_from} lists {len(classes)} class names but the labels go up to {top - 1}"
        )
    if classes is None or len(classes) < top:
        classes = [str(i) for i in range(top)]
    if len(np.unique(labels)) < 2:
        raise DataError(
            f"{labels_file} has only one class ({classes[int(labels[0])]!r}); at least two are needed"
        )
    image_set = ImageSet(name, list(classes), labels, arrays=images, origin=images_file.name)
    add_imbalance_warning(image_set)
    return image_set
