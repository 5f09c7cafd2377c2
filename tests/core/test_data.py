"""Dataset sources and decoding: image folders with every odd case, CSV, demo, splits."""

from __future__ import annotations

import os
import threading

import numpy as np
import pytest
import torch
from PIL import Image

from tests.core import corpus
from tlgui.core.base.errors import DataError
from tlgui.core.base.preprocessing import Preprocessing, to_mode
from tlgui.core.data.catalog import open_source
from tlgui.core.data.decode import LazyImageDataset, decode_to_tensor, fits_in_memory
from tlgui.core.data.sources import ImageSet, class_imbalance_warning
from tlgui.core.data.split import stratified_split, stratified_subset

GRAY32 = Preprocessing(resize=32, crop=32, channels=1, mean=[0.5], std=[0.5])
RGB32 = Preprocessing(resize=36, crop=32, channels=3)


@pytest.fixture
def odd(tmp_path):
    root = tmp_path / "pets"
    files = corpus.odd_folder(root)
    return root, files


def test_image_folder_classes_counts_and_skips(odd):
    root, f = odd
    images = open_source(str(root))
    assert images.classes == ["cats", "dogs"]
    # the truncated PNG has a good header: only a full decode can find it
    assert images.counts() == {"cats": 4, "dogs": 5}
    assert len(images) == 9 and images.labels.dtype == np.int64
    assert images.arrays is None and len(images.paths) == 9
    assert dict(images.skipped) == {
        str(f["zero"]): "empty file (0 bytes)",
        str(f["fake"]): "not an image",
    }
    assert any("'empty'" in w and "ignored" in w for w in images.warnings)
    assert not any(".hidden" in p or ".cache" in p or p.endswith(".txt") for p in images.paths)
    assert images.describe(0) == images.paths[0]
    assert images.channels() == 3


def test_every_mode_decodes_to_one_and_three_channels(odd):
    root, f = odd
    images = open_source(str(root))
    everything = np.arange(len(images))
    for prep in (GRAY32, RGB32):
        x, y, bad = decode_to_tensor(images, everything, prep)
        assert x.dtype == torch.uint8 and x.shape == (8, prep.channels, 32, 32)
        assert y.dtype == torch.int64 and y.tolist().count(0) == 4 and y.tolist().count(1) == 4
        assert bad == [(str(f["truncated"]), "truncated or corrupt image data")]
    # EXIF orientation is applied on the way in
    rotated = images.paths.index(str(f["dog_exif"]))
    assert images.load(rotated).size == (40, 20)
    assert to_mode(images.load(rotated), "L").size == (20, 40)


def test_decode_reports_progress_and_stops(odd):
    root, _ = odd
    images = open_source(str(root))
    calls = []
    decode_to_tensor(
        images, np.arange(len(images)), GRAY32, progress=lambda d, n: calls.append((d, n))
    )
    assert 1 <= len(calls) <= 21 and calls[-1] == (9, 9)
    stop = threading.Event()
    stop.set()
    x, y, bad = decode_to_tensor(images, np.arange(len(images)), GRAY32, should_stop=stop)
    assert len(x) == len(y) == 0 and bad == []


@pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="one CPU: decoding is serial by design")
def test_decode_many_files_uses_threads_and_keeps_order(tmp_path, monkeypatch):
    import tlgui.core.data.decode as decode_module

    for i in range(40):
        corpus.save(tmp_path / "a" / f"{i:02}.png", Image.new("L", (8, 8), i))
        corpus.save(tmp_path / "b" / f"{i:02}.png", Image.new("L", (8, 8), 100 + i))
    images = open_source(str(tmp_path))
    prep = Preprocessing(resize=8, crop=8, channels=1)
    raw, lock, first, threads = decode_module._load_raw, threading.Lock(), [], set()
    # the first two files meet at a barrier: only two threads decoding at once get past it
    # (one thread would wait for itself, time out, and the file would be reported bad)
    meet = threading.Barrier(2, timeout=30)

    def recorded(images, index, prep=None):
        with lock:
            threads.add(threading.current_thread())
            wait = len(first) < 2
            if wait:
                first.append(index)
        if wait:
            meet.wait()
        return raw(images, index, prep)

    monkeypatch.setattr(decode_module, "_load_raw", recorded)
    x, y, bad = decode_to_tensor(images, np.arange(80)[::-1].copy(), prep, cache=None)
    assert bad == [] and x.shape == (80, 1, 8, 8)
    assert len(threads) >= 2 and threading.main_thread() not in threads
    assert x[:, 0, 0, 0].tolist() == [100 + i for i in range(39, -1, -1)] + list(range(39, -1, -1))
    assert y.tolist() == [1] * 40 + [0] * 40


