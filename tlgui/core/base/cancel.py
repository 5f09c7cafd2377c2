"""One way to ask a long job to stop (or pause), checked between batches.

Two protocols, one implementation:

* :class:`Control`: what every long job reads between batches, ``stopped``.
* :class:`PausableControl`: the whole stop protocol a window steers a job with: ``stop()``,
  ``pause()``, ``resume()`` and ``paused``; a loop that can pause calls ``wait_if_paused()``
  between batches. :class:`ControlFlags` is its thread-safe implementation; the training loop's
  ``TrainControl`` and every window job (``tlgui.workers.base``) are ones.

A job's public function accepts any ``StopFlag``: None (never stops), a ``threading.Event`` (the
CLI's), a callable returning bool, or a ``Control``. ``stop_check`` is the one adapter that turns each
into the same zero-argument ``StopCheck``, made once where the job starts and handed to its inner
loops; ``as_control`` makes any flag a ``PausableControl`` for a job that trains.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Protocol, runtime_checkable

from tlgui.core.base.errors import TlguiError

# how often a paused loop looks again (a stop also wakes it at once)
PAUSE_POLL_SECONDS = 0.1


class Cancelled(TlguiError):
    """The caller's cancel flag was set; nothing was left behind."""


@runtime_checkable
class Control(Protocol):
    """What a long job reads between batches: has a stop been requested?"""

    @property
    def stopped(self) -> bool: ...


@runtime_checkable
class PausableControl(Control, Protocol):
    """A Control the window can also stop, pause and resume; a loop calls ``wait_if_paused()``."""

    def stop(self) -> None: ...

    def pause(self) -> None: ...

    def resume(self) -> None: ...

    @property
    def paused(self) -> bool: ...

    def wait_if_paused(self) -> None: ...


class ControlFlags:
    """Thread-safe stop and pause flags: set from the GUI thread, read by the job between batches."""

    def __init__(self) -> None:
        self._stop = threading.Event()
        self._running = threading.Event()
        self._running.set()

    def stop(self) -> None:
        self._stop.set()
        self._running.set()  # a paused loop must wake up to notice

    def pause(self) -> None:
        self._running.clear()

    def resume(self) -> None:
        self._running.set()

    @property
    def stopped(self) -> bool:
        return self._stop.is_set()

    @property
    def paused(self) -> bool:
        return not self._running.is_set()

    def wait_if_paused(self) -> None:
        while not self._running.wait(PAUSE_POLL_SECONDS):
            pass


StopFlag = threading.Event | Callable[[], bool] | Control | None
StopCheck = Callable[[], bool]  # what an inner loop calls between batches (made by stop_check)


def stop_check(should_stop: StopFlag) -> StopCheck:
    """A zero-argument check that is True once ``should_stop`` asks for a stop."""
    if should_stop is None:
        return lambda: False
    is_set = getattr(should_stop, "is_set", None)
    if callable(is_set):
        return is_set
    if isinstance(should_stop, Control):
        control = should_stop
        return lambda: bool(control.stopped)
    if callable(should_stop):
        flag = should_stop
        return lambda: bool(flag())
    raise TypeError(f"not a stop flag: {should_stop!r}")


def is_cancelled(cancel: StopFlag) -> bool:
    """True when ``cancel`` (any ``StopFlag``) asks for a stop now."""
    return stop_check(cancel)()


class _FlagControl(ControlFlags):
    """A PausableControl that also stops when the flag it was made from asks."""

    def __init__(self, flag: StopFlag) -> None:
        super().__init__()
        self._flag_says_stop = stop_check(flag)

    @property
    def stopped(self) -> bool:
        return super().stopped or self._flag_says_stop()


def as_control(flag: StopFlag) -> PausableControl:
    """``flag`` itself when it is a PausableControl, else one that stops when ``flag`` asks (for a
    job that trains, such as the rank's preparation of a candidate, whose loop can also pause)."""
    if isinstance(flag, PausableControl):
        return flag
    return _FlagControl(flag)
