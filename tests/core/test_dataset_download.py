"""Built-in data set downloads: fake servers only, MD5 checked, nothing left behind on failure."""

from __future__ import annotations

import hashlib
import io
import pickle
import socket
import tarfile
import threading
import urllib.error
import urllib.request
from email.message import Message
from pathlib import Path

import numpy as np
import pytest
import torchvision.datasets as tvd

from tlgui.core.base.cancel import Cancelled
from tlgui.core.base.download import DownloadError
from tlgui.core.base.errors import DataError
from tlgui.core.data.catalog import open_source
from tlgui.core.data.dataset_download import (
    DownloadProgress,
    candidate_roots,
    dataset_files,
    default_root,
    download_dataset,
    remember_root,
    remembered_roots,
)
from tlgui.core.data.idx import write_idx

from ..fakes import FakeResponse


class Server:
    """url -> bytes; anything else is a 404 (a reachable server without the file)."""

    def __init__(self, files: dict[str, bytes], on_read=None):
        self.files, self.on_read, self.requests = files, on_read, []

    def __call__(self, request, timeout=None):
        self.requests.append(request.full_url)
        assert timeout is not None and timeout <= 10
        if request.full_url not in self.files:
            raise urllib.error.HTTPError(request.full_url, 404, "Not Found", Message(), None)
        return FakeResponse(self.files[request.full_url], on_read=self.on_read, block=4096)


def idx_gz(array: np.ndarray, tmp: Path, name: str) -> bytes:
    path = tmp / name
    write_idx(path, array)
    return path.read_bytes()


def publish_fake_fashion(monkeypatch, made: Path, train: int = 60, test: int = 20) -> dict[str, bytes]:
    """Small IDX .gz files published as FashionMNIST (torchvision's md5s replaced by ours);
    returns url -> bytes for a :class:`Server`."""
    rng = np.random.default_rng(0)
    made.mkdir(parents=True, exist_ok=True)
    blobs = {
        "train-images-idx3-ubyte.gz": idx_gz(rng.integers(0, 256, (train, 28, 28), dtype=np.uint8), made, "a.gz"),
        "train-labels-idx1-ubyte.gz": idx_gz(np.arange(train, dtype=np.uint8) % 10, made, "b.gz"),
        "t10k-images-idx3-ubyte.gz": idx_gz(rng.integers(0, 256, (test, 28, 28), dtype=np.uint8), made, "c.gz"),
        "t10k-labels-idx1-ubyte.gz": idx_gz(np.arange(test, dtype=np.uint8) % 10, made, "d.gz"),
    }
    monkeypatch.setattr(
        tvd.FashionMNIST, "resources", [(n, hashlib.md5(b).hexdigest()) for n, b in blobs.items()]
    )
    mirror = tvd.FashionMNIST.mirrors[0]
    return {mirror + n: b for n, b in blobs.items()}


@pytest.fixture
def fashion(monkeypatch, tmp_path):
    return publish_fake_fashion(monkeypatch, tmp_path / "made")


def test_published_metadata_is_read_from_torchvision():
    mnist = dataset_files("mnist")
    assert [f.file_name for f in mnist][0] == "train-images-idx3-ubyte.gz"
    assert len(mnist[0].urls) == len(tvd.MNIST.mirrors) and mnist[0].folder == "MNIST/raw"
    assert mnist[0].md5 == tvd.MNIST.resources[0][1]
    cifar = dataset_files("CIFAR10")
    assert cifar[0].urls == (tvd.CIFAR10.url,) and cifar[0].extract == "cifar-10-batches-py"
    assert [f.file_name for f in dataset_files("SVHN")] == ["train_32x32.mat", "test_32x32.mat"]
    with pytest.raises(DataError, match="unknown built-in data set 'imagenet'"):
        dataset_files("imagenet")


def test_idx_download_verifies_md5_and_opens(tmp_path, fashion):
    server = Server(fashion)
    seen: list[DownloadProgress] = []
    result = download_dataset("fashionmnist", tmp_path / "data", progress=seen.append, opener=server)
    raw = tmp_path / "data" / "FashionMNIST" / "raw"
    assert sorted(p.name for p in raw.iterdir()) == sorted(n.rsplit("/", 1)[1] for n in fashion)
    assert result.spec == f"torchvision:FashionMNIST:{tmp_path / 'data'}"
    assert len(result.downloaded) == 4 and result.bytes == sum(len(b) for b in fashion.values())
    train, test = open_source(result.spec, "train"), open_source(result.spec, "test")
    assert (len(train), len(test)) == (60, 20) and train.classes[0] == "T-shirt/top"
    assert {p.index for p in seen} == {0, 1, 2, 3} and {p.count for p in seen} == {4}
    assert {p.stage for p in seen} >= {"download", "verify"}
    assert [p.name for p in (tmp_path / "data").iterdir()] == ["FashionMNIST"]  # no staging left
    # again: every file is there and intact, nothing is fetched
    again = download_dataset("FashionMNIST", tmp_path / "data", opener=Server({}))
    assert again.downloaded == [] and len(again.skipped) == 4


