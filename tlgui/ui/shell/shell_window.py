"""What the shell's helpers (:mod:`window_state`, :mod:`workspace`) know of the main window: its
settings, its Train page, its training controller and a few commands. A protocol, so that they
need not import :mod:`main_window`, which imports them."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from PySide6.QtCore import QByteArray, QRect, QSize, Qt, SignalInstance
    from PySide6.QtGui import QScreen
    from PySide6.QtWidgets import QStatusBar

    from tlgui.settings import Settings
    from tlgui.ui.pages.train.page import TrainPage
    from tlgui.workers.training import TrainingController


class ShellWindow(Protocol):
    """The main window, as the shell's helpers use it."""

    settings: Settings  # saved on close: change it, not a copy
    train_page: TrainPage
    @property
    def panels_built(self) -> SignalInstance:
        """Sent once the torch-backed panels exist."""
        ...

    @property
    def run_finished(self) -> SignalInstance:
        """Sends the RunResult (or None) once the training thread has ended."""
        ...

    @property
    def controller(self) -> TrainingController: ...

    def set_busy_elsewhere(self, busy: bool) -> None: ...

    def resume_run(self, run_dir: str) -> None: ...

    # QMainWindow's own (positional-only, as PySide6 declares them)
    def statusBar(self, /) -> QStatusBar: ...

    def saveGeometry(self, /) -> QByteArray: ...

    def saveState(self, /) -> QByteArray: ...

    def restoreGeometry(self, geometry: QByteArray, /) -> bool: ...

    def restoreState(self, state: QByteArray, /) -> bool: ...

    def resize(self, size: QSize, /) -> None: ...

    def geometry(self, /) -> QRect: ...

    def setGeometry(self, rect: QRect, /) -> None: ...

    def windowState(self, /) -> Qt.WindowState: ...

    def screen(self, /) -> QScreen: ...
