"""The run lock and file replacement as Windows runs them, checked on any system.

Windows has no ``fcntl``: the run lock takes ``msvcrt.locking`` on one byte far past the pid.
Here a stand-in ``msvcrt`` keeps Windows' rules (a byte locked through one handle cannot be
locked through another, a failed non-blocking lock raises OSError) so the Windows branch runs.
"""

from __future__ import annotations

import errno
import os
import sys
import types

import pytest

from tlgui.core.base import files
from tlgui.core.base.errors import RunDirError
from tlgui.core.results import run_lock
from tlgui.core.results.run_lock import RunLock, lock_holder


class FakeMsvcrt(types.ModuleType):
    LK_UNLCK, LK_LOCK, LK_NBLCK, LK_RLCK, LK_NBRLCK = 0, 1, 2, 3, 4

    def __init__(self) -> None:
        super().__init__("msvcrt")
        self.held: dict[tuple[int, int, int], int] = {}  # (device, inode, offset) -> fd
        self.calls: list[tuple[int, int]] = []

    def _owner_alive(self, key, fd) -> bool:
        try:
            st = os.fstat(fd)
        except OSError:
            return False  # closed: Windows drops a handle's locks with it
        return (st.st_dev, st.st_ino) == key[:2]

    def live_locks(self) -> list[int]:
        return [fd for key, fd in self.held.items() if self._owner_alive(key, fd)]

    def locking(self, fd: int, mode: int, nbytes: int) -> None:
        assert nbytes == 1
        st = os.fstat(fd)
        offset = os.lseek(fd, 0, os.SEEK_CUR)
        key = (st.st_dev, st.st_ino, offset)
        self.calls.append((mode, offset))
        owner = self.held.get(key)
        if mode == self.LK_UNLCK:
            assert owner == fd, "unlocking a byte this handle does not hold"
            del self.held[key]
            return
        assert mode == self.LK_NBLCK, "tlgui must never wait for the lock"
        if owner is not None and owner != fd and self._owner_alive(key, owner):
            raise OSError(errno.EACCES, "Permission denied")
        self.held[key] = fd


@pytest.fixture
def windows(monkeypatch):
    fake = FakeMsvcrt()
    monkeypatch.setattr(sys, "platform", "win32")
    monkeypatch.setitem(sys.modules, "msvcrt", fake)
    monkeypatch.delitem(sys.modules, "fcntl", raising=False)
    return fake


def test_the_run_lock_locks_on_windows(windows, tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    lock = RunLock(run).acquire()
    try:
        assert lock.held
        # the locked byte lies far past the pid, so the pid stays readable for the message
        assert windows.calls[0] == (windows.LK_NBLCK, run_lock._WINDOWS_LOCK_OFFSET)
        assert (run / ".lock").read_text(encoding="ascii").strip() == str(os.getpid())
        assert lock_holder(run) == os.getpid()
        with pytest.raises(RunDirError, match=rf"is in use: process {os.getpid()} is training"):
            RunLock(run).acquire()
    finally:
        lock.release()
    assert lock_holder(run) is None
    assert not windows.live_locks()  # closing released it; the probe let its own go
    RunLock(run).acquire().release()


def test_a_lock_file_left_by_a_dead_process_is_taken_over_on_windows(windows, tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / ".lock").write_text("999999\n", encoding="ascii")  # no handle holds it: its owner is gone
    assert lock_holder(run) is None
    with RunLock(run) as lock:
        assert lock.held and lock_holder(run) == os.getpid()


def test_replacing_a_file_retries_while_windows_holds_it(monkeypatch, tmp_path):
    target = tmp_path / "split.csv"
    target.write_text("old", encoding="utf-8")
    real_replace = os.replace
    refusals = []

    def busy_twice(src, dst):
        if len(refusals) < 2:
            refusals.append(dst)
            raise PermissionError(errno.EACCES, "The process cannot access the file", str(dst))
        real_replace(src, dst)

    monkeypatch.setattr(files, "REPLACE_RETRY_S", (0, 0, 0))
    monkeypatch.setattr(files.replace_file, "__defaults__", ((0, 0, 0),))
    monkeypatch.setattr(files.os, "replace", busy_twice)
    files.atomic_write_text(target, "new")
    assert target.read_text(encoding="utf-8") == "new" and len(refusals) == 2
    assert [p.name for p in tmp_path.iterdir()] == ["split.csv"]  # no temp file left


def test_a_file_held_for_good_gives_up_with_the_error(monkeypatch, tmp_path):
    target = tmp_path / "labels.csv"
    target.write_text("old", encoding="utf-8")
    tries = []

    def always_busy(src, dst):
        tries.append(dst)
        raise PermissionError(errno.EACCES, "The process cannot access the file", str(dst))

    monkeypatch.setattr(files.os, "replace", always_busy)
    with pytest.raises(PermissionError):
        files.replace_file(tmp_path / "x", target, waits=(0, 0))
    assert len(tries) == 3
    assert target.read_text(encoding="utf-8") == "old"
