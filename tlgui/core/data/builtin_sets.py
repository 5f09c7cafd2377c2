"""Reading torchvision's built-in data sets from a local root (the ``torchvision:NAME:ROOT``
kind parses the spec). Nothing here downloads; missing files are a DataError that says what to get.

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
from tlgui.core.data.idx import SPLIT_PREFIX, find_idx_pair, idx_image_set, read_class_names
from tlgui.core.data.sources import FASHION_CLASSES, ImageSet, add_imbalance_warning

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
# names the command, not where a window keeps it (the Built-in data sets dialog says "Download…" instead)
DOWNLOAD_HINT = "download them only on request, with the Built-in data sets command"


def read_set(name: str, root: Path, split: str, spec: str) -> ImageSet:
    """torchvision's data set ``name`` (one of KNOWN_TORCHVISION) for ``split`` ("train" or
    "test") from the folder ``root`` you would pass to its class; named ``spec``."""
    if name in _MNIST_LIKE:
        dirs = [root / name / "raw", root / name, root / "raw", root]
        try:
            images_file, labels_file = find_idx_pair(root, split, dirs=dirs)
        except DataError:
            prefix = SPLIT_PREFIX[split]
            raise DataError(
                f"torchvision {name} files not found in {root} (expected {root / name / 'raw'}"
                f"{os.sep}{prefix}-images-idx3-ubyte[.gz] and {prefix}-labels-idx1-ubyte[.gz]; "
                f"{DOWNLOAD_HINT})"
            ) from None
        return idx_image_set(spec, images_file, labels_file, list(_MNIST_LIKE[name]))
    if name in _CIFAR:
        images, labels, classes, origin = _read_cifar(name, root, split)
    elif name == "STL10":
        images, labels, classes, origin = _read_stl10(root, split)
    else:
        images, labels, classes, origin = _read_svhn(root, split)
    image_set = ImageSet(spec, classes, labels, arrays=images, origin=origin)
    add_imbalance_warning(image_set)
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
            f"{DOWNLOAD_HINT})"
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
            f"{DOWNLOAD_HINT})"
        )
    raw = np.fromfile(x, dtype=np.uint8)
    labels = np.fromfile(y, dtype=np.uint8).astype(np.int64) - 1
    if raw.size % (3 * 96 * 96) or raw.size // (3 * 96 * 96) != len(labels):
        raise DataError(f"{x} is truncated or does not match {y.name}")
    images = np.ascontiguousarray(raw.reshape(-1, 3, 96, 96).transpose(0, 3, 2, 1))
    names_file = folder / "class_names.txt"
    names = read_class_names(names_file) if names_file.is_file() else [str(i) for i in range(10)]
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
            f"{DOWNLOAD_HINT})"
        ) from None
    images = np.ascontiguousarray(np.asarray(dataset.data, dtype=np.uint8).transpose(0, 2, 3, 1))
    return (
        images,
        np.asarray(dataset.labels, dtype=np.int64),
        [str(i) for i in range(10)],
        f"{split}_32x32.mat",
    )
