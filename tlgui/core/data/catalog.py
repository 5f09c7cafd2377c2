"""The catalog of data-source kinds: which kind a data spec names, and opening it.

The kinds are asked in order; the first whose ``matches(spec)`` is true opens it. The image
folder comes last because it takes any path. A kind is a module of :mod:`tlgui.core.data.kinds`
listed here, or one that a higher layer (or a plug-in) adds with :func:`register_kind`.
"""

from __future__ import annotations

from tlgui.core.base import ordered
from tlgui.core.data.kinds import (
    Kind,
    csv_list,
    demo,
    idx_folder,
    image_folder,
    torchvision_set,
    unlabelled_folder,
)
from tlgui.core.data.sources import ImageSet

KINDS: list[Kind] = [demo, torchvision_set, csv_list, idx_folder, unlabelled_folder, image_folder]


open_csv = csv_list.open_csv  # tests/core/test_deep_images.py imports the CSV reader from here


def open_source(spec: str, split: str = "train") -> ImageSet:
    """Open a data set: an image folder (one sub-folder per class), a folder of IDX files,
    ``torchvision:NAME:ROOT``, ``csv:PATH`` / ``*.csv``, ``demo:source`` / ``demo:target``, or a
    registered kind's spec; ``split`` is "train" or "test"."""
    spec = str(spec).strip()
    kind = kind_of(spec)
    image_set = kind.open(spec, split)
    image_set.source = kind.DESCRIPTION
    return image_set


def kind_of(spec: str) -> Kind:
    """The first kind that claims ``spec`` (the image folder when none does)."""
    spec = str(spec).strip()
    return next((kind for kind in KINDS if kind.matches(spec)), image_folder)


def register_kind(kind: Kind, before: Kind | None = None) -> None:
    """Ask ``kind`` before ``before`` (default: before every kind already listed). Registering
    a kind again moves it."""
    ordered.place(KINDS, kind, before)


def unregister_kind(kind: Kind) -> None:
    ordered.remove(KINDS, kind)
