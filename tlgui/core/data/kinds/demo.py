"""The built-in demo, ``demo:source`` or ``demo:target``: shapes drawn on the fly, no files."""

from __future__ import annotations

import numpy as np

from tlgui.core.base.errors import DataError
from tlgui.core.data import demo_images
from tlgui.core.data.sources import ImageSet

DESCRIPTION = "built-in demo (shapes drawn on the fly, no files)"


def matches(spec: str) -> bool:
    return spec.startswith("demo:")


def open(spec: str, split: str = "train") -> ImageSet:
    kind = spec.split(":", 1)[1]
    if kind not in ("source", "target"):
        raise DataError(f"unknown demo data set {spec!r} (choose demo:source or demo:target)")
    if split not in ("train", "test"):
        raise DataError(f"unknown split {split!r} for {spec} (choose train or test)")
    # the test split is a separate, disjoint draw
    images, labels, classes = demo_images.make_demo(kind, split=split)
    return ImageSet(
        spec,
        list(classes),
        np.asarray(labels, dtype=np.int64),
        arrays=np.asarray(images, dtype=np.uint8),
        origin=f"{spec} ({split})",
    )
