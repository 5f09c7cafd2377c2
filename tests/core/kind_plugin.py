"""A kind of data source that tlgui does not know, for the tests that add one: a folder holding one
``CLASS.npy`` per class, each an (N, H, W) uint8 stack of images. Written to a temporary module
and imported from there, so nothing of it lives in tlgui."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import numpy as np

SOURCE = '''"""Stacks of images, one CLASS.npy array (N, H, W) per class."""

import numpy as np

from tlgui.core.base.errors import DataError
from tlgui.core.data.sources import ImageSet, absolute, add_imbalance_warning

DESCRIPTION = "npy stacks (one CLASS.npy array of images per class)"


def matches(spec):
    folder = absolute(spec)
    return folder.is_dir() and any(folder.glob("*.npy")) and not any(p.is_dir() for p in folder.iterdir())


def open(spec, split="train"):
    files = sorted(absolute(spec).glob("*.npy"))
    stacks = [np.load(f, allow_pickle=False) for f in files]
    if len(stacks) < 2 or any(s.dtype != np.uint8 or s.ndim != 3 for s in stacks):
        raise DataError(f"{spec} needs two or more CLASS.npy files of uint8 (N, H, W) images")
    labels = np.concatenate([np.full(len(s), i, dtype=np.int64) for i, s in enumerate(stacks)])
    images = ImageSet(spec, [f.stem for f in files], labels, arrays=np.concatenate(stacks), origin="npy stacks")
    add_imbalance_warning(images)
    return images
'''


def load_kind(folder: Path) -> ModuleType:
    """The kind, written as ``folder/npy_stacks_kind.py`` and imported from that file."""
    path = folder / "npy_stacks_kind.py"
    path.write_text(SOURCE, encoding="utf-8")
    spec = importlib.util.spec_from_file_location("npy_stacks_kind", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def make_stacks(folder: Path, counts: dict[str, int], size: int = 12) -> Path:
    """One CLASS.npy per class: class i is bright where i says (so a model can learn it)."""
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for i, (name, n) in enumerate(counts.items()):
        stack = rng.integers(0, 60, (n, size, size), dtype=np.uint8)
        stack[:, :, i * 2 : i * 2 + 3] += 150
        np.save(folder / f"{name}.npy", stack)
    return folder
