"""File helpers shared by every layer: durable atomic writes with the permissions open() would give.

Every write goes to a temp file in the target's folder, is flushed and ``fsync``-ed, then
``os.replace``-d over the target, and the folder is ``fsync``-ed so the rename itself survives
a power cut. A reader sees the old file or the new one, never a torn one.
"""

from __future__ import annotations

import errno
import functools
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

import torch


@functools.lru_cache(maxsize=1)
def readable_mode() -> int:
    """rw-r--r-- as the umask allows (mkstemp files start owner-only; ours are for sharing)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return 0o666 & ~mask


def fsync_folder(folder: str | os.PathLike) -> None:
    """Make a rename or a new file in ``folder`` durable (a no-op where folders cannot be opened)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some file systems (and Windows) refuse fsync on a folder; the file itself is synced
    finally:
        os.close(fd)


REPLACE_RETRY_S = (0.05, 0.1, 0.2, 0.4, 0.8)  # about 1.5 s in all


def replace_file(src: str | os.PathLike, dst: str | os.PathLike, waits=REPLACE_RETRY_S) -> None:
    """``os.replace``, retried briefly on PermissionError: Windows refuses to replace a file that
    another program (a viewer, a virus scanner, a backup tool) holds open for a moment."""
    for wait in (*waits, None):
        try:
            os.replace(src, dst)
            return
        except PermissionError:
            if wait is None:
                raise
            time.sleep(wait)


def _publish(tmp: Path, path: Path) -> None:
    """Sync ``tmp`` to disk, give it readable permissions and move it over ``path``."""
    fd = os.open(tmp, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    os.chmod(tmp, readable_mode())
    replace_file(tmp, path)
    fsync_folder(path.parent)


def _atomic_target(path: Path) -> Path:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    return Path(tmp)


def atomic_write(path: str | Path, write: Callable[[IO[bytes]], object]) -> None:  # what write returns is unused
    """Call ``write(handle)`` on a temp file next to ``path`` and publish it durably.

    If ``write`` raises (a full disk, a bug, Ctrl+C) the temp file is removed and ``path``
    is left as it was.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _atomic_target(path)
    try:
        with open(tmp, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        _publish(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def atomic_save(obj: Any, path: str | Path) -> None:
    """``torch.save`` durably and atomically (temp file, fsync, ``os.replace``)."""
    atomic_write(path, lambda handle: torch.save(obj, handle))


def atomic_write_text(path: str | Path, text: str) -> None:
    """Write UTF-8 ``text`` durably and atomically (temp file, fsync, ``os.replace``)."""
    data = text.encode("utf-8")
    atomic_write(path, lambda handle: handle.write(data))


# the older name, kept so callers on other branches keep working; same function
write_text_atomic = atomic_write_text


def writable_folder_problem(folder: str | os.PathLike, create: bool = True) -> str | None:
    """Why files cannot be written in ``folder`` (created first when ``create``), or None.

    The only honest test is to write: permissions, read-only mounts and full disks all show
    up as an OSError here, before a long job starts rather than at its end.
    """
    path = Path(folder)
    try:
        if create:
            path.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".write-test-", dir=path)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        return str(exc.strerror or exc)
    return None


# ---------------------------------------------------------------- paths on every system

WINDOWS_MAX_PATH = 260  # MAX_PATH, counting the final NUL: 259 characters
RUN_FILE_RESERVE = 64  # the longest name tlgui writes inside a run folder, e.g. checkpoints/.last.pt.x1y2z3.tmp


def csv_path(path: str, sep: str = os.sep) -> str:
    """A file path as tlgui's CSVs store it: forward slashes, which Windows, macOS and Linux all
    read back (Windows accepts ``C:/data/cat/1.png``; ``\\`` is no separator on macOS)."""
    return path.replace("\\", "/") if sep == "\\" else path


def path_key(path: str) -> str:
    """``path`` with either separator, for matching a CSV's row to a file (a CSV written on
    Windows, read on macOS, or the other way round)."""
    return path.replace("\\", "/")


def windows_long_paths_enabled() -> bool:
    """Whether Windows lets programs use paths over 260 characters (a registry switch, off by default)."""
    if sys.platform != "win32":
        return True
    import winreg

    try:
        with winreg.OpenKey(winreg.HKEY_LOCAL_MACHINE, r"SYSTEM\CurrentControlSet\Control\FileSystem") as key:
            return winreg.QueryValueEx(key, "LongPathsEnabled")[0] == 1
    except OSError:
        return False


def path_too_long(folder: str | os.PathLike, what: str = "folder", reserve: int = RUN_FILE_RESERVE) -> str | None:
    """One line saying that ``folder`` is too long for the files tlgui writes in it on Windows
    (where long paths are not enabled), or None. Other systems allow 4096 characters."""
    text = os.path.abspath(folder)
    if sys.platform != "win32" or len(text) + reserve < WINDOWS_MAX_PATH or windows_long_paths_enabled():
        return None
    return (f"the {what} {text} is {len(text)} characters long, and the files tlgui writes in it need about "
            f"{reserve} more: Windows allows at most {WINDOWS_MAX_PATH - 1} characters in a path (unless long "
            "paths are enabled); choose a shorter folder")


def name_too_long(exc: BaseException) -> str | None:
    """One line when ``exc`` is the system refusing a path for its length (a name over 255 bytes
    on Linux and macOS, a path over 259 characters on Windows without long paths), else None."""
    if not isinstance(exc, OSError):
        return None
    if exc.errno != errno.ENAMETOOLONG and getattr(exc, "winerror", None) != 206:  # ERROR_FILENAME_EXCED_RANGE
        return None
    name = str(exc.filename or "a path")
    return (f"the path {name} is too long for this system ({len(name)} characters); "
            "choose a shorter folder or file name")
