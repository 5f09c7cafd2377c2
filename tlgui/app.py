"""Application setup: QApplication, an exception hook that shows a dialog, and ``--self-test``.

``run_gui()`` shows the window before PyTorch is imported (the window loads it in the
background), so the first paint comes in well under a second.
"""

from __future__ import annotations

import json
import logging
import math
import os
import signal
import sys
import threading
import time
import traceback
from pathlib import Path

from PySide6.QtCore import (
    QEvent,
    QObject,
    Qt,
    QTimer,
    QtMsgType,
    Signal,
    Slot,
    qInstallMessageHandler,
)
from PySide6.QtWidgets import QApplication, QWidget

log = logging.getLogger(__name__)

SELF_TEST_EPOCHS = 4  # TLGUI_SELF_TEST_EPOCHS overrides (12 = the full demo recipe)
SELF_TEST_TIMEOUT_S = 300


def process_age_s() -> float | None:
    """Seconds since this process started (Linux /proc), or None where unknown."""
    try:
        with open("/proc/self/stat", encoding="ascii") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        start_ticks = int(fields[19])  # field 22 (starttime), counted after "pid (comm)"
        with open("/proc/uptime", encoding="ascii") as f:
            uptime = float(f.read().split()[0])
        return uptime - start_ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, AttributeError):
        return None


def create_app(argv: list[str] | None = None) -> QApplication:
    app = QApplication.instance()
    if app is None:
        with _PlatformGuard():
            app = QApplication(argv if argv is not None else sys.argv[:1])
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
    reason = first("could not connect to display") or first("is needed to load") or first("Could not find", "Could not load")
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
        parent = app.activeWindow() if app is not None else None
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


# ---------------------------------------------------------------- measurements


class FirstPaint(QObject):
    """Records when a widget is first painted (an event filter; removes itself)."""

    def __init__(self, widget: QWidget, t0: float) -> None:
        super().__init__(widget)
        self._t0 = t0
        self.since_start_ms: float | None = None  # since run_gui() began
        self.since_process_ms: float | None = None  # since the process started
        widget.installEventFilter(self)

    def eventFilter(self, obj, event) -> bool:  # Qt override
        if event.type() == QEvent.Type.Paint and self.since_start_ms is None:
            self.since_start_ms = 1000 * (time.perf_counter() - self._t0)
            age = process_age_s()
            self.since_process_ms = 1000 * age if age is not None else None
            obj.removeEventFilter(self)
            if os.environ.get("TLGUI_TIMING"):
                print(f"tlgui: first paint after {self.since_start_ms:.0f} ms", file=sys.stderr)
        return False


class StallProbe(QObject):
    """A 10 ms timer; the gaps between its ticks show how long the event loop was busy."""

    def __init__(self, interval_ms: int = 10, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.interval_ms = interval_ms
        self.gaps_ms: list[float] = []
        self._last: float | None = None
        self._timer = QTimer(self)
        self._timer.setTimerType(Qt.TimerType.PreciseTimer)
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self._tick)

    def start(self) -> None:
        self.gaps_ms.clear()
        self._last = time.perf_counter()
        self._timer.start()

    def stop(self) -> None:
        self._timer.stop()

    @Slot()
    def _tick(self) -> None:
        now = time.perf_counter()
        if self._last is not None:
            self.gaps_ms.append(1000 * (now - self._last))
        self._last = now

    def stats(self) -> dict[str, float]:
        gaps = sorted(self.gaps_ms)
        if not gaps:
            return {"ticks": 0, "max_ui_stall_ms": math.nan, "p99_ui_stall_ms": math.nan,
                    "median_tick_ms": math.nan}

        def pct(q: float) -> float:
            return gaps[min(len(gaps) - 1, int(math.ceil(q * len(gaps))) - 1)]

        return {
            "ticks": len(gaps),
            "max_ui_stall_ms": round(gaps[-1], 1),
            "p99_ui_stall_ms": round(pct(0.99), 1),
            "median_tick_ms": round(pct(0.5), 1),
        }


# ---------------------------------------------------------------- self-test


