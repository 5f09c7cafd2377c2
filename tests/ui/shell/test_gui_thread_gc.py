"""Cyclic garbage made on worker threads is freed on the GUI thread (a crash otherwise)."""

from __future__ import annotations

import gc
import threading

from tlgui.app import create_app
from tlgui.ui.shell.gui_thread_gc import GuiThreadCollector, collect_garbage_on_gui_thread


class _Cycle:
    freed_on: list[str] = []

    def __init__(self) -> None:
        self.me = self

    def __del__(self) -> None:
        _Cycle.freed_on.append(threading.current_thread().name)


def test_cycles_made_on_a_worker_thread_are_freed_on_the_gui_thread(qapp, qtbot):
    assert collect_garbage_on_gui_thread(qapp) is create_app().findChild(GuiThreadCollector, "guiThreadCollector")
    assert not gc.isenabled()
    _Cycle.freed_on.clear()

    def make_garbage():
        for _ in range(20_000):  # far past gc's thresholds: automatic collection would run right here
            _Cycle()

    worker = threading.Thread(target=make_garbage, name="worker")
    worker.start()
    worker.join()
    assert _Cycle.freed_on == []  # nothing collected on the worker
    qtbot.waitUntil(lambda: len(_Cycle.freed_on) == 20_000, timeout=60_000)
    assert set(_Cycle.freed_on) == {threading.main_thread().name}


def test_collection_is_given_back_when_the_app_quits(qapp):
    collector = collect_garbage_on_gui_thread(qapp)
    try:
        collector.give_back()
        assert gc.isenabled() and not collector.timer.isActive()
    finally:
        gc.disable()
        collector.timer.start()
