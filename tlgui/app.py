"""Application setup: QApplication, an exception hook that shows a dialog, and ``--self-test``
(its harness: :mod:`tlgui.self_test`).

PyTorch is imported before PySide6 (below): on Windows, with torch 2.9 and later, loading Qt's
DLLs first makes torch's fail to load (WinError 1114, pytorch#166628). The window's background
loader (ui/shell/startup.py) then finds torch loaded and goes on with the rest.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
import time
import traceback
from pathlib import Path

from .torch_first import load_torch_before_qt

load_torch_before_qt()

from PySide6.QtCore import (  # noqa: E402 - after torch, see above
    QObject,
    Qt,
    QTimer,
    QtMsgType,
    Signal,
    Slot,
    qInstallMessageHandler,
)
from PySide6.QtWidgets import QApplication  # noqa: E402

from .self_test import FirstPaint, SelfTest  # noqa: E402

log = logging.getLogger(__name__)

SELF_TEST_EPOCHS = 4  # TLGUI_SELF_TEST_EPOCHS overrides (12 = the full demo recipe)


def create_app(argv: list[str] | None = None) -> QApplication:
    app = QApplication.instance()
    if app is None:
        with _PlatformGuard():
            app = QApplication(argv if argv is not None else sys.argv[:1])
    if not isinstance(app, QApplication):  # a QCoreApplication or QGuiApplication: it can show no window
        raise RuntimeError("tlgui's window needs a QApplication, but another kind of Qt application is running")
    app.setApplicationName("tlgui")
    app.setApplicationDisplayName("tlgui")
    app.setOrganizationName("tlgui")
    from .ui.shell.gui_thread_gc import collect_garbage_on_gui_thread
    from .ui.shell.theme import apply_theme

    apply_theme(app)
    collect_garbage_on_gui_thread(app)  # worker threads must never free Qt objects
    return app


class _PlatformGuard:
    """While QApplication starts: when no Qt platform plugin can start (DISPLAY names no
    reachable X server, QT_QPA_PLATFORM names a plugin that is not there), Qt prints several
    qt.qpa lines, lists its plugins and aborts with a core dump. Say it in tlgui's one plain
    line instead and exit 2, the same from a pip install and from the frozen app (whose plugin
    list differs). Qt's other messages from the start are passed on unchanged."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, str]] = []

    def __enter__(self) -> _PlatformGuard:
        qInstallMessageHandler(self._handle)
        return self

    def __exit__(self, *exc) -> None:
        qInstallMessageHandler(None)
        for category, message in self.messages:
            print(f"{category}: {message}" if category and category != "default" else message, file=sys.stderr)

    def _handle(self, kind, context, message: str) -> None:
        if kind != QtMsgType.QtFatalMsg:
            self.messages.append((context.category or "", message))
            return
        line = platform_failure(self.messages, message, _missing_xcb_libraries)
        print(f"tlgui: error: {line}", file=sys.stderr, flush=True)
        os._exit(2)  # Qt would abort() after this handler; nothing else can run safely now


def _missing_xcb_libraries() -> str | None:
    from PySide6.QtCore import QLibraryInfo

    from .qt_platform_check import plugin_dirs, xcb_missing_reason

    here = Path(QLibraryInfo.path(QLibraryInfo.LibraryPath.PluginsPath))  # Qt's own, also when frozen
    return xcb_missing_reason([here, *plugin_dirs()])


def platform_failure(messages: list[tuple[str, str]], fatal: str, missing_libraries=None) -> str:
    """One line from the qt.qpa messages Qt printed before giving up. ``missing_libraries()``:
    the xcb plugin's missing system libraries, named (or None), asked when the plugin did not load."""
    texts = [m for c, m in messages if c.startswith("qt.qpa")]

    def first(*needles: str) -> str | None:
        return next((m for m in texts if any(n in m for n in needles)), None)

    xcb_unloadable = first("is needed to load the Qt xcb", 'Could not load the Qt platform plugin "xcb"')
    if missing_libraries is not None and xcb_unloadable and not first("could not connect to display"):
        try:
            named = missing_libraries()
        except Exception:  # noqa: BLE001 - Qt is failing: never hide its own reason behind another error
            named = None
        if named:
            return f"cannot open the window: {named}, or use the command line instead ('tlgui --help')"
    reason = (
        first("could not connect to display") or first("is needed to load") or first("Could not find", "Could not load")
    )
    reason = (reason or fatal.strip().splitlines()[0]).replace(' in ""', "").strip().rstrip(".")
    return (
        f"cannot open the window: {reason[:1].lower() + reason[1:]} (Qt found no platform plugin it could "
        "start). Run tlgui on a desktop session, use the command line instead ('tlgui --help'), "
        "or set QT_QPA_PLATFORM=offscreen for a headless self-test"
    )


