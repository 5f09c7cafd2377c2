"""Small records that cross from core's jobs (training, the transfer check, the rank) to their listeners.

They hold plain Python numbers and strings only (never tensors), so they can be
queued to another thread, printed by the CLI or stored by tests. :data:`Event` names every
kind core emits, and :data:`Emit` is the callback every job takes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from tlgui.core.base.rank_scores import CandidateResult

Level = Literal["info", "warning"]
RunStatus = Literal["completed", "stopped", "failed"]
RUN_STATUSES: tuple[RunStatus, ...] = ("completed", "stopped", "failed")


def as_run_status(value: object) -> RunStatus:
    """A status read back from JSON; ValueError for anything else."""
    for status in RUN_STATUSES:
        if value == status:
            return status
    raise ValueError(f"not a run status: {value!r}")


@dataclass(frozen=True)
class Message:
    """Something a person should read (a fresh head was made, files were skipped...)."""

    text: str
    level: Level = "info"


class Note(str):
    """A line for the run's notes that keeps its level, set where the line is made.

    Still a str (joined, searched, stored in JSON as before); a plain str is a note at "info".
    """

    level: Level

    def __new__(cls, text: str, level: Level = "info") -> Note:
        note = super().__new__(cls, text)
        note.level = level
        return note

    def __reduce__(self):  # pickled (e.g. to another process) with its level
        return (Note, (str(self), self.level))


def warning(text: str) -> Note:
    """``text`` as a note at the "warning" level."""
    return Note(text, "warning")


def as_message(text: str) -> Message:
    """The Message for a note: its own level, or "info" for a plain str."""
    return Message(str(text), text.level if isinstance(text, Note) else "info")


@dataclass(frozen=True)
class Stage:
    """A step before training starts (loading data, building the model...)."""

    name: str
    detail: str = ""


@dataclass(frozen=True)
class RunStarted:
    run_dir: str
    device: str
    epochs: int
    batches_per_epoch: int
    train_images: int
    val_images: int
    classes: tuple[str, ...]
    trainable_params: int
    frozen_params: int
    start_epoch: int = 1


@dataclass(frozen=True)
class BatchStats:
    epoch: int  # 1-based
    batch: int  # 1-based within the epoch
    batches: int  # batches per epoch
    loss: float
    accuracy: float
    lr: float
    elapsed: float  # seconds since training started


@dataclass(frozen=True)
class EpochStats:
    epoch: int
    epochs: int
    train_loss: float
    train_accuracy: float
    val_loss: float
    val_accuracy: float
    lr: float
    seconds: float  # this epoch, training and validation
    elapsed: float  # since training started

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class StrategyStarted:
    """The transfer check starts one strategy; that run's own training events follow."""

    name: str
    label: str
    index: int  # 1-based
    count: int
    run_dir: str


@dataclass(frozen=True)
class StrategyFinished:
    name: str
    status: RunStatus
    best_val_accuracy: float | None
    final_val_accuracy: float | None
    seconds: float


@dataclass
class RankProgress:
    """One step of the rank: ``index`` of ``count`` candidates, what it is doing now."""

    index: int
    count: int
    model: str
    weights: str
    text: str
    done: CandidateResult | None = None  # set when this candidate is finished


# Every record core's jobs emit. A union (not a base class), so a listener that handles each kind
# can be checked for it; a new kind of event is added here.
Event = Message | Stage | RunStarted | BatchStats | EpochStats | StrategyStarted | StrategyFinished | RankProgress
Emit = Callable[[Event], None]


def ignore(_event: Event) -> None:
    """The listener of a job nobody watches."""


@dataclass(frozen=True)
class RunResult:
    status: RunStatus
    run_dir: str
    summary: dict[str, Any] = field(default_factory=dict)
    message: str = ""

    @property
    def ok(self) -> bool:
        return self.status in ("completed", "stopped")
