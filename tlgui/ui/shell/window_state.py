"""What the window remembers between sessions: choices, geometry, splitter positions.

The window always opens on the screen: a first start takes the default size or less, and a
geometry saved on a larger screen (a monitor at the office, a laptop at home) is shrunk and moved
onto the current one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QByteArray, QPoint, QRect, QSize, Qt
from PySide6.QtGui import QGuiApplication

if TYPE_CHECKING:
    from tlgui.ui.shell.shell_window import ShellWindow

DEFAULT_SIZE = QSize(1280, 800)
# room for the title bar and borders the window manager adds (unknown until the window is shown)
FRAME_MARGINS = (8, 32, 8, 8)  # left, top, right, bottom


def _encode(data: QByteArray) -> str:
    return bytes(data.toBase64()).decode("ascii")


def _decode(text: str) -> QByteArray:
    return QByteArray.fromBase64(text.encode("ascii"))


def remember(window: ShellWindow) -> None:
    """Copy the window's current choices and layout into ``window.settings`` (not saved yet)."""
    s = window.settings
    window.train_page.remember_choices(s)
    s.geometry = _encode(window.saveGeometry())
    s.window_state = _encode(window.saveState())
    s.splitters = {sp.objectName(): _encode(sp.saveState()) for sp in window.train_page.splitters()}


def fit_on_screen(rect: QRect, available: QRect) -> QRect:
    """``rect`` (a window's inner geometry) shrunk and moved until it and its frame lie within
    ``available`` (a screen's available geometry)."""
    left, top, right, bottom = FRAME_MARGINS
    room = available.adjusted(left, top, -right, -bottom)
    size = rect.size().boundedTo(room.size()).expandedTo(QSize(1, 1))
    x = max(room.left(), min(rect.x(), room.left() + room.width() - size.width()))
    y = max(room.top(), min(rect.y(), room.top() + room.height() - size.height()))
    return QRect(QPoint(x, y), size)


def _available_geometry(window: ShellWindow, rect: QRect) -> QRect | None:
    screen = QGuiApplication.screenAt(rect.center()) or window.screen() or QGuiApplication.primaryScreen()
    return None if screen is None else screen.availableGeometry()


def restore(window: ShellWindow) -> None:
    """Geometry and splitters from ``window.settings``, fitted onto the current screen; the default
    size (or the screen's room, if smaller) centred on the screen otherwise."""
    s = window.settings
    restored = bool(s.geometry) and window.restoreGeometry(_decode(s.geometry))
    if not restored:
        window.resize(DEFAULT_SIZE)
    full = Qt.WindowState.WindowMaximized | Qt.WindowState.WindowFullScreen
    available = _available_geometry(window, window.geometry())
    if available is not None and not window.windowState() & full:
        rect = window.geometry()
        if not restored:
            rect.moveCenter(available.center())
        window.setGeometry(fit_on_screen(rect, available))
    if s.window_state:
        window.restoreState(_decode(s.window_state))
    for splitter in window.train_page.splitters():
        state = s.splitters.get(splitter.objectName())
        if state:
            splitter.restoreState(_decode(state))
