"""Decoded, resized uint8 images kept on disk, so a file is decoded once, not once per run.

Entries live under ``<platform cache folder>/decoded`` (``tlgui.paths.cache_dir``), one
``.npy`` file per image, keyed by the file's path, size and modification time and by the
preprocessing (resize, crop, channels, interpolation): a changed file or another image size
is decoded again. A cache folder that is full, read-only or damaged never stops a run: the
problem is reported once (``problem``) and decoding goes on without it. A damaged entry is
decoded again and rewritten. The folder is trimmed to the limit in the settings, oldest first.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import threading
from pathlib import Path

import numpy as np

from tlgui.core.base.files import replace_file
from tlgui.core.base.preprocessing import Preprocessing
from tlgui.paths import cache_dir
from tlgui.settings import load_settings

log = logging.getLogger(__name__)

_FORMAT = "v2"  # bump when the decoding itself changes (e.g. another resize filter)
DEFAULT_LIMIT_GB = 4.0


def decode_cache_dir() -> Path:
    return cache_dir() / "decoded"


def limit_bytes() -> int:
    """The cache limit from the user's settings (``image_cache_limit_gb``, default 4 GB)."""
    try:
        gb = float(getattr(load_settings(), "image_cache_limit_gb", DEFAULT_LIMIT_GB))
    except Exception:  # noqa: BLE001 - unreadable settings fall back to the default
        gb = DEFAULT_LIMIT_GB
    return int(max(0.0, gb) * 1024**3)


def _file_stamp(path: str) -> tuple[str, int, int]:
    """(absolute path(s), bytes, newest mtime) of a sample's file(s); OSError when one cannot be stat'ed."""
    # a sample stored as one file per channel ("a.tif;b.tif") is keyed by all of them
    files = [p.strip() for p in path.split(";")] if ";" in path and not os.path.exists(path) else [path]
    resolved = ";".join(os.path.abspath(f) for f in files)
    stats = [os.stat(os.path.abspath(f)) for f in files]
    return resolved, sum(s.st_size for s in stats), max(s.st_mtime_ns for s in stats)


def cache_key(path: str, prep: Preprocessing) -> str:
    """Stable key of one file's decoded form; raises OSError when the file cannot be stat'ed."""
    resolved, size, mtime = _file_stamp(path)
    # how raw values become pixels is part of the key: another intensity window, channel
    # choice or stack rule decodes the file again
    parts = [_FORMAT, resolved, size, mtime, prep.resize, prep.crop, prep.channels, prep.interpolation,
             prep.channel_select, sorted(prep.intensity.items()), prep.source_dtype, prep.source_channels, prep.stack]
    text = "|".join(str(v) for v in parts)
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


