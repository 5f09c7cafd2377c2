"""Python's cyclic garbage collector runs on the GUI thread only.

Automatic collection runs in whichever thread happens to allocate. When it frees a cycle
that holds Qt wrappers (a closed dialog, a panel's finished job) on a worker thread, Qt
objects are destroyed off their thread and the process can crash: the test suite once
segfaulted with the collector running on the Results panel's evaluation thread. The remedy
is pyqtgraph's (``pyqtgraph.util.garbage_collector``, not imported here because pyqtgraph
costs ~0.4 s at start-up): automatic collection off, and a timer on the GUI thread that
collects whenever the same thresholds are passed.
"""

from __future__ import annotations

import gc

from PySide6.QtCore import QObject, QTimer
from PySide6.QtWidgets import QApplication

INTERVAL_MS = 500


class GuiThreadCollector(QObject):
    """Owned by the application; collects on its timer and gives collection back at quit."""

    def __init__(self, app: QApplication, interval_ms: int = INTERVAL_MS) -> None:
        super().__init__(app)
        self.setObjectName("guiThreadCollector")
        self.thresholds = gc.get_threshold()
        self.timer = QTimer(self)
        self.timer.timeout.connect(self.collect_due)
        self.timer.start(interval_ms)
        gc.disable()
        app.aboutToQuit.connect(self.give_back)

    def collect_due(self) -> int | None:
        """Collect the generations whose counts passed their thresholds; the generation or None."""
        counts = gc.get_count()
        generation = None
        for level, (count, threshold) in enumerate(zip(counts, self.thresholds, strict=True)):
            if count <= threshold:
                break
            generation = level
        if generation is not None:
            gc.collect(generation)
        return generation

    def give_back(self) -> None:
        self.timer.stop()
        gc.enable()


def collect_garbage_on_gui_thread(app: QApplication) -> GuiThreadCollector:
    """Install the collector once per application (later calls return the same one)."""
    existing = app.findChild(GuiThreadCollector, "guiThreadCollector")
    return existing if existing is not None else GuiThreadCollector(app)
