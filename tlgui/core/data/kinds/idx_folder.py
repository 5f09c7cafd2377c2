"""A folder of MNIST-style IDX files (``train-images-idx3-ubyte[.gz]`` and its labels, ``t10k-...``
for the test split), directly in it, in raw/ or in <Name>/raw/; an optional classes.txt names the
labels."""

from __future__ import annotations

from pathlib import Path

from tlgui.core.data.folder_listing import absolute
from tlgui.core.data.idx import find_idx_pair, idx_image_set, is_idx_folder, read_class_names
from tlgui.core.data.sources import FASHION_CLASSES, ImageSet

DESCRIPTION = "IDX folder (MNIST-style image and label files)"


def matches(spec: str) -> bool:
    return is_idx_folder(absolute(spec))


def open(spec: str, split: str = "train") -> ImageSet:
    folder = absolute(spec)
    images_file, labels_file = find_idx_pair(folder, split)
    classes_txt = _find_classes_txt(folder, images_file.parent)
    if classes_txt is not None:
        classes = read_class_names(classes_txt)
    elif any("fashion" in part.lower() for part in images_file.parts):
        classes = list(FASHION_CLASSES)
    else:
        classes = None
    return idx_image_set(spec, images_file, labels_file, classes, classes_txt)


def _find_classes_txt(*dirs: Path) -> Path | None:
    for directory in dict.fromkeys(dirs):
        if (directory / "classes.txt").is_file():
            return directory / "classes.txt"
    return None
