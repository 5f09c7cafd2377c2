"""Fashion-MNIST split in two for the transfer benchmarks: classes 0-4 are the source task,
5-9 the target (bench_fewshot.py, bench_timm.py). Needs apt-get install dataset-fashion-mnist."""

from __future__ import annotations

import struct

import numpy as np

FASHION = "/usr/share/datasets/fashion-mnist"
SOURCE, TARGET = range(0, 5), range(5, 10)


def write_idx(path: str, array: np.ndarray) -> None:
    """An uncompressed IDX file (uint8: images N x 28 x 28 or labels N)."""
    with open(path, "wb") as handle:
        handle.write(struct.pack(">BBBB", 0, 0, 0x08, array.ndim))
        handle.write(struct.pack(f">{array.ndim}I", *array.shape))
        handle.write(np.ascontiguousarray(array, dtype=np.uint8).tobytes())


def load_fashion(split: str) -> tuple[np.ndarray, np.ndarray, list[str]]:
    from tlgui.core.data.catalog import open_source

    images = open_source(str(FASHION), split)
    return images.arrays, images.labels, images.classes