def test_md5_mismatch_is_refused_and_nothing_is_left(tmp_path, fashion):
    bad = dict(fashion)
    first = next(iter(bad))
    bad[first] = bad[first][:-1] + bytes([bad[first][-1] ^ 0xFF])
    with pytest.raises(DownloadError, match="does not match the checksum torchvision publishes"):
        download_dataset("FashionMNIST", tmp_path / "data", opener=Server(bad))
    assert list((tmp_path / "data").iterdir()) == []


def test_second_mirror_is_tried_when_the_first_lacks_the_file(monkeypatch, tmp_path, fashion):
    monkeypatch.setattr(tvd.FashionMNIST, "mirrors", ["https://gone.example/", tvd.FashionMNIST.mirrors[0]])
    server = Server(fashion)
    download_dataset("FashionMNIST", tmp_path, opener=server)
    assert server.requests[0].startswith("https://gone.example/") and len(server.requests) == 8


def test_offline_gives_a_plain_message_fast(tmp_path):
    def offline(request, timeout=None):
        raise urllib.error.URLError(socket.gaierror(-3, "Temporary failure in name resolution"))

    calls = []

    def counted(request, timeout=None):
        calls.append(request)
        offline(request, timeout)

    with pytest.raises(DownloadError) as info:
        download_dataset("MNIST", tmp_path, opener=counted)
    message = str(info.value)
    assert len(calls) == len(tvd.MNIST.mirrors)  # one attempt per mirror: no retries, no waits
    assert "no network connection?" in message and "Temporary failure in name resolution" in message
    assert "train-images-idx3-ubyte.gz" in message and "Locate folder" in message
    assert "weights import" not in message
    assert list(tmp_path.iterdir()) == []


def test_a_resolver_that_never_answers_is_cut_short(tmp_path):
    release = threading.Event()

    def hang(request, timeout=None):
        release.wait(20)
        raise urllib.error.URLError("late")

    calls = []

    def counted(request, timeout=None):
        calls.append(request)
        hang(request, timeout)

    try:
        with pytest.raises(DownloadError, match=r"no answer within 0.3 s"):
            download_dataset("MNIST", tmp_path, opener=counted, timeout=0.3)
        cut_short = not release.is_set()  # the hanging resolver was never waited for
    finally:
        release.set()
    assert cut_short and len(calls) == 1  # the second mirror is not waited for too


def test_cancel_midway_leaves_nothing(tmp_path, fashion):
    cancel = threading.Event()

    def stop_after_some(response):
        if response.pos > 2000:
            cancel.set()

    with pytest.raises(Cancelled):
        download_dataset("FashionMNIST", tmp_path / "d", cancel=cancel, opener=Server(fashion, stop_after_some))
    assert list((tmp_path / "d").iterdir()) == []


def cifar_archive(tmp_path: Path, extra: tarfile.TarInfo | None = None) -> bytes:
    rng = np.random.default_rng(1)
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:

        def add(name: str, obj) -> None:
            data = pickle.dumps(obj)
            info = tarfile.TarInfo(f"cifar-10-batches-py/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))

        for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
            add(name, {b"data": rng.integers(0, 256, (4, 3072), dtype=np.uint8), b"labels": [0, 1, 2, 1]})
        add("batches.meta", {b"label_names": [b"plane", b"car", b"bird"]})
        if extra is not None:
            tar.addfile(extra, io.BytesIO(b"x" * extra.size))
    return buffer.getvalue()


def test_cifar_archive_is_verified_and_unpacked(monkeypatch, tmp_path):
    blob = cifar_archive(tmp_path)
    monkeypatch.setattr(tvd.CIFAR10, "tgz_md5", hashlib.md5(blob).hexdigest())
    result = download_dataset("CIFAR10", tmp_path / "root", opener=Server({tvd.CIFAR10.url: blob}))
    assert sorted(p.name for p in (tmp_path / "root").iterdir()) == ["cifar-10-batches-py"]
    train = open_source(result.spec, "train")
    assert len(train) == 20 and train.classes == ["plane", "car", "bird"]
    again = download_dataset("CIFAR10", tmp_path / "root", opener=Server({}))
    assert again.skipped == ["cifar-10-python.tar.gz"]


def test_archive_escaping_its_folder_is_refused(monkeypatch, tmp_path):
    evil = tarfile.TarInfo("../../evil.txt")
    evil.size = 3
    blob = cifar_archive(tmp_path, evil)
    monkeypatch.setattr(tvd.CIFAR10, "tgz_md5", hashlib.md5(blob).hexdigest())
    with pytest.raises(DownloadError, match="cannot unpack cifar-10-python.tar.gz"):
        download_dataset("CIFAR10", tmp_path / "root", opener=Server({tvd.CIFAR10.url: blob}))
    assert list((tmp_path / "root").iterdir()) == []
    assert not (tmp_path / "evil.txt").exists()


def test_remembered_roots(tmp_path):
    assert remembered_roots() == {}
    remember_root("fashionmnist", tmp_path)
    remember_root("MNIST", tmp_path / "m")
    assert remembered_roots() == {"FashionMNIST": str(tmp_path), "MNIST": str(tmp_path / "m")}
    default_root().mkdir(parents=True)
    roots = candidate_roots("FashionMNIST")
    assert roots[:2] == [tmp_path, default_root()]  # then Debian's folder, when installed
    assert candidate_roots("MNIST") == [default_root()]  # remembered folder does not exist