def test_lazy_dataset_substitutes_bad_files(odd):
    root, f = odd
    images = open_source(str(root))
    dogs = np.flatnonzero(images.labels == 1)
    dataset = LazyImageDataset(images, dogs, GRAY32)
    items = [dataset[i] for i in range(len(dataset))]
    assert len(items) == 5
    assert all(
        t.shape == (1, 32, 32) and t.dtype == torch.uint8 and label == 1 for t, label in items
    )
    assert dataset.bad == [(str(f["truncated"]), "truncated or corrupt image data")]
    bad_position = [images.paths[i] for i in dogs].index(str(f["truncated"]))
    dataset[bad_position]  # known bad: substituted again, recorded once
    assert len(dataset.bad) == 1
    loader = torch.utils.data.DataLoader(dataset, batch_size=5)
    assert next(iter(loader))[0].shape == (5, 1, 32, 32)


def test_in_memory_fast_path_matches_pil(tmp_path):
    rng = np.random.default_rng(0)
    colour = rng.integers(0, 256, (6, 8, 8, 3), dtype=np.uint8)
    grey = rng.integers(0, 256, (6, 8, 8), dtype=np.uint8)
    labels = np.array([0, 1, 0, 1, 0, 1])
    for arrays in (colour, grey):
        images = ImageSet("mem", ["a", "b"], labels, arrays=arrays, origin="mem.idx")
        for channels in (1, 3):
            prep = Preprocessing(resize=8, crop=8, channels=channels)
            fast, y, bad = decode_to_tensor(images, np.arange(6), prep)
            slow = np.stack([prep.load_image(images.load(i)) for i in range(6)])
            assert bad == [] and np.array_equal(fast.numpy(), slow), (arrays.ndim, channels)
            assert y.tolist() == labels.tolist()
        resized, _, _ = decode_to_tensor(images, np.arange(3), RGB32)
        assert resized.shape == (3, 3, 32, 32)
    assert images.describe(4) == "mem.idx #4"


def test_fits_in_memory():
    assert fits_in_memory(1000, GRAY32)
    assert not fits_in_memory(100_000, Preprocessing(resize=256, crop=224, channels=3))
    assert fits_in_memory(10, RGB32, budget_bytes=10 * 3 * 32 * 32)


def _single_class(tmp_path):
    corpus.rgb(tmp_path / "only" / "a.png")
    return tmp_path


def _all_unreadable(tmp_path):
    corpus.zero_bytes(tmp_path / "a" / "x.png")
    corpus.not_an_image(tmp_path / "b" / "y.jpg")
    return tmp_path


def _csv_missing_columns(tmp_path):
    path = tmp_path / "list.csv"
    path.write_text("file,class\na.png,cat\n")
    return path


@pytest.mark.parametrize(
    ("build", "words"),
    [
        (lambda p: p / "nope", "not found"),
        (lambda p: corpus.rgb(p / "file.png"), "not a folder"),
        (lambda p: p, "no class sub-folders"),
        (lambda p: (corpus.not_an_image(p / "a" / "x.txt"), p)[1], "no class sub-folders"),
        (_single_class, "only one class"),
        (_all_unreadable, "could be read"),
        (_csv_missing_columns, "'path' and 'label'"),
        (lambda p: p / "missing.csv", "not found"),
    ],
    ids=[
        "missing",
        "file",
        "empty",
        "no-images",
        "one-class",
        "unreadable",
        "csv-columns",
        "csv-missing",
    ],
)
def test_errors_name_the_path(tmp_path, build, words):
    path = build(tmp_path)
    with pytest.raises(DataError) as info:
        open_source(str(path))
    message = str(info.value)
    assert str(path) in message and words in message
    assert "\n" not in message


def test_unknown_torchvision_name_lists_known(tmp_path):
    with pytest.raises(DataError, match="known: MNIST, FashionMNIST"):
        open_source(f"torchvision:ImageNet22k:{tmp_path}")


