"""Writes the Label page's changes to the labels store off the GUI thread, one at a time, in order.

A write re-reads and merges the labels file under a lock and fsyncs it (tens of milliseconds,
more as the file grows), so a key press must not wait for it: the page updates what it shows at
once and hands the change here. ``saved`` says every change so far is on disk (the model's next
call then sees them); ``failed`` carries one plain line. Changes still queued when the page
closes are written before it goes (:meth:`flush`).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Signal, Slot

from tlgui.core.workflows.label_journal import replay
from tlgui.ui.base.background import TaskRunner

if TYPE_CHECKING:
    from tlgui.core.workflows.label_store import LabelStore

Change = Callable[["LabelStore"], None]  # change(store)


def reason(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return f"{exc.strerror} ({exc.filename})" if exc.filename else exc.strerror
    return str(exc) or type(exc).__name__


class LabelWriter(QObject):
    saved = Signal()
    failed = Signal(str)

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self.store: LabelStore | None = None
        self._pending: deque[tuple[Change, str]] = deque()
        self._failures = 0  # writes that failed for this store (its journal is then kept)
        self._running = False  # a write job runs (its own flag: a thread that sent finished may still be ending)
        self._runner = TaskRunner(self)

    def set_store(self, store: LabelStore | None) -> None:
        """Write to ``store`` from now on (changes for the previous one are written first)."""
        self.flush()
        self._forget_journal()
        self.store, self._failures = store, 0

    def write(self, change: Change, failure: str) -> None:
        """Apply ``change(store)`` soon, after the changes before it; ``failure`` starts the line said if it fails."""
        if self.store is not None:
            self._pending.append((change, failure))
            self._pump()

    def close(self) -> None:
        """Write what is queued, then take no more (the page is closing)."""
        self.flush()
        self._forget_journal()
        self.store = None

    def _forget_journal(self) -> None:
        """Every change of ours is in the labels file: the journal kept for a crash is replayed (a
        window on the same folder that died may have left lines there) and removed. Kept when a write
        failed, so the next opening of the folder replays it."""
        if self.store is not None and not self._failures and not self.busy():
            try:
                replay(self.store)
            except Exception as exc:  # noqa: BLE001 - the journal stays; the next opening replays it
                self.failed.emit(f"Could not replay the labels journal: {reason(exc)}.")

    def busy(self) -> bool:
        return self._running or bool(self._pending)

    def flush(self, msecs: int = 30000) -> None:
        """Write everything still queued now (closing the page, another folder)."""
        self._runner.wait(msecs)
        self._running = False
        store = self.store  # changes are queued only while there is a store (set_store flushes first)
        while self._pending and store is not None:
            change, failure = self._pending.popleft()
            try:
                change(store)
            except Exception as exc:  # noqa: BLE001 - said in one line, the page stays usable
                self._failures += 1
                self.failed.emit(f"{failure}: {reason(exc)}.")

    def _pump(self) -> None:
        if self._running or self.store is None:
            return
        if not self._pending:
            self.saved.emit()
            return
        change, failure = self._pending.popleft()
        store = self.store
        self._running = True
        self._runner.start(lambda _job: change(store), None,
                           lambda exc: self._failed(f"{failure}: {reason(exc)}."),
                           name="label-write", on_ended=self._ended)

    def _failed(self, text: str) -> None:
        self._failures += 1
        self.failed.emit(text)

    @Slot()
    def _ended(self) -> None:
        self._running = False
        self._pump()
