"""HTTP downloads on request only: one file, with progress, cancel and plain-language errors."""

from __future__ import annotations

import hashlib
import os
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from tlgui.core.base.cancel import Cancelled, StopFlag, is_cancelled
from tlgui.core.base.checksums import hash_prefix_in_name
from tlgui.core.base.errors import TlguiError

_CHUNK = 256 * 1024
CONNECT_TIMEOUT = 5.0  # seconds to wait for the server (and for each read after that)


_USER_AGENT = "tlgui (weights download)"


class DownloadError(TlguiError):
    """The download ran but failed (no network, server error, bad checksum, disk full)."""


def download_file(
    url: str,
    folder: str | Path,
    file_name: str | None = None,
    *,
    progress: Progress | None = None,
    cancel: StopFlag = None,
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


def _connect(url: str, host: str, file_name: str, opener, timeout: float, cancel: StopFlag):
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


Progress = Callable[[int, "int | None"], None]


class Throttled:
    """Calls ``progress`` at most every ``interval`` seconds, and always for the last step."""

    def __init__(self, progress: Progress | None, interval: float = 0.1):
        self.progress = progress
        self.interval = interval
        self._last = 0.0

    def __call__(self, done: int, total: int | None, final: bool = False) -> None:
        if self.progress is None:
            return
        now = time.monotonic()
        if final or now - self._last >= self.interval:
            self._last = now
            self.progress(done, total)
