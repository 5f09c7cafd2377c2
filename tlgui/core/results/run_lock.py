"""``RUN_DIR/.lock``: one training process per run folder.

The lock is an advisory ``flock`` on ``RUN_DIR/.lock`` (on Windows, ``msvcrt.locking`` of one
byte far past the pid, so others can still read the pid), and the file holds the owner's pid for
people and error messages. The system drops the lock when its process dies in any way
(``kill -9``, a power cut ends everything anyway), so a lock file left by a dead process
is simply taken over; there is no stale-lock guessing.
"""

from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path

from tlgui.core.base.errors import RunDirError

LOCK = ".lock"
# Windows locks are mandatory: a locked byte cannot be read by others. Lock one far past the pid.
_WINDOWS_LOCK_OFFSET = 1 << 30


def _try_lock(fd: int, probe: bool = False) -> bool:
    """Take the lock without waiting (a ``probe`` only asks and lets go at once); False when
    another process or handle holds it. The platform checks are ones mypy understands, so
    ``mypy --platform win32`` checks the Windows branch and skips the POSIX one."""
    if sys.platform == "win32":
        import msvcrt

        position = os.lseek(fd, 0, os.SEEK_CUR)
        os.lseek(fd, _WINDOWS_LOCK_OFFSET, os.SEEK_SET)
        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        else:
            if probe:
                msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)
            return True
        finally:
            os.lseek(fd, position, os.SEEK_SET)
    else:
        import fcntl

        try:
            fcntl.flock(fd, (fcntl.LOCK_SH if probe else fcntl.LOCK_EX) | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True


def _read_pid(path: Path) -> int | None:
    try:
        return int(path.read_text(encoding="ascii").split()[0])
    except (OSError, ValueError, IndexError):
        return None


def in_use_error(run_dir: Path, pid: int | None) -> RunDirError:
    who = f"process {pid}" if pid else "another process"
    return RunDirError(
        f"{run_dir} is in use: {who} is training in it (see {run_dir / LOCK}); "
        "wait for it to finish, stop it, or choose another run folder"
    )


class RunLock:
    """Hold ``RUN_DIR/.lock`` while training. :meth:`acquire` raises :class:`RunDirError`
    with one line when another live process holds it."""

    def __init__(self, run_dir: str | Path):
        self.run_dir = Path(run_dir)
        self.path = self.run_dir / LOCK
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self) -> RunLock:
        if self._fd is not None:
            return self
        for _attempt in range(20):  # retried only when the file was replaced under us
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | getattr(os, "O_BINARY", 0), 0o644)  # Windows: no \r\n
            try:
                if not self._lock_fd(fd):
                    raise in_use_error(self.run_dir, _read_pid(self.path))
                # the holder may have unlinked the file between our open and our lock
                if os.fstat(fd).st_ino != os.stat(self.path).st_ino:
                    os.close(fd)
                    continue
            except FileNotFoundError:
                os.close(fd)
                continue
            except BaseException:
                os.close(fd)
                raise
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()}\n".encode("ascii"))
            os.fsync(fd)
            self._fd = fd
            return self
        raise in_use_error(self.run_dir, _read_pid(self.path))

    def _lock_fd(self, fd: int) -> bool:
        return _try_lock(fd)

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is None:
            return
        with contextlib.suppress(OSError):  # Windows refuses to delete an open file: it stays, unlocked
            self.path.unlink()  # unlink first, still locked: no one can lock the old file after us
        os.close(fd)  # closing drops the lock (on Windows too: the handle's locks go with it)

    def __enter__(self) -> RunLock:
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()


def lock_holder(run_dir: str | Path) -> int | None:
    """The pid training in ``run_dir`` now (0 when unknown), or None when it is free.
    Reads only: a free folder is left as it was."""
    path = Path(run_dir) / LOCK
    if not path.is_file():
        return None
    pid = _read_pid(path)
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return None
    try:
        if not _try_lock(fd, probe=True):
            return pid or 0
    finally:
        os.close(fd)  # closing drops the probe's own lock
    return None
