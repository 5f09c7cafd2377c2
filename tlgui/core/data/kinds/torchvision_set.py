"""``torchvision:NAME:ROOT``: one of torchvision's data sets read from the folder ROOT you would
pass to its class (MNIST, FashionMNIST, KMNIST, CIFAR10/100, SVHN, STL10); nothing downloads."""

from __future__ import annotations

from tlgui.core.base.errors import DataError
from tlgui.core.data.builtin_sets import KNOWN_TORCHVISION, read_set
from tlgui.core.data.folder_listing import absolute
from tlgui.core.data.idx import SPLIT_PREFIX
from tlgui.core.data.sources import ImageSet

DESCRIPTION = "torchvision data set (read from its files in a local folder)"


def matches(spec: str) -> bool:
    return spec.startswith("torchvision:")


def open(spec: str, split: str = "train") -> ImageSet:
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
    return read_set(name, root, split, spec)
