"""Downloading published weights, only when the user asks for it.

The file streams into a temp file next to its destination, its SHA-256 is checked against
the prefix in torchvision's file name, and only then is it moved into the library with
``os.replace``: a cancelled, failed or corrupt download leaves nothing behind.

Offline computers get a plain answer within a few seconds: the connection (DNS lookup
included) runs in a helper thread the caller waits for with a deadline, so a resolver that
never answers cannot hang the app. Tests inject ``opener`` instead of touching the network.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tlgui.core.base.cancel import StopFlag
from tlgui.core.base.checksums import verify_hash_prefix
from tlgui.core.base.download import CONNECT_TIMEOUT, Progress, download_file
from tlgui.core.base.errors import WeightsError
from tlgui.core.library.catalog import find_entry
from tlgui.core.library.local import find_local_weights, weight_file_name

_CHUNK = 256 * 1024


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
    cancel: StopFlag = None,
    opener: Callable[..., Any] | None = None,
    timeout: float = CONNECT_TIMEOUT,
) -> DownloadResult:
    """Download torchvision's ``architecture`` weights (``entry``, default: its default) into
    ``weights_dir()``, unless the file is already on this computer.

    Raises :class:`WeightsError` for an unknown architecture or entry, :class:`DownloadError`
    when the download fails, :class:`Cancelled` when ``cancel`` is set (nothing is saved).
    """
    from tlgui.paths import weights_dir

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
