"""Is a weight file named like torchvision's (``NAME-HASH8.pth``) the file it claims to be?

Checked before the file is opened: a truncated download fails to unpickle with a cryptic
zip error, when the real story is in its checksum and its size.
"""

from __future__ import annotations

import functools
from pathlib import Path

from tlgui.core.base.checksums import hash_prefix_in_name, sha256_of, verify_hash_prefix
from tlgui.core.base.errors import WeightsError

_MIB = 1 << 20


@functools.lru_cache(maxsize=1)
def _published_sizes() -> dict[str, int]:
    """torchvision's file name -> published size in bytes (its ``_file_size`` is in MiB)."""
    from tlgui.core.models.zoo import list_architectures, weight_entries

    sizes: dict[str, int] = {}
    for name in list_architectures():
        for entry in weight_entries(name):
            size = entry.meta.get("_file_size")
            if size is not None:
                sizes[entry.url.rsplit("/", 1)[-1]] = int(float(size) * _MIB)
    return sizes


def published_size(file_name: str) -> int | None:
    return _published_sizes().get(file_name)


def _mib(size: int) -> str:
    return f"{size / _MIB:.1f} MB"


def checksum_problem(path: str | Path, action: str = "") -> str | None:
    """One sentence when ``path``'s name carries a SHA-256 prefix its bytes do not match."""
    path = Path(path)
    prefix = hash_prefix_in_name(path)
    if prefix is None or verify_hash_prefix(path) is not False:  # no prefix, or it matches
        return None
    actual = sha256_of(path)[: len(prefix)]
    size = path.stat().st_size
    expected = published_size(path.name)
    if expected is not None and abs(size - expected) > _MIB // 10:
        shape = f"; it is {_mib(size)}, torchvision's file is {_mib(expected)}"
        shape += " (incomplete download?)" if size < expected else ""
    else:
        shape = f"; it is {_mib(size)}"
    return (
        f"{path.name}: the checksum does not match the one in its file name (expected SHA-256 starting "
        f"{prefix}, the file has {actual}){shape}: the file is damaged or not the original{action}"
    )


def check_named_checksum(path: str | Path, action: str = "") -> None:
    """Raise :class:`WeightsError` with :func:`checksum_problem`'s sentence, if any."""
    problem = checksum_problem(path, action)
    if problem:
        raise WeightsError(problem)
