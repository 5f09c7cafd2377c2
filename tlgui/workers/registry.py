"""Every QThread the app starts is registered here so shutdown code and tests can find it."""

from __future__ import annotations

import weakref

_threads: weakref.WeakSet = weakref.WeakSet()


def register(thread) -> None:
    _threads.add(thread)


def live_threads() -> list:
    return list(_threads)
