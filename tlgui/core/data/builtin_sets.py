"""In-memory sources: folders of IDX files and torchvision's built-in data sets read from
a local root. Nothing here downloads; missing files are a DataError that says what to get.

MNIST-like sets, CIFAR and STL-10 are read with our own parsers (IDX, a pickle reader
that only accepts numpy arrays, raw binaries), so no torchvision download or checksum
logic runs and a tampered pickle cannot execute code.
"""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import numpy as np

from tlgui.core.base.errors import DataError
from tlgui.core.data.idx import SPLIT_PREFIX, find_idx_pair, read_idx
from tlgui.core.data.sources import FASHION_CLASSES, ImageSet, _add_imbalance_warning, absolute

_MNIST_LIKE = {
    "MNIST": [str(d) for d in range(10)],
    "FashionMNIST": FASHION_CLASSES,
    "KMNIST": ["o", "ki", "su", "tsu", "na", "ha", "ma", "ya", "re", "wo"],
}


_CIFAR = {
    # name: (folder, train files, test files, meta file, label key, names key)
    "CIFAR10": (
        "cifar-10-batches-py",
        [f"data_batch_{i}" for i in range(1, 6)],
        ["test_batch"],
        "batches.meta",
        "labels",
        "label_names",
    ),
    "CIFAR100": (
        "cifar-100-python",
        ["train"],
        ["test"],
        "meta",
        "fine_labels",
        "fine_label_names",
    ),
}


KNOWN_TORCHVISION = (*_MNIST_LIKE, *_CIFAR, "SVHN", "STL10")


def open_idx_folder(folder: str | Path, split: str = "train", name: str | None = None) -> ImageSet:
    """A folder holding ``train-images-idx3-ubyte[.gz]`` etc. (directly, in raw/ or <Name>/raw/)."""
    folder = absolute(folder)
    images_file, labels_file = find_idx_pair(folder, split)
    classes_txt = _find_classes_txt(folder, images_file.parent)
    if classes_txt is not None:
        classes = _read_classes_txt(classes_txt)
    elif any("fashion" in part.lower() for part in images_file.parts):
        classes = list(FASHION_CLASSES)
    else:
        classes = None
    return _idx_set(name or str(folder), images_file, labels_file, classes, classes_txt)


def _find_classes_txt(*dirs: Path) -> Path | None:
    for directory in dict.fromkeys(dirs):
        if (directory / "classes.txt").is_file():
            return directory / "classes.txt"
    return None


def _read_classes_txt(path: Path) -> list[str]:
    try:
        lines = path.read_text(encoding="utf-8-sig").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"cannot read class names from {path}: {exc}") from None
    names = [line.strip() for line in lines if line.strip()]
    if not names:
        raise DataError(f"{path} lists no class names (one name per line expected)")
    return names


def _idx_set(
    name: str,
    images_file: Path,
    labels_file: Path,
    classes: list[str] | None,
    names_from: Path | None = None,
) -> ImageSet:
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
    if names_from is not None and len(classes) < top:
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
    _add_imbalance_warning(image_set)
    return image_set


def open_torchvision(spec: str, split: str = "train") -> ImageSet:
    """``torchvision:NAME:ROOT`` where ROOT is what you would pass to torchvision's class."""
    parts = spec.split(":", 2)
    if len(parts) != 3 or not parts[1] or not parts[2]:
        raise DataError(f"expected torchvision:NAME:ROOT, got {spec!r}")
    lookup = {n.lower(): n for n in KNOWN_TORCHVISION}
    name = lookup.get(parts[1].lower())
    if name is None:
        raise DataError(
            f"unknown torchvision data set {parts[1]!r} (known: {', '.join(KNOWN_TORCHVISION)})"
        )
    if split not in SPLIT_PREFIX:
        raise DataError(f"unknown split {split!r} for {spec} (choose train or test)")
    root = absolute(parts[2])
    if not root.is_dir():
        raise DataError(f"data folder not found: {root} (for torchvision {name})")
    if name in _MNIST_LIKE:
        dirs = [root / name / "raw", root / name, root / "raw", root]
        try:
            images_file, labels_file = find_idx_pair(root, split, dirs=dirs)
        except DataError:
            prefix = SPLIT_PREFIX[split]
            raise DataError(
                f"torchvision {name} files not found in {root} (expected {root / name / 'raw'}"
                f"{os.sep}{prefix}-images-idx3-ubyte[.gz] and {prefix}-labels-idx1-ubyte[.gz]; "
                "download them only on request: Data > Built-in data sets in the window)"
            ) from None
        return _idx_set(spec, images_file, labels_file, list(_MNIST_LIKE[name]))
    if name in _CIFAR:
        images, labels, classes, origin = _read_cifar(name, root, split)
    elif name == "STL10":
        images, labels, classes, origin = _read_stl10(root, split)
    else:
        images, labels, classes, origin = _read_svhn(root, split)
    image_set = ImageSet(spec, classes, labels, arrays=images, origin=origin)
    _add_imbalance_warning(image_set)
    return image_set


