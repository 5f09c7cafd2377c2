"""The transfer check ("did transfer help?") off the GUI thread.

:class:`CompareController` runs the core ``run_comparison`` as a job
(:mod:`tlgui.workers.jobs`) and turns its events into signals: strategy start and finish
and each epoch as they come; batch progress and preparation stages at most ``emit_hz``
times a second. Errors never escape: ``failed(message, details)`` and then always
``finished`` (the CompareResult, or None after a failure).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Signal, Slot

from .jobs import JobController

if TYPE_CHECKING:  # the core's compare module imports PyTorch: not at start-up
    from tlgui.core.training.control import TrainControl
    from tlgui.core.workflows.compare import CompareConfig, StrategyStarted


@dataclass(frozen=True)
class CompareProgress:
    """Where the check is: strategy ``index`` of ``count``, epoch and batch within it."""

    index: int
    count: int
    label: str
    epoch: int
    epochs: int
    batch: int
    batches: int

    @property
    def fraction(self) -> float:
        within = ((self.epoch - 1) + self.batch / max(1, self.batches)) / max(1, self.epochs)
        return min(1.0, ((self.index - 1) + within) / max(1, self.count))

    def text(self) -> str:
        return f"Strategy {self.index} of {self.count}: {self.label} — epoch {self.epoch}/{self.epochs}"


class CompareController(JobController):
    """The GUI's handle on one transfer check at a time; signals arrive on the GUI thread."""

    strategy_started = Signal(object)  # core.workflows.compare.StrategyStarted
    run_started = Signal(object)  # core.base.events.RunStarted of the current strategy
    progress = Signal(object)  # CompareProgress (throttled)
    stage = Signal(str)  # preparation step in words (throttled)
    epoch_finished = Signal(str, object)  # strategy name, core.base.events.EpochStats
    strategy_finished = Signal(object)  # core.workflows.compare.StrategyFinished

    thread_name = "tlgui-compare"
    doing = "The transfer check"

    def __init__(self, parent: QObject | None = None, compare_fn=None, num_threads=None):
        super().__init__(parent, num_threads)
        self.compare_fn = compare_fn  # None: core.workflows.compare.run_comparison (tests may inject)
        self._current: StrategyStarted | None = None  # the strategy being trained
        self._epochs = 0

    def start(self, config: CompareConfig, control: TrainControl | None = None) -> None:
        from tlgui.core.training.control import TrainControl

        control = control or TrainControl()
        compare_fn = self.compare_fn
        self._current, self._epochs = None, int(config.epochs)

        def job(on_event):
            compare = compare_fn
            if compare is None:
                from tlgui.core.workflows.compare import run_comparison as compare
            return compare(config, on_event, control)

        self.start_job(job, control, lambda exc, message, stopped: None)

    @Slot(object)
    def _on_event(self, event) -> None:
        from tlgui.core.base import events as ev
        from tlgui.core.workflows import compare

        if isinstance(event, ev.EpochStats):
            if self._current is not None:
                self.epoch_finished.emit(self._current.name, event)
        elif isinstance(event, compare.StrategyStarted):
            self._current = event
            self.strategy_started.emit(event)
        elif isinstance(event, compare.StrategyFinished):
            self.strategy_finished.emit(event)
        elif isinstance(event, ev.RunStarted):
            self.run_started.emit(event)
        elif isinstance(event, ev.Stage):
            self.stage.emit(event.detail or event.name)
        super()._on_event(event)

    @Slot(object)
    def _on_batches(self, stats) -> None:
        current = self._current
        if stats and current is not None:
            b = stats[-1]
            self.progress.emit(CompareProgress(current.index, current.count, current.label, b.epoch,
                                               self._epochs, b.batch, b.batches))
        super()._on_batches(stats)