def test_split_folders(tmp_path):
    for split in ("train", "val"):
        for cls in ("ants", "bees"):
            corpus.rgb(tmp_path / split / cls / "1.png")
            corpus.rgb(tmp_path / split / cls / "2.png")
    assert open_source(str(tmp_path), "train").paths[0].startswith(str(tmp_path / "train"))
    assert open_source(str(tmp_path), "test").paths[0].startswith(str(tmp_path / "val"))


def test_csv_manifest(tmp_path):
    corpus.rgb(tmp_path / "img" / "a.png")
    corpus.gray(tmp_path / "img" / "b.png")
    corpus.rgb(tmp_path / "img" / "c.png")
    corpus.zero_bytes(tmp_path / "img" / "z.png")
    outside = corpus.rgb(tmp_path / "elsewhere" / "d.png")
    (tmp_path / "lists").mkdir()
    manifest = tmp_path / "lists" / "train.csv"
    manifest.write_text(
        "path,label,comment\n"
        "../img/a.png,10,x\n"
        "../img/b.png,2,\n"
        f"{outside},2,absolute\n"
        "../img/gone.png,2,\n"
        "../img/z.png,10,\n"
        "\n"
        "../img/c.png,,no label\n"
    )
    images = open_source(str(manifest))
    assert images.classes == ["2", "10"]  # numeric labels in numeric order
    assert images.counts() == {"2": 2, "10": 1}
    assert images.paths[0] == str(tmp_path / "img" / "a.png")
    reasons = dict(images.skipped)
    assert reasons[str(tmp_path / "img" / "gone.png")] == "file not found"
    assert reasons[str(tmp_path / "img" / "z.png")] == "empty file (0 bytes)"
    assert f"{manifest} line 8" in reasons
    assert len(open_source(f"csv:{manifest}")) == 3


def test_demo_source(monkeypatch):
    def fake(kind, seed=0, split="train"):
        n = 6 if split == "train" else 4
        return np.zeros((n, 28, 28), np.uint8), np.arange(n) % 2, [f"{kind}0", f"{kind}1"]

    monkeypatch.setattr("tlgui.core.data.demo_images.make_demo", fake)
    train = open_source("demo:target")
    assert train.classes == ["target0", "target1"] and len(train) == 6
    assert train.arrays.shape == (6, 28, 28) and train.paths is None
    assert len(open_source("demo:source", split="test")) == 4
    assert "#3" in train.describe(3)
    with pytest.raises(DataError, match="demo:nothing"):
        open_source("demo:nothing")


def test_stratified_split_is_seeded_and_balanced():
    labels = np.array([0] * 50 + [1] * 10 + [2] * 2 + [3] * 1)
    train, val = stratified_split(labels, 0.2, seed=3)
    again = stratified_split(labels, 0.2, seed=3)
    assert np.array_equal(train, again[0]) and np.array_equal(val, again[1])
    assert not np.array_equal(val, stratified_split(labels, 0.2, seed=4)[1])
    assert sorted(np.concatenate([train, val]).tolist()) == list(range(len(labels)))
    assert np.bincount(labels[val], minlength=4).tolist() == [10, 2, 1, 0]
    assert np.bincount(labels[train], minlength=4).tolist() == [40, 8, 1, 1]
    with pytest.raises(ValueError, match="between 0 and 1, got 1.0"):
        stratified_split(labels, 1.0, 0)


def test_stratified_subset_keeps_proportions():
    labels = np.array([0] * 600 + [1] * 300 + [2] * 100 + [3] * 2)
    keep = stratified_subset(labels, 100, seed=0)
    assert len(keep) == 100 and len(set(keep.tolist())) == 100
    counts = np.bincount(labels[keep], minlength=4)
    assert counts[3] >= 1 and abs(counts[0] - 60) <= 2 and abs(counts[1] - 30) <= 2
    assert np.array_equal(keep, stratified_subset(labels, 100, seed=0))
    assert len(stratified_subset(labels, 5000, seed=0)) == len(labels)


def test_imbalance_warning():
    assert class_imbalance_warning({"a": 10, "b": 30}) is None
    text = class_imbalance_warning({"a": 10, "b": 31, "c": 0})
    assert "'b'" in text and "'a'" in text
    assert class_imbalance_warning({"a": 5}) is None


def test_imbalanced_folder_warns(tmp_path):
    for i in range(8):
        corpus.gray(tmp_path / "many" / f"{i}.png", (8, 8))
    corpus.gray(tmp_path / "few" / "0.png", (8, 8))
    images = open_source(str(tmp_path))
    assert any("imbalanced" in w for w in images.warnings)
