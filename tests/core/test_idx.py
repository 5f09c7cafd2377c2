"""IDX files and in-memory sources (IDX folders, torchvision layouts, CIFAR pickles)."""

from __future__ import annotations

import gzip
import os
import pickle
from pathlib import Path

import numpy as np
import pytest

from tlgui.core.base.errors import DataError
from tlgui.core.base.preprocessing import Preprocessing
from tlgui.core.data.catalog import open_source
from tlgui.core.data.decode import decode_to_tensor
from tlgui.core.data.idx import find_idx_pair, is_idx_folder, read_idx, write_idx
from tlgui.core.data.sources import FASHION_CLASSES

REAL_FASHION = Path("/usr/share/datasets/fashion-mnist")


def make_split(
    folder: Path, prefix: str, n: int, classes: int = 10, gz: bool = False, sep: str = "-"
):
    """Write ``prefix``-images/labels IDX files with labels 0..classes-1 repeating."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(n)
    images = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
    labels = (np.arange(n) % classes).astype(np.uint8)
    ext = ".gz" if gz else ""
    write_idx(folder / f"{prefix}{sep}images{'.' if sep == '.' else '-'}idx3-ubyte{ext}", images)
    write_idx(folder / f"{prefix}{sep}labels{'.' if sep == '.' else '-'}idx1-ubyte{ext}", labels)
    return images, labels


def make_mnist_like(folder: Path, gz: bool = False, classes: int = 10, sep: str = "-"):
    train = make_split(folder, "train", 30, classes, gz, sep)
    test = make_split(folder, "t10k", 20, classes, gz, sep)
    return train, test


@pytest.mark.parametrize("name", ["a-idx3-ubyte", "a-idx3-ubyte.gz"])
def test_round_trip(tmp_path, name):
    array = np.random.default_rng(0).integers(0, 256, (5, 7, 3), dtype=np.uint8)
    write_idx(tmp_path / name, array)
    assert np.array_equal(read_idx(tmp_path / name), array)
    if name.endswith(".gz"):
        assert (tmp_path / name).read_bytes()[:2] == b"\x1f\x8b"
    ints = np.array([-3, 70000, 5], dtype=np.int32)
    write_idx(tmp_path / "ints", ints)
    back = read_idx(tmp_path / "ints")
    assert back.dtype == np.int32 and back.tolist() == [-3, 70000, 5]


def test_bad_files_name_themselves(tmp_path):
    good = tmp_path / "good-idx3-ubyte"
    write_idx(good, np.zeros((4, 5, 5), np.uint8))
    raw = good.read_bytes()
    cut = tmp_path / "cut-idx3-ubyte"
    cut.write_bytes(raw[:-7])
    with pytest.raises(DataError, match=r"cut-idx3-ubyte is truncated"):
        read_idx(cut)
    cut_gz = tmp_path / "cut-idx3-ubyte.gz"
    cut_gz.write_bytes(gzip.compress(raw)[:-30])
    with pytest.raises(DataError, match=r"cut-idx3-ubyte\.gz is truncated"):
        read_idx(cut_gz)
    header_only = tmp_path / "head-idx3-ubyte"
    header_only.write_bytes(raw[:6])
    with pytest.raises(DataError, match="head-idx3-ubyte is truncated"):
        read_idx(header_only)
    junk = tmp_path / "junk-idx1-ubyte"
    junk.write_bytes(b"PK\x03\x04 something else")
    with pytest.raises(DataError, match="junk-idx1-ubyte is not an IDX file"):
        read_idx(junk)
    extra = tmp_path / "extra-idx3-ubyte"
    extra.write_bytes(raw + b"\x00\x00")
    with pytest.raises(DataError, match="extra-idx3-ubyte has 2 unexpected bytes"):
        read_idx(extra)
    with pytest.raises(DataError, match="not found"):
        read_idx(tmp_path / "nothing-idx3-ubyte")


@pytest.mark.parametrize("gz", [False, True])
def test_open_idx_folder_both_splits(tmp_path, gz):
    folder = tmp_path / "digits"
    (train_x, train_y), (test_x, _) = make_mnist_like(folder, gz=gz)
    train = open_source(str(folder))
    assert len(train) == 30 and train.classes == [str(i) for i in range(10)]
    assert train.paths is None and np.array_equal(train.arrays, train_x)
    assert train.labels.dtype == np.int64 and np.array_equal(train.labels, train_y)
    assert train.describe(17) == f"train-images-idx3-ubyte{'.gz' if gz else ''} #17"
    assert train.channels() == 1
    test = open_source(str(folder), split="test")
    assert len(test) == 20 and np.array_equal(test.arrays, test_x)
    image = train.load(3)
    assert image.mode == "L" and image.size == (28, 28)
    x, y, bad = decode_to_tensor(train, np.arange(30), Preprocessing(28, 28, 1))
    assert x.shape == (30, 1, 28, 28) and bad == [] and np.array_equal(x[:, 0].numpy(), train_x)


def test_class_names(tmp_path):
    fashion = tmp_path / "My-Fashion-Data"
    make_mnist_like(fashion)
    assert open_source(str(fashion)).classes == FASHION_CLASSES
    custom = tmp_path / "letters"
    make_mnist_like(custom, classes=3)
    assert open_source(str(custom)).classes == ["0", "1", "2"]
    (custom / "classes.txt").write_text("alpha\nbeta\n\ngamma\n")
    assert open_source(str(custom)).classes == ["alpha", "beta", "gamma"]
    (fashion / "classes.txt").write_text("\n".join(f"c{i}" for i in range(10)))
    assert open_source(str(fashion)).classes[0] == "c0"  # classes.txt wins over the path
    (custom / "classes.txt").write_text("alpha\nbeta\n")
    with pytest.raises(DataError, match="classes.txt lists 2 class names"):
        open_source(str(custom))


def test_dotted_names_and_torchvision_layout(tmp_path):
    dotted = tmp_path / "dotted"
    make_mnist_like(dotted, sep=".")
    assert len(open_source(str(dotted))) == 30
    root = tmp_path / "tv"
    (train_x, _), _ = make_mnist_like(root / "FashionMNIST" / "raw", gz=True)
    assert is_idx_folder(root)  # <root>/<Name>/raw/ found by auto-detection
    auto = open_source(str(root))
    assert auto.classes == FASHION_CLASSES and np.array_equal(auto.arrays, train_x)
    named = open_source(f"torchvision:FashionMNIST:{root}", split="test")
    assert len(named) == 20 and named.classes == FASHION_CLASSES
    assert open_source(f"torchvision:fashionmnist:{root}").name.startswith("torchvision:")
    make_mnist_like(root / "KMNIST" / "raw")
    assert open_source(f"torchvision:KMNIST:{root}").classes[:2] == ["o", "ki"]


def test_missing_and_mismatched_files(tmp_path):
    with pytest.raises(DataError) as info:
        open_source(f"torchvision:MNIST:{tmp_path}")
    message = str(info.value)
    assert str(tmp_path) in message and "train-images-idx3-ubyte" in message
    make_split(tmp_path / "half", "train", 10)
    with pytest.raises(DataError, match="t10k-images-idx3-ubyte"):
        open_source(str(tmp_path / "half"), split="test")
    (tmp_path / "half" / "train-labels-idx1-ubyte").unlink()
    with pytest.raises(DataError, match="labels file"):
        find_idx_pair(tmp_path / "half", "train")
    write_idx(tmp_path / "half" / "train-labels-idx1-ubyte", np.zeros(9, np.uint8))
    with pytest.raises(DataError, match="holds 10 images but .* holds 9 labels"):
        open_source(str(tmp_path / "half"))
    write_idx(tmp_path / "half" / "train-labels-idx1-ubyte", np.zeros(10, np.uint8))
    with pytest.raises(DataError, match="only one class"):
        open_source(str(tmp_path / "half"))
    cut = tmp_path / "cut"
    make_mnist_like(cut)
    raw = (cut / "train-images-idx3-ubyte").read_bytes()
    (cut / "train-images-idx3-ubyte").write_bytes(raw[:1000])
    with pytest.raises(DataError, match="train-images-idx3-ubyte is truncated"):
        open_source(str(cut))


def _write_cifar(folder: Path, name_key: str = "label_names"):
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for i in range(1, 6):
        batch = {
            b"data": rng.integers(0, 256, (4, 3072), dtype=np.uint8),
            b"labels": [0, 1, 2, i % 3],
        }
        (folder / f"data_batch_{i}").write_bytes(pickle.dumps(batch))
    test = {b"data": rng.integers(0, 256, (3, 3072), dtype=np.uint8), b"labels": [2, 1, 0]}
    (folder / "test_batch").write_bytes(pickle.dumps(test))
    (folder / "batches.meta").write_bytes(
        pickle.dumps({b"label_names": [b"plane", b"car", b"bird"]})
    )
    return test


def test_cifar_read_without_torchvision_checks(tmp_path):
    test = _write_cifar(tmp_path / "cifar-10-batches-py")
    train = open_source(f"torchvision:CIFAR10:{tmp_path}")
    assert len(train) == 20 and train.classes == ["plane", "car", "bird"]
    assert train.arrays.shape == (20, 32, 32, 3) and train.channels() == 3
    held_out = open_source(f"torchvision:cifar10:{tmp_path / 'cifar-10-batches-py'}", split="test")
    expected = test[b"data"].reshape(3, 3, 32, 32).transpose(0, 2, 3, 1)
    assert np.array_equal(held_out.arrays, expected) and held_out.labels.tolist() == [2, 1, 0]
    x, _, _ = decode_to_tensor(held_out, np.arange(3), Preprocessing(32, 32, 3))
    assert np.array_equal(x.numpy(), test[b"data"].reshape(3, 3, 32, 32))


def test_cifar_pickle_with_code_is_refused(tmp_path):
    folder = tmp_path / "cifar-10-batches-py"
    _write_cifar(folder)
    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            return (os.mkdir, (str(marker),))

    (folder / "data_batch_3").write_bytes(pickle.dumps({b"data": Evil(), b"labels": []}))
    with pytest.raises(DataError, match="data_batch_3 is not a CIFAR batch file"):
        open_source(f"torchvision:CIFAR10:{tmp_path}")
    assert not marker.exists()


def test_cifar_missing_files(tmp_path):
    with pytest.raises(DataError, match=r"cifar-100-python .*missing: train, meta"):
        open_source(f"torchvision:CIFAR100:{tmp_path}")


@pytest.mark.skipif(not REAL_FASHION.is_dir(), reason="Fashion-MNIST not installed")
def test_real_fashion_mnist():
    train = open_source(str(REAL_FASHION))
    test = open_source(str(REAL_FASHION), split="test")
    assert len(train) == 60000 and len(test) == 10000
    assert train.classes == FASHION_CLASSES and len(train.classes) == 10
    assert train.arrays.shape == (60000, 28, 28)
    assert set(train.counts().values()) == {6000}
