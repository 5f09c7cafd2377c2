"""``RUN_DIR/.lock``: one training process per run folder.

The lock is an advisory ``flock`` on ``RUN_DIR/.lock``, which holds the owner's pid for
people and error messages. The kernel drops the lock when its process dies in any way
(``kill -9``, a power cut ends everything anyway), so a lock file left by a dead process
is simply taken over; there is no stale-lock guessing. Where ``fcntl`` does not exist
(Windows) the pid in the file is checked instead.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from tlgui.core.base.errors import RunDirError

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None

LOCK = ".lock"


def _pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # it exists, owned by someone else
    except OSError:
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
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
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
        if fcntl is not None:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return False
            return True
        pid = _read_pid(self.path)
        return pid is None or pid == os.getpid() or not _pid_alive(pid)

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is None:
            return
        with contextlib.suppress(OSError):
            self.path.unlink()  # unlink first, still locked: no one can lock the old file after us
        os.close(fd)

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
    if fcntl is None:
        return pid if pid and _pid_alive(pid) else None
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return pid or 0
    finally:
        os.close(fd)  # closing drops the probe's own shared lock
    return None