class SelfTest(QObject):
    """Drives the real window: wait for it, click Train, wait for the end, report, quit."""

    done = Signal(int)

    def __init__(self, window, screenshot: str | None, paint: FirstPaint, epochs: int) -> None:
        super().__init__(window)
        self.window = window
        self.screenshot = screenshot
        self.paint = paint
        self.epochs = epochs
        self.probe = StallProbe(parent=self)
        self.report: dict = {"ok": False}
        self._clicked_at = 0.0
        self._train_seconds = math.nan
        self._timeout = QTimer(self)
        self._timeout.setSingleShot(True)
        self._timeout.setInterval(SELF_TEST_TIMEOUT_S * 1000)
        self._timeout.timeout.connect(self._on_timeout)
        self._waited_for_data = False

    @Slot()
    def start(self) -> None:
        self._timeout.start()
        w = self.window
        w.run_finished.connect(self._on_run_finished)
        if w.is_ready():
            self._prepare()
        else:
            w.panels_built.connect(self._prepare)

    @Slot()
    def _prepare(self) -> None:
        w = self.window
        w.training_panel.epochs.setValue(self.epochs)
        panel = w.dataset_panel
        if panel is not None and panel.summary() is None and not self._waited_for_data:
            # show the loaded demo in the screenshot; Train works either way
            self._waited_for_data = True
            panel.dataset_loaded.connect(self._click_train)
            QTimer.singleShot(15000, self._click_train)
            return
        self._click_train()

    @Slot()
    def _click_train(self) -> None:
        if self._clicked_at:
            return
        self._clicked_at = time.perf_counter()
        self.probe.start()
        self.window.training_panel.train_button.click()
        if not self.window.controller.is_running():
            self.report["error"] = self.window.last_error or "Train did not start"
            self._finish(1)

    @Slot(object)
    def _on_run_finished(self, result) -> None:
        self.probe.stop()
        self._train_seconds = time.perf_counter() - self._clicked_at
        # let the final redraw and the status texts reach the screen before the screenshot
        QTimer.singleShot(300, lambda: self._evaluate(result))

    def _evaluate(self, result) -> None:
        w = self.window
        summary = (result.summary if result is not None else {}) or {}
        val_acc = summary.get("final_val_accuracy")
        points = len(w.plots.curve_data("train_loss_smooth")[0])
        ok = (
            result is not None
            and result.status == "completed"
            and isinstance(val_acc, (int, float))
            and points > 0
            and (_bridge is None or _bridge.count == 0)
        )
        self.report.update(
            {
                "ok": bool(ok),
                "status": result.status if result is not None else None,
                "epochs": summary.get("epochs_completed"),
                "val_accuracy": val_acc,
                "best_val_accuracy": summary.get("best_val_accuracy"),
                "train_seconds_in_window": round(self._train_seconds, 2),
                "core_train_seconds": summary.get("train_seconds"),
                "plot_points": points,
                "run_dir": result.run_dir if result is not None else None,
                "torch_import_s": round(w.import_seconds, 2),
            }
        )
        if result is not None and result.status == "failed":
            self.report["error"] = result.message
        self._finish(0 if ok else 1)

    @Slot()
    def _on_timeout(self) -> None:
        self.report["error"] = f"no result within {SELF_TEST_TIMEOUT_S} s"
        self._finish(1)

    def _finish(self, code: int) -> None:
        self._timeout.stop()
        self.probe.stop()
        self.report.update(self.probe.stats())
        self.report["first_paint_ms"] = _round(self.paint.since_start_ms)
        self.report["first_paint_since_process_start_ms"] = _round(self.paint.since_process_ms)
        if self.screenshot:
            try:
                saved = self.window.grab().save(self.screenshot)
            except Exception as exc:  # noqa: BLE001
                saved = False
                log.warning("screenshot failed: %s", exc)
            self.report["screenshot"] = self.screenshot if saved else None
            if not saved:
                code = 1
                self.report["ok"] = False
        if isinstance(self.report.get("error"), tuple):
            self.report["error"] = self.report["error"][0]
        print(json.dumps(self.report, default=str), flush=True)
        self.done.emit(code)


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


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
        tester = SelfTest(window, screenshot, paint, epochs)
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
