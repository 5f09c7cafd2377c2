"""One way to ask a long job to stop, checked between batches.

A job accepts any ``StopFlag``: None (never stops), a ``threading.Event``, a callable
returning bool (a worker's ``job.cancelled``) or a ``Control`` (the training loop's
``TrainControl``). ``stop_check`` turns each into the same zero-argument check.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Protocol, runtime_checkable

from tlgui.core.base.errors import TlguiError


class Cancelled(TlguiError):
    """The caller's cancel flag was set; nothing was left behind."""


@runtime_checkable
class Control(Protocol):
    """What a long job reads between batches: has a stop been requested?"""

    @property
    def stopped(self) -> bool: ...


StopFlag = threading.Event | Callable[[], bool] | Control | None


def stop_check(should_stop: StopFlag) -> Callable[[], bool]:
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
        return lambda: bool(should_stop())
    raise TypeError(f"not a stop flag: {should_stop!r}")


def is_cancelled(cancel: StopFlag) -> bool:
    """True when ``cancel`` (any ``StopFlag``) asks for a stop now."""
    return stop_check(cancel)()
