"""Downloads only when asked, never the real network: every test injects a fake opener."""

from __future__ import annotations

import hashlib
import os
import socket
import threading
import urllib.error
import urllib.request
from email.message import Message

import pytest
import torchvision

from tlgui.cli import main
from tlgui.core.base.cancel import Cancelled
from tlgui.core.base.download import DownloadError, download_file
from tlgui.core.base.errors import TlguiError, WeightsError
from tlgui.core.library.download import download_weights
from tlgui.core.library.local import default_weights_path
from tlgui.paths import weights_dir

from ..fakes import FakeResponse

ENTRY = torchvision.models.MobileNet_V3_Small_Weights.IMAGENET1K_V1
PAYLOAD = os.urandom(3 * 2**20 + 123)
SHA = hashlib.sha256(PAYLOAD).hexdigest()




class Opener:
    def __init__(self, response=None, error=None):
        self.response = response
        self.error = error
        self.requests = []

    def __call__(self, request, timeout=None):
        self.requests.append((request.full_url, timeout))
        if self.error is not None:
            raise self.error
        return self.response


@pytest.fixture
def published(monkeypatch):
    """Pretend torchvision publishes PAYLOAD as mobilenet_v3_small IMAGENET1K_V1."""
    name = f"mobilenet_v3_small-{SHA[:8]}.pth"
    monkeypatch.setattr(ENTRY.value, "url", f"https://download.pytorch.org/models/{name}")
    return name


def library_files():
    root = weights_dir()
    return sorted(p.name for p in root.rglob("*") if p.is_file()) if root.exists() else []


def test_download_success_with_progress_then_default_finds_it(published):
    opener = Opener(FakeResponse(PAYLOAD))
    calls = []
    result = download_weights("mobilenet_v3_small", progress=lambda d, t: calls.append((d, t)), opener=opener)
    assert opener.requests[0][0] == f"https://download.pytorch.org/models/{published}"
    assert 0 < opener.requests[0][1] <= 10  # a short timeout is always set
    assert result.path == weights_dir() / published and result.path.read_bytes() == PAYLOAD
    assert not result.already_present and result.entry == "IMAGENET1K_V1"
    assert calls[0] == (0, len(PAYLOAD)) and calls[-1] == (len(PAYLOAD), len(PAYLOAD))
    assert [d for d, _ in calls] == sorted(d for d, _ in calls)
    assert opener.response.closed
    assert library_files() == [published]
    assert default_weights_path("mobilenet_v3_small")[0] == result.path
    # asked again: nothing is downloaded
    again = download_weights("mobilenet_v3_small", opener=Opener(error=AssertionError("no network use")))
    assert again.already_present and again.path == result.path


def test_download_without_content_length(tmp_path):
    name = f"thing-{SHA[:8]}.pth"
    calls = []
    path = download_file(f"https://example.org/{name}", tmp_path, progress=lambda d, t: calls.append(t),
                         opener=Opener(FakeResponse(PAYLOAD, length=None)))
    assert path.read_bytes() == PAYLOAD and set(calls) == {None}


def test_cancel_midway_leaves_nothing(published):
    response = FakeResponse(PAYLOAD)
    # the GUI passes a threading.Event; any callable works too
    with pytest.raises(Cancelled, match="nothing was saved"):
        download_weights("mobilenet_v3_small", cancel=lambda: response.pos >= 2**20, opener=Opener(response))
    assert 0 < response.pos < len(PAYLOAD)  # stopped midway
    assert library_files() == []  # no temp file, nothing in the library
    assert response.closed


def test_cancel_while_connecting(published):
    release = threading.Event()

    def slow_opener(request, timeout=None):
        release.wait(10)
        raise urllib.error.URLError("late")

    cancel = threading.Event()
    threading.Timer(0.2, cancel.set).start()
    try:
        with pytest.raises(Cancelled):
            download_weights("mobilenet_v3_small", cancel=cancel, opener=slow_opener, timeout=30)
        cancelled_while_connecting = not release.is_set()  # the connection was not waited for
    finally:
        release.set()
    assert cancelled_while_connecting


def test_hash_mismatch_is_refused():
    # the real resnet18 entry expects f37072fd...; our payload is something else
    with pytest.raises(DownloadError, match="checksum does not match") as info:
        download_weights("resnet18", opener=Opener(FakeResponse(PAYLOAD)))
    assert "nothing was saved" in str(info.value)
    assert library_files() == []


