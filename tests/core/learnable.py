"""Tiny, learnable image sets made on the fly (no downloads)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

PATTERNS = ("horizontal", "vertical", "diagonal", "dots")


def pattern(kind: str, rng: np.random.Generator, size: int = 16) -> np.ndarray:
    img = rng.normal(40, 20, (size, size))
    offset = int(rng.integers(0, 3))
    if kind == "horizontal":
        img[offset::4, :] += 160
    elif kind == "vertical":
        img[:, offset::4] += 160
    elif kind == "diagonal":
        for i in range(size):
            img[i, (i + offset) % size] += 180
            img[i, (i + offset + 6) % size] += 180
    else:
        img[offset::5, offset::5] += 200
    return np.clip(img, 0, 255).astype(np.uint8)


def image_folder(root: Path, classes=PATTERNS[:3], per_class: int = 12, size: int = 16,
                 mode: str = "L", seed: int = 0) -> Path:
    """``root/<class>/<i>.png``: one visual pattern per class, easy to learn in one epoch."""
    rng = np.random.default_rng(seed)
    root.mkdir(parents=True, exist_ok=True)
    for name in classes:
        folder = root / name
        folder.mkdir(exist_ok=True)
        for i in range(per_class):
            array = pattern(name if name in PATTERNS else PATTERNS[hash(name) % 4], rng, size)
            image = Image.fromarray(array, mode="L")
            if mode != "L":
                image = image.convert(mode)
            image.save(folder / f"{i:03d}.png")
    return root
