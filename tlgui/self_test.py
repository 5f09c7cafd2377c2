"""``tlgui --self-test``: drive the real window (wait for it, click Train on the demo, wait for
the end), measure its first paint and how long the GUI thread stalls, check that Help > User guide
works in this copy, and print one JSON line. The packaged app's smoke test reads that line."""

from __future__ import annotations

import json
import logging
import math
import os
import sys
import time
from collections.abc import Callable

from PySide6.QtCore import QEvent, QObject, Qt, QTimer, Signal, Slot
from PySide6.QtWidgets import QWidget

from .ui.dialogs.user_guide import UserGuideDialog

log = logging.getLogger(__name__)

SELF_TEST_TIMEOUT_S = 300


def process_age_s() -> float | None:
    """Seconds since this process started (Linux /proc), or None where unknown."""
    if not sys.platform.startswith("linux"):
        return None  # no /proc, and no os.sysconf on Windows
    try:
        with open("/proc/self/stat", encoding="ascii") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        start_ticks = int(fields[19])  # field 22 (starttime), counted after "pid (comm)"
        with open("/proc/uptime", encoding="ascii") as f:
            uptime = float(f.read().split()[0])
        return uptime - start_ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, AttributeError):
        return None


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

    def __init__(self, window, screenshot: str | None, paint: FirstPaint, epochs: int,
                 error_count: Callable[[], int] = lambda: 0) -> None:
        super().__init__(window)
        self.error_count = error_count  # errors the app's exception hook showed meanwhile
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
            and self.error_count() == 0
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
        # Help > User guide works in this copy too (the frozen app's smoke test reads this)
        self.report["guide"] = UserGuideDialog(w).self_check()
        self._finish(0 if ok and self.report["guide"]["ok"] else 1)

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
