"""SHA-256 of files, and the checksum prefix that torchvision puts in its file names."""

from __future__ import annotations

import functools
import hashlib
import re
from pathlib import Path

# torchvision names files "<name>-<first 8 hex digits of sha256>.pth"
_HASH_IN_NAME = re.compile(r"-([0-9a-f]{8,})\.(pth|pt)$")


def sha256_of(path: str | Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def hash_prefix_in_name(path: str | Path) -> str | None:
    match = _HASH_IN_NAME.search(Path(path).name)
    return match.group(1) if match else None


def verify_hash_prefix(path: str | Path) -> bool | None:
    """True/False when the file name carries a torchvision hash prefix, None when it has none.

    Results are remembered per (path, size, modification time), so a big file is hashed once
    per session, and again only when it changes."""
    prefix = hash_prefix_in_name(path)
    if prefix is None:
        return None
    stat = Path(path).stat()
    return _sha256_cached(str(Path(path).resolve()), stat.st_size, stat.st_mtime_ns).startswith(prefix)


@functools.lru_cache(maxsize=64)
def _sha256_cached(path: str, size: int, mtime_ns: int) -> str:
    return sha256_of(path)