@pytest.mark.parametrize(
    "error",
    [
        urllib.error.URLError(socket.gaierror(-3, "Temporary failure in name resolution")),
        urllib.error.URLError(ConnectionRefusedError(111, "Connection refused")),
        TimeoutError("timed out"),
        OSError(101, "Network is unreachable"),
    ],
)
def test_offline_fails_fast_with_a_clear_message(error):
    opener = Opener(error=error)
    with pytest.raises(DownloadError) as info:
        download_weights("resnet18", opener=opener)
    assert len(opener.requests) == 1  # no retries, no waiting
    text = str(info.value)
    assert text.startswith("cannot reach download.pytorch.org: no network connection?")
    assert "resnet18-f37072fd.pth" in text and "tlgui weights import" in text
    assert library_files() == []


def test_a_hanging_connection_gives_up_within_the_deadline():
    release = threading.Event()

    def hanging(request, timeout=None):
        release.wait(30)  # a resolver that never answers
        raise urllib.error.URLError("too late")

    try:
        with pytest.raises(DownloadError, match="cannot reach download.pytorch.org: no network connection"):
            download_weights("resnet18", opener=hanging, timeout=0.3)
        gave_up_while_hanging = not release.is_set()  # the resolver's late answer was not awaited
    finally:
        release.set()
    assert gave_up_while_hanging
    assert library_files() == []


def test_http_error_stalled_and_truncated_downloads(published):
    not_found = urllib.error.HTTPError("u", 404, "Not Found", Message(), None)
    with pytest.raises(DownloadError, match="answered HTTP 404"):
        download_weights("mobilenet_v3_small", opener=Opener(error=not_found))
    stalled = FakeResponse(PAYLOAD, fail_at=2**20, error=TimeoutError("timed out"))
    with pytest.raises(DownloadError, match="stalled"):
        download_weights("mobilenet_v3_small", opener=Opener(stalled))
    reset = FakeResponse(PAYLOAD, fail_at=2**20, error=ConnectionResetError(104, "Connection reset by peer"))
    with pytest.raises(DownloadError, match="broke off after 1.0 MB"):
        download_weights("mobilenet_v3_small", opener=Opener(reset))
    with pytest.raises(DownloadError, match="ended early"):
        download_weights("mobilenet_v3_small", opener=Opener(FakeResponse(PAYLOAD, length=len(PAYLOAD) + 10)))
    assert library_files() == []


def test_unknown_names_are_refused_before_any_network_use():
    opener = Opener(error=AssertionError("must not connect"))
    with pytest.raises(TlguiError, match="unknown model"):
        download_weights("resnet1800", opener=opener)
    with pytest.raises(WeightsError, match="no weights entry"):
        download_weights("resnet18", "IMAGENET22K", opener=opener)
    with pytest.raises(WeightsError, match="no pretrained weights"):
        download_weights("smallcnn", opener=opener)
    assert opener.requests == []


def test_cli_download_offline_exits_1_quickly(monkeypatch, capsys):
    def offline(request, timeout=None):
        raise urllib.error.URLError(socket.gaierror(-2, "Name or service not known"))

    calls = []
    monkeypatch.setattr(urllib.request, "urlopen", lambda request, timeout=None: calls.append(1) or offline(request))
    assert main(["weights", "download", "resnet18", "--entry", "IMAGENET1K_V1"]) == 1
    assert len(calls) == 1  # no retries
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("tlgui: error: cannot reach download.pytorch.org: no network connection?")
    assert main(["weights", "download", "resnet1800"]) == 2
    assert "unknown model" in capsys.readouterr().err


def test_cli_download_success(monkeypatch, capsys, published):
    monkeypatch.setattr(urllib.request, "urlopen", Opener(FakeResponse(PAYLOAD)))
    assert main(["weights", "download", "mobilenet_v3_small"]) == 0
    out = capsys.readouterr()
    assert "downloaded mobilenet_v3_small IMAGENET1K_V1" in out.out
    assert "100.0%" in out.err
    assert library_files() == [published]


def test_a_damaged_local_copy_is_reported_not_trusted(published):
    weights_dir().mkdir(parents=True)
    (weights_dir() / published).write_bytes(b"half a file")
    opener = Opener(error=AssertionError("must not connect"))
    with pytest.raises(WeightsError, match="is damaged: the checksum does not match.*delete it"):
        download_weights("mobilenet_v3_small", opener=opener)
    assert opener.requests == [] and (weights_dir() / published).read_bytes() == b"half a file"
