"""Cancel and stop flags: None, a threading.Event or a callable returning bool."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tlgui.core.base.errors import TlguiError


class Cancelled(TlguiError):
    """The caller's cancel flag was set; nothing was left behind."""


def is_cancelled(cancel: Any) -> bool:
    """``cancel`` may be None, a ``threading.Event`` or a callable returning bool."""
    if cancel is None:
        return False
    is_set = getattr(cancel, "is_set", None)
    return bool(is_set() if callable(is_set) else cancel())


def stop_check(should_stop) -> Callable[[], bool]:
    """``should_stop`` may be None, a threading.Event or a callable returning bool."""
    if should_stop is None:
        return lambda: False
    if hasattr(should_stop, "is_set"):
        return should_stop.is_set
    return lambda: bool(should_stop())