# ---------------------------------------------------------------- exception hook


class _ErrorBridge(QObject):
    """Carries an uncaught exception from any thread to a dialog on the GUI thread."""

    raised = Signal(str, str)

    def __init__(self) -> None:
        super().__init__()
        self.count = 0
        self.raised.connect(self._show, Qt.ConnectionType.QueuedConnection)

    @Slot(str, str)
    def _show(self, message: str, details: str) -> None:
        from .ui.base.errors import show_error

        app = QApplication.instance()
        parent = app.activeWindow() if isinstance(app, QApplication) else None
        show_error(parent, message, details, title="Unexpected error")


_bridge: _ErrorBridge | None = None


def install_exception_hook() -> _ErrorBridge:
    """Uncaught exceptions (GUI slots, Python threads) show a dialog; the app keeps running."""
    global _bridge
    if _bridge is not None:
        return _bridge
    _bridge = bridge = _ErrorBridge()

    def report(exc_type, exc, tb) -> None:
        if issubclass(exc_type, KeyboardInterrupt):
            sys.__excepthook__(exc_type, exc, tb)
            return
        details = "".join(traceback.format_exception(exc_type, exc, tb))
        if sys.stderr is not None:  # None in a windowed executable (Windows, macOS .app)
            sys.stderr.write(details)
        bridge.count += 1
        text = str(exc).strip().splitlines()[0] if str(exc).strip() else exc_type.__name__
        bridge.raised.emit(
            "tlgui ran into an unexpected problem but is still running. "
            f"If something looks wrong, restart it.\n\n{exc_type.__name__}: {text}",
            details,
        )

    def thread_hook(args) -> None:
        if args.exc_type is SystemExit:
            return
        report(args.exc_type, args.exc_value, args.exc_traceback)

    sys.excepthook = report
    threading.excepthook = thread_hook
    return bridge


# ---------------------------------------------------------------- entry point


def missing_display() -> str | None:
    """Why no window can open here (Linux without a screen, e.g. over ssh), or None."""
    if not sys.platform.startswith("linux") or os.environ.get("QT_QPA_PLATFORM"):
        return None
    if os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"):
        return None
    return (
        "no screen to open the window on (neither DISPLAY nor WAYLAND_DISPLAY is set). "
        "Run tlgui on a desktop session, use the command line instead ('tlgui --help'), "
        "or set QT_QPA_PLATFORM=offscreen for a headless self-test"
    )


def run_gui(self_test: bool = False, screenshot: str | None = None) -> int:
    """Open the window (blocking). With ``self_test``: train the demo briefly and exit 0/1."""
    problem = missing_display()
    if problem:
        print(f"tlgui: error: {problem}", file=sys.stderr)
        return 2
    t0 = time.perf_counter()
    app = create_app()
    from .settings import Settings
    from .ui.shell.main_window import MainWindow

    window = MainWindow(settings=Settings() if self_test else None)
    paint = FirstPaint(window, t0)
    if self_test:
        window.persist_settings = False
        window.auto_confirm_close = True
        if screenshot:  # the picture shows the default size, whatever the screen (offscreen's is 800x800)
            from .ui.shell.window_state import DEFAULT_SIZE

            window.resize(DEFAULT_SIZE)
    window.show()
    install_exception_hook()

    # Ctrl+C in the terminal closes the window (asking first if training); the timer lets
    # Python's signal handler run while Qt's event loop is in C++
    signal.signal(signal.SIGINT, lambda *_: QTimer.singleShot(0, window.close))
    wake = QTimer(window)
    wake.start(250)
    wake.timeout.connect(lambda: None)

    if self_test:
        epochs = int(os.environ.get("TLGUI_SELF_TEST_EPOCHS") or SELF_TEST_EPOCHS)
        tester = SelfTest(window, screenshot, paint, epochs, lambda: _bridge.count if _bridge else 0)
        tester.done.connect(app.exit)
        QTimer.singleShot(0, tester.start)
    elif screenshot:
        print("tlgui: --screenshot only works with --self-test", file=sys.stderr)

    code = app.exec()
    wake.stop()
    if window.isVisible():
        # closing the last window posts a Quit event; one left in the queue would end the
        # next event loop at once (matters when run_gui is called in-process, e.g. tests)
        quit_on_close = app.quitOnLastWindowClosed()
        app.setQuitOnLastWindowClosed(False)
        window.close()
        app.setQuitOnLastWindowClosed(quit_on_close)
    window.controller.shutdown()  # in case the loop ended another way
    return code if self_test else 0
