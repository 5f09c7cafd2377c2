"""Training off the GUI thread: :class:`TrainingController`, the GUI's only handle on a run.

It runs the core ``train()`` as a job (:mod:`tlgui.workers.jobs`) and turns the job's
events into the signals the window wants: stages, messages, the run's start, throttled
lists of batch stats, one signal per epoch, ``failed(message, details)`` and always
``finished(RunResult)``.
"""

from __future__ import annotations

import datetime as _dt
import re
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Signal, Slot

from .jobs import DEFAULT_EMIT_HZ, JobController, default_num_threads, describe_exception

if TYPE_CHECKING:  # for annotations only: the core is imported when a job starts
    from tlgui.core.base.config import TrainConfig
    from tlgui.core.training.control import TrainControl

__all__ = ["DEFAULT_EMIT_HZ", "STOPPED_BEFORE_START", "TrainingController", "default_num_threads",
           "describe_exception", "new_run_dir"]

MAX_LABEL = 40
STOPPED_BEFORE_START = "Stopped before training began; nothing was saved."


def new_run_dir(parent: str | Path, label: str = "run") -> Path:
    """A new, empty folder ``parent/YYYYmmdd-HHMMSS-label`` (``-2``, ``-3``... if taken).

    The folder is created here with an exclusive ``mkdir``, so two windows (or a window and
    a CLI run) starting in the same second never share a folder. An empty folder is not a
    run (it has no config.json), so one left by a run that failed to start is not listed."""
    from tlgui.core.results.runs import fresh_run_path

    stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    # short: Windows allows 259 characters for a whole path (the runs folder plus the files in the run)
    label = re.sub(r"[^A-Za-z0-9_.-]+", "_", label).strip("_")[:MAX_LABEL].rstrip("_.") or "run"
    return fresh_run_path(parent, f"{stamp}-{label}")


class TrainingController(JobController):
    """One training run at a time; signals arrive in the GUI thread.

    ``running_changed`` goes True on :meth:`start` and False once the thread has ended.
    """

    stage = Signal(object)  # core.base.events.Stage
    message = Signal(object)  # core.base.events.Message
    run_started = Signal(object)  # core.base.events.RunStarted
    epoch_finished = Signal(object)  # core.base.events.EpochStats

    thread_name = "tlgui-training"
    doing = "Training"

    def __init__(self, parent: QObject | None = None, train_fn=None, num_threads=None) -> None:
        super().__init__(parent, num_threads)
        self.train_fn = train_fn  # None: tlgui.core.training.loop.train (tests inject fakes)

    def start(self, config: TrainConfig, control: TrainControl | None = None, resume: bool = False) -> None:
        """Start training ``config`` on a new thread (``resume``: continue the run in
        ``config.out`` from its last checkpoint). Raises RuntimeError if one is running."""
        from tlgui.core.base.events import RunResult
        from tlgui.core.training.control import TrainControl

        control = control or TrainControl()
        train_fn = self.train_fn
        extra = {"resume": True} if resume else {}

        def job(on_event):
            train = train_fn
            if train is None:
                import tlgui.core.workflows  # noqa: F401  (registers --weights demo:source)
                from tlgui.core.training.loop import train
            return train(config, on_event=on_event, control=control, **extra)

        def error_result(exc, message, stopped):
            run_dir = str(getattr(config, "out", "") or "")  # train() resolves it in place
            if stopped:  # e.g. Stop while the demo source model was being pretrained
                return RunResult("stopped", run_dir, {}, STOPPED_BEFORE_START)
            return RunResult("failed", run_dir, {}, message)

        self.start_job(job, control, error_result)

    @Slot(object)
    def _on_event(self, event) -> None:
        from tlgui.core.base import events as ev

        if isinstance(event, ev.EpochStats):
            self.epoch_finished.emit(event)
        elif isinstance(event, ev.RunStarted):
            self.run_started.emit(event)
        elif isinstance(event, ev.Stage):
            self.stage.emit(event)
        elif isinstance(event, ev.Message):
            self.message.emit(event)
        super()._on_event(event)

    @Slot(object)
    def _on_batches(self, stats) -> None:
        super()._on_batches(stats)
