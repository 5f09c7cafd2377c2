"""Downloading published weights, only when the user asks for it.

The file streams into a temp file next to its destination, its SHA-256 is checked against
the prefix in torchvision's file name, and only then is it moved into the library with
``os.replace``: a cancelled, failed or corrupt download leaves nothing behind.

Offline computers get a plain answer within a few seconds: the connection (DNS lookup
included) runs in a helper thread the caller waits for with a deadline, so a resolver that
never answers cannot hang the app. Tests inject ``opener`` instead of touching the network.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from .errors import TlguiError, WeightsError
from .weights import find_local_weights, hash_prefix_in_name, verify_hash_prefix, weight_file_name
from .weights_import import Progress, Throttled
from .weights_library import find_entry
from .weights_recognise import Cancelled, is_cancelled

CONNECT_TIMEOUT = 5.0  # seconds to wait for the server (and for each read after that)
_CHUNK = 256 * 1024
_USER_AGENT = "tlgui (weights download)"


class DownloadError(TlguiError):
    """The download ran but failed (no network, server error, bad checksum, disk full)."""


@dataclass(frozen=True)
class DownloadResult:
    path: Path
    architecture: str
    entry: str
    bytes: int
    already_present: bool  # nothing was downloaded: the file was already on this computer
    message: str


def download_weights(
    architecture: str,
    entry: str | None = None,
    *,
    progress: Progress | None = None,
    cancel: Any = None,
    opener: Callable[..., Any] | None = None,
    timeout: float = CONNECT_TIMEOUT,
) -> DownloadResult:
    """Download torchvision's ``architecture`` weights (``entry``, default: its default) into
    ``weights_dir()``, unless the file is already on this computer.

    Raises :class:`WeightsError` for an unknown architecture or entry, :class:`DownloadError`
    when the download fails, :class:`Cancelled` when ``cancel`` is set (nothing is saved).
    """
    from ..paths import weights_dir

    member = find_entry(architecture, entry)
    arch = architecture
    local = find_local_weights(member)
    if local is not None and verify_hash_prefix(local) is False:
        raise WeightsError(
            f"{local} is damaged: the checksum does not match the one in its file name; "
            "delete it, then download again"
        )
    if local is not None:
        return DownloadResult(
            local, arch, member.name, local.stat().st_size, True,
            f"{arch} {member.name} is already on this computer: {local}",
        )
    path = download_file(
        member.url, weights_dir(), weight_file_name(member),
        progress=progress, cancel=cancel, opener=opener, timeout=timeout,
    )
    size = path.stat().st_size
    return DownloadResult(
        path, arch, member.name, size, False,
        f"downloaded {arch} {member.name} ({size / 2**20:.1f} MB) to {path}",
    )


def download_file(
    url: str,
    folder: str | Path,
    file_name: str | None = None,
    *,
    progress: Progress | None = None,
    cancel: Any = None,
    opener: Callable[..., Any] | None = None,
    timeout: float = CONNECT_TIMEOUT,
) -> Path:
    """Download ``url`` to ``folder/file_name`` atomically, verifying the hash prefix the
    name carries (torchvision style ``name-<sha256 prefix>.pth``), if any.

    ``opener(request, timeout=...)`` defaults to :func:`urllib.request.urlopen`;
    ``progress(done_bytes, total_bytes)`` is called at most ~10 times a second
    (``total_bytes`` None when the server does not say).
    """
    folder = Path(folder)
    file_name = file_name or url.rsplit("/", 1)[-1]
    host = urlparse(url).netloc or url
    dest = folder / file_name
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DownloadError(f"cannot create {folder}: {exc.strerror or exc}") from None
    response = _connect(url, host, file_name, opener or urllib.request.urlopen, timeout, cancel)
    report = Throttled(progress)
    total = _content_length(response)
    digest = hashlib.sha256()
    done = 0
    fd, tmp_name = tempfile.mkstemp(prefix=f".{file_name}.", suffix=".part", dir=folder)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            report(0, total, final=True)
            while True:
                if is_cancelled(cancel):
                    raise Cancelled(f"download of {file_name} cancelled; nothing was saved")
                try:
                    block = response.read(_CHUNK)
                except TimeoutError:
                    raise DownloadError(
                        f"the download from {host} stalled (no data for {timeout:g} s); "
                        "nothing was saved, try again"
                    ) from None
                except (OSError, urllib.error.URLError) as exc:
                    raise DownloadError(
                        f"the download from {host} broke off after {done / 2**20:.1f} MB ({_reason(exc)}); "
                        "nothing was saved"
                    ) from None
                if not block:
                    break
                try:
                    out.write(block)
                except OSError as exc:
                    raise DownloadError(f"cannot write to {folder}: {exc.strerror or exc}") from None
                digest.update(block)
                done += len(block)
                report(done, total)
        report(done, total, final=True)
        if total is not None and done != total:
            raise DownloadError(
                f"the download from {host} ended early ({done:,} of {total:,} bytes); nothing was saved"
            )
        prefix = hash_prefix_in_name(file_name)
        sha = digest.hexdigest()
        if prefix is not None and not sha.startswith(prefix):
            raise DownloadError(
                f"the downloaded {file_name}: the checksum does not match the one in its file name "
                f"(expected SHA-256 starting {prefix}, got {sha[:len(prefix)]}); nothing was saved"
            )
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)
        _close(response)
    return dest


def _content_length(response) -> int | None:
    headers = getattr(response, "headers", None)
    value = headers.get("Content-Length") if headers is not None else None
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def _close(response) -> None:
    close = getattr(response, "close", None)
    if callable(close):
        try:
            close()
        except OSError:
            pass


def _offline_message(host: str, file_name: str, reason: str) -> str:
    return (
        f"cannot reach {host}: no network connection? ({reason}). On an offline computer, copy "
        f"{file_name} from a computer with internet and use 'tlgui weights import FILE'"
    )


def _reason(exc: BaseException) -> str:
    reason = getattr(exc, "reason", None) or exc
    if isinstance(reason, TimeoutError):
        return "timed out"
    text = getattr(reason, "strerror", None) or str(reason) or type(reason).__name__
    return str(text).strip()[:160]


def _connect(url: str, host: str, file_name: str, opener, timeout: float, cancel: Any):
    """Open ``url`` in a helper thread and wait at most ``timeout`` (+1 s) for it.

    ``socket`` timeouts do not cover DNS lookups, which on a misconfigured offline machine
    can take a minute; the deadline here does. A thread that outlives it is a daemon that
    finishes (or fails) on its own; its late response, if any, is closed.
    """
    request = urllib.request.Request(url, headers={"User-Agent": _USER_AGENT})
    box: dict[str, Any] = {}
    done = threading.Event()
    abandoned = threading.Event()

    def work() -> None:
        try:
            box["response"] = opener(request, timeout=timeout)
        except BaseException as exc:  # noqa: BLE001 - handed to the waiting thread
            box["error"] = exc
        done.set()
        if abandoned.is_set() and "response" in box:
            _close(box["response"])

    threading.Thread(target=work, name="tlgui-download-connect", daemon=True).start()
    deadline = time.monotonic() + timeout + 1.0
    while not done.wait(0.05):
        if is_cancelled(cancel):
            abandoned.set()
            raise Cancelled(f"download of {file_name} cancelled; nothing was saved")
        if time.monotonic() >= deadline:
            abandoned.set()
            raise DownloadError(_offline_message(host, file_name, f"no answer within {timeout:g} s"))
    error = box.get("error")
    if error is None:
        return box["response"]
    if isinstance(error, urllib.error.HTTPError):
        raise DownloadError(
            f"{host} answered HTTP {error.code} ({error.reason}) for {url}; nothing was saved"
        ) from None
    if isinstance(error, (urllib.error.URLError, OSError)):
        raise DownloadError(_offline_message(host, file_name, _reason(error))) from None
    raise error