class _ArrayOnlyUnpickler(pickle.Unpickler):
    """Unpickles dicts, lists, strings, numbers and numpy arrays; refuses anything else."""

    _ALLOWED = {
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy.core.numeric", "_frombuffer"),
        ("numpy._core.numeric", "_frombuffer"),
    }

    def find_class(self, module: str, name: str):
        if (module, name) not in self._ALLOWED:
            raise pickle.UnpicklingError(f"refused {module}.{name}")
        module = module.replace("numpy.core.", "numpy._core.")
        return getattr(__import__(module, fromlist=[name]), name)


def _load_pickle(path: Path) -> dict:
    try:
        with open(path, "rb") as handle:
            raw = _ArrayOnlyUnpickler(handle, encoding="latin1").load()
    except FileNotFoundError:
        raise
    except Exception as exc:  # noqa: BLE001 - any failure means the file is not what we expect
        raise DataError(f"{path} is not a CIFAR batch file ({exc})") from None
    if not isinstance(raw, dict):
        raise DataError(f"{path} is not a CIFAR batch file")
    return {k.decode("latin1") if isinstance(k, bytes) else k: v for k, v in raw.items()}


def _read_cifar(name: str, root: Path, split: str):
    folder_name, train, test, meta, label_key, names_key = _CIFAR[name]
    folder = root if root.name == folder_name else root / folder_name
    files = [folder / f for f in (train if split == "train" else test)]
    missing = [f.name for f in [*files, folder / meta] if not f.is_file()]
    if missing:
        raise DataError(
            f"torchvision {name} files not found in {folder} (missing: {', '.join(missing)}; "
            "download them only on request: Data > Built-in data sets in the window)"
        )
    chunks, labels = [], []
    for path in files:
        batch = _load_pickle(path)
        try:
            data = np.asarray(batch["data"], dtype=np.uint8).reshape(-1, 3, 32, 32)
            batch_labels = np.asarray(batch[label_key], dtype=np.int64)
        except (KeyError, ValueError) as exc:
            raise DataError(f"{path} is not a CIFAR batch file (bad {exc})") from None
        if len(batch_labels) != len(data):
            raise DataError(f"{path} holds {len(data)} images but {len(batch_labels)} labels")
        chunks.append(data)
        labels.append(batch_labels)
    names = [
        n.decode() if isinstance(n, bytes) else str(n)
        for n in _load_pickle(folder / meta).get(names_key, [])
    ]
    images = np.ascontiguousarray(np.concatenate(chunks).transpose(0, 2, 3, 1))
    return images, np.concatenate(labels), names, files[0].name


def _read_stl10(root: Path, split: str):
    folder = root if root.name == "stl10_binary" else root / "stl10_binary"
    x, y = folder / f"{split}_X.bin", folder / f"{split}_y.bin"
    missing = [p.name for p in (x, y) if not p.is_file()]
    if missing:
        raise DataError(
            f"torchvision STL10 files not found in {folder} (missing: {', '.join(missing)}; "
            "download them only on request: Data > Built-in data sets in the window)"
        )
    raw = np.fromfile(x, dtype=np.uint8)
    labels = np.fromfile(y, dtype=np.uint8).astype(np.int64) - 1
    if raw.size % (3 * 96 * 96) or raw.size // (3 * 96 * 96) != len(labels):
        raise DataError(f"{x} is truncated or does not match {y.name}")
    images = np.ascontiguousarray(raw.reshape(-1, 3, 96, 96).transpose(0, 3, 2, 1))
    names_file = folder / "class_names.txt"
    names = _read_classes_txt(names_file) if names_file.is_file() else [str(i) for i in range(10)]
    return images, labels, names, x.name


def _read_svhn(root: Path, split: str):
    from torchvision.datasets import SVHN

    try:
        dataset = SVHN(str(root), split=split, download=False)
    except ImportError:
        raise DataError(
            f"reading SVHN from {root} needs the scipy package, which is not installed"
        ) from None
    except RuntimeError:
        raise DataError(
            f"torchvision SVHN files not found in {root} (expected {split}_32x32.mat; "
            "download them only on request: Data > Built-in data sets in the window)"
        ) from None
    images = np.ascontiguousarray(np.asarray(dataset.data, dtype=np.uint8).transpose(0, 2, 3, 1))
    return (
        images,
        np.asarray(dataset.labels, dtype=np.int64),
        [str(i) for i in range(10)],
        f"{split}_32x32.mat",
    )
