"""Lab microscopy images for the UI tests: folders of 16-bit, 4-channel TIFFs (12-bit values)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

CHANNELS = 4


def lab_array(rng, size=(48, 40)) -> np.ndarray:
    """uint16 (C, H, W): a dim background and a bright square in each of the first three
    channels, each in its own place, so hiding a channel changes what the screen shows."""
    h, w = size
    array = rng.integers(100, 400, (CHANNELS, h, w), dtype=np.uint16)
    array[0, 4:16, 4:16] = 4000
    array[1, 24:36, 4:16] = 3000
    array[2, 4:16, 24:36] = 2000
    array[3, 30:44, 22:38] = 1500
    return array


def write_lab_folder(root: Path, classes=("dead", "live"), per_class: int = 6) -> Path:
    import tifffile

    rng = np.random.default_rng(0)
    for name in classes:
        folder = root / name
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            tifffile.imwrite(folder / f"cell{i:02d}.tif", lab_array(rng), photometric="minisblack")
    return root


def image_pixels(image) -> np.ndarray:
    """A QImage's pixels as uint8 (H, W, 3), to compare renderings."""
    from PySide6.QtGui import QImage

    image = image.convertToFormat(QImage.Format.Format_RGB888)
    array = np.frombuffer(image.constBits(), np.uint8).reshape(image.height(), image.bytesPerLine())
    return array[:, : 3 * image.width()].reshape(image.height(), image.width(), 3).copy()
