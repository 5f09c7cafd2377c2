"""duplicate_sets finds byte-identical files on every Python tlgui supports (3.10 too)."""

from __future__ import annotations

import hashlib

import numpy as np

from tlgui.core.data.grouping import duplicate_sets
from tlgui.core.data.sources import ImageSet


def _files(tmp_path):
    contents = {"a.png": b"same bytes", "b.png": b"same bytes", "c.png": b"diff bytes", "d.png": b"short"}
    paths = []
    for name, data in contents.items():
        (tmp_path / name).write_bytes(data)
        paths.append(str(tmp_path / name))
    return ImageSet("files", ["x", "y"], np.array([0, 1, 0, 1], dtype=np.int64), paths=paths)


def test_identical_files_are_one_set_and_same_sized_others_are_not(tmp_path):
    assert duplicate_sets(_files(tmp_path)) == [[0, 1]]


def test_without_hashlib_file_digest_as_on_python_3_10(tmp_path, monkeypatch):
    # hashlib.file_digest is new in 3.11; pyproject allows 3.10, where calling it raised AttributeError
    monkeypatch.delattr(hashlib, "file_digest", raising=False)
    assert duplicate_sets(_files(tmp_path)) == [[0, 1]]


def test_in_memory_arrays_compare_pixels():
    arrays = np.zeros((3, 4, 4), dtype=np.uint8)
    arrays[2, 0, 0] = 1
    images = ImageSet("arrays", ["x", "y"], np.array([0, 1, 0], dtype=np.int64), arrays=arrays)
    assert duplicate_sets(images) == [[0, 1]]
