"""Small, immutable records that cross from the training loop to its listeners.

They hold plain Python numbers and strings only (never tensors), so they can be
queued to another thread, printed by the CLI or stored by tests.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class Message:
    """Something a person should read (a fresh head was made, files were skipped...)."""

    text: str
    level: str = "info"  # "info" | "warning"


class Note(str):
    """A line for the run's notes that keeps its level, set where the line is made.

    Still a str (joined, searched, stored in JSON as before); a plain str is a note at "info".
    """

    level: str

    def __new__(cls, text: str, level: str = "info") -> Note:
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
    return Message(str(text), getattr(text, "level", "info"))


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
class RunResult:
    status: str  # "completed" | "stopped" | "failed"
    run_dir: str
    summary: dict[str, Any] = field(default_factory=dict)
    message: str = ""

    @property
    def ok(self) -> bool:
        return self.status in ("completed", "stopped")
