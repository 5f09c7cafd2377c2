"""Every QThread the window starts (tlgui.workers.base registers each) so shutdown code and tests can find it.

Weak references only: what keeps a running worker alive is the live set in tlgui.workers.base.
"""

from __future__ import annotations

import weakref

from PySide6.QtCore import QThread

_threads: weakref.WeakSet[QThread] = weakref.WeakSet()


def register(thread: QThread) -> None:
    _threads.add(thread)


def live_threads() -> list[QThread]:
    return list(_threads)