class DecodeCache:
    """Thread-safe enough for the decoder's thread pool: one file per key, atomic replaces."""

    def __init__(self, root: Path | None = None, limit: int | None = None):
        self.root = Path(root) if root is not None else decode_cache_dir()
        self.limit = limit_bytes() if limit is None else int(limit)
        self.problem: str | None = None  # why the cache was turned off for this run, once
        self.hits = self.writes = self.redecoded = 0
        self._lock = threading.Lock()

    def __getstate__(self):  # DataLoader worker processes get a copy of a lazy data set's cache
        state = self.__dict__.copy()
        del state["_lock"]
        return state

    def __setstate__(self, state) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        return self.problem is None and self.limit > 0

    def _file(self, key: str) -> Path:
        return self.root / key[:2] / f"{key}.npy"

    def get(self, key: str, shape: tuple[int, ...]) -> np.ndarray | None:
        """The cached array, or None (missing, damaged or of another shape: decode again)."""
        if not self.enabled:
            return None
        file = self._file(key)
        try:
            array = np.load(file, allow_pickle=False)
        except FileNotFoundError:
            return None
        except (OSError, ValueError, EOFError):
            array = None
        if array is None or array.dtype != np.uint8 or tuple(array.shape) != tuple(shape):
            self.redecoded += 1
            try:
                file.unlink()
            except OSError:
                pass
            return None
        self.hits += 1
        return array

    def put(self, key: str, array: np.ndarray) -> None:
        if not self.enabled:
            return
        file = self._file(key)
        tmp = file.with_name(f"{file.stem}.{os.getpid()}.{threading.get_ident()}.tmp")
        try:
            file.parent.mkdir(parents=True, exist_ok=True)
            with open(tmp, "wb") as handle:
                np.save(handle, np.ascontiguousarray(array), allow_pickle=False)
            replace_file(tmp, file)
            self.writes += 1
        except OSError as exc:
            self._disable(f"cannot write to the image cache {self.root} ({exc.strerror or exc})")
            try:
                tmp.unlink()
            except OSError:
                pass

    def _disable(self, reason: str) -> None:
        with self._lock:
            if self.problem is None:
                self.problem = reason
                log.warning("image cache turned off: %s", reason)

    def trim(self, force: bool = False) -> None:
        """Delete the oldest entries until the cache is under its limit (``force``: even when
        this object wrote nothing, e.g. DataLoader worker processes did the writing)."""
        if self.writes == 0 and not force:
            return
        entries = []
        try:
            for file in self.root.glob("*/*.npy"):
                st = file.stat()
                entries.append((st.st_mtime, st.st_size, file))
        except OSError:
            return
        total = sum(size for _, size, _ in entries)
        for _, size, file in sorted(entries):
            if total <= self.limit:
                break
            try:
                file.unlink()
                total -= size
            except OSError:
                pass


def cache_size_bytes(root: Path | None = None) -> tuple[int, int]:
    """(entries, bytes) in the decode cache."""
    root = Path(root) if root is not None else decode_cache_dir()
    count = total = 0
    for file in root.glob("*/*.npy"):
        try:
            total += file.stat().st_size
            count += 1
        except OSError:
            pass
    return count, total


def clear_cache(root: Path | None = None) -> tuple[int, int]:
    """Delete the decode cache; returns what was removed as (entries, bytes)."""
    root = Path(root) if root is not None else decode_cache_dir()
    removed = cache_size_bytes(root)
    if root.exists():
        shutil.rmtree(root)
    return removed


# ---------------------------------------------------------------- what a file holds

_FACTS_FORMAT = "facts-v1"  # bump when what image_kind.kind_of reports changes


def _facts_file(path: str, stack: str, root: Path | None) -> Path:
    resolved, size, mtime = _file_stamp(path)
    text = "|".join(str(v) for v in (_FACTS_FORMAT, resolved, size, mtime, stack))
    key = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()
    return (Path(root) if root is not None else decode_cache_dir()) / "facts" / key[:2] / f"{key}.json"


def read_facts(path: str, stack: str, root: Path | None = None) -> list | None:
    """What reading ``path`` once told (image_kind's facts: channels, dtype, extrema, notes, size),
    kept beside the decoded images, so a lab image is not read again only to learn its kind;
    None when not kept (or the file changed, or the cache is off or unreadable)."""
    if root is None and limit_bytes() <= 0:
        return None
    try:
        with open(_facts_file(path, stack, root), encoding="utf-8") as handle:
            facts = json.load(handle)
    except (OSError, ValueError):
        return None
    return facts if isinstance(facts, list) and len(facts) == 7 else None


def write_facts(path: str, stack: str, facts, root: Path | None = None) -> None:
    """Keep ``facts`` (a JSON-able sequence) for :func:`read_facts`; a cache that cannot be
    written is simply not used (the decoder reports it when it decodes)."""
    if root is None and limit_bytes() <= 0:
        return
    try:
        file = _facts_file(path, stack, root)
        file.parent.mkdir(parents=True, exist_ok=True)
    except OSError:
        return
    tmp = file.with_name(f"{file.stem}.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        with open(tmp, "w", encoding="utf-8") as handle:
            json.dump(list(facts), handle)
        os.replace(tmp, file)
    except (OSError, TypeError, ValueError):
        try:
            tmp.unlink()
        except OSError:
            pass
