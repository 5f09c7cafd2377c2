"""The folder one training run writes, from its name to its release: :class:`RunFolder`.

A run's folder goes through four steps, in this order, so that bad input never leaves a
half-made run behind and two processes never train in one folder:

1. :meth:`RunFolder.reserve` names it (a fresh folder under the runs folder when no ``--out`` is
   given) and takes its ``.lock`` when it already exists;
2. :meth:`RunFolder.open` reads what a resumed run continues (``checkpoints/last.pt``, checked
   against config.json) or checks that a new run may start there; nothing on disk changes;
3. (the caller prepares data and model: bad data fails here, with the folder untouched)
4. :meth:`RunFolder.settle` creates a new run's files (config.json, split.csv, metrics.csv) or
   rewinds a resumed one to its checkpoint, and puts the resumed weights into the model.

:meth:`RunFolder.release` lets the lock go; :meth:`RunFolder.abandon` also removes a reserved
folder that stayed empty because the run could not start. Under torchrun only rank 0 touches
the folder and holds the lock.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from torch import nn

from tlgui.core.base.config import TrainConfig
from tlgui.core.base.errors import ConfigError
from tlgui.core.data.corrections import snapshot_corrections
from tlgui.core.results.run_lock import RunLock
from tlgui.core.results.run_split import SplitRow, read_split, write_split
from tlgui.core.results.runs import RunDir, default_run_name, fresh_run_path
from tlgui.core.training import distributed
from tlgui.core.training.resume import check_matches, load_resumed_weights
from tlgui.paths import runs_dir


class RunFolder:
    """One training run's folder and its lock; see the module doc for the order of the steps."""

    def __init__(self, run: RunDir, reserved: bool = False):
        self.run = run
        self.lock = RunLock(run.path)
        self.reserved = reserved  # made for this run under the runs folder: removed again if it stays empty
        self.resumed: dict[str, Any] | None = None  # checkpoints/last.pt of the run this one continues
        self.stored_split: list[SplitRow] | None = None  # the split a resumed run was started with

    @classmethod
    def reserve(cls, config: TrainConfig, dist: distributed.Dist = distributed.SINGLE,
                name: Callable[[], str] = default_run_name) -> RunFolder:
        """The folder ``config.out`` names (made absolute in ``config.out``), locked if it exists.

        An empty ``config.out`` gets a new folder ``name()`` under the runs folder, created here
        atomically, so two runs started in the same second differ."""
        reserved = not config.out
        if reserved and dist.enabled:
            raise ConfigError("under torchrun, give --out RUN_DIR so that every process uses the same run folder")
        if reserved:
            config.out = str(fresh_run_path(runs_dir(), name()))
        folder = cls(RunDir(Path(config.out).expanduser().resolve()), reserved)
        config.out = str(folder.path)
        try:
            if folder.path.is_dir() and dist.main:
                folder.lock.acquire()  # before anything in it is read for use: a second process is refused
        except BaseException:
            folder.abandon()
            raise
        return folder

    @property
    def path(self) -> Path:
        return self.run.path

    @property
    def last_checkpoint(self) -> Path:
        return self.run.checkpoints / "last.pt"

    @property
    def resumed_epoch(self) -> int | None:
        """The last completed epoch of the run this one continues; None for a new run."""
        return int(self.resumed["epoch"]) if self.resumed is not None else None

    def open(self, config: TrainConfig, resume: bool, overwrite: bool,
             dist: distributed.Dist = distributed.SINGLE) -> None:
        """Read the checkpoint a resumed run continues, or check that a new run may start here.

        Refuses, in one line each: a folder another process trains in, a finished or interrupted
        run (unless ``overwrite``), a checkpoint saved under other settings. Nothing changes on disk."""
        self.resumed = self.run.resume_state(config.epochs) if resume else None
        if self.resumed is None and dist.main:
            self.run.check(overwrite, self.lock.held)
        elif self.resumed is not None:
            check_matches(config, self.resumed, self.last_checkpoint)
        self.stored_split = read_split(self.path) if self.resumed is not None else None

    def settle(self, config: TrainConfig, model: nn.Module, split: list[SplitRow], overwrite: bool,
               dist: distributed.Dist = distributed.SINGLE) -> None:
        """Create a new run's files, or rewind a resumed one to its checkpoint and load its weights.

        ``split``: the rows the prepared data was split into (written to split.csv)."""
        resumed = self.resumed
        if resumed is not None:
            load_resumed_weights(model, resumed, self.last_checkpoint)
        if not dist.main:
            return
        if resumed is None:
            self.path.mkdir(parents=True, exist_ok=True)
            self.lock.acquire()
            self.run.prepare(overwrite)  # only now is the folder created (or an old run's files replaced)
            resolved = config.to_dict()
            resolved["lr"] = "auto" if config.lr_auto else config.resolved_lr()  # "auto" reruns the finder
            self.run.write_config(resolved)
            write_split(self.path, split)
            snapshot_corrections(config.corrections, config.corrections_sha256, self.path)
            self.run.start_metrics()
            return
        if self.stored_split is None:  # a run from before split.csv existed
            write_split(self.path, split)
        self.run.truncate_metrics(int(resumed["epoch"]))  # rows written after the checkpoint are redone

    def release(self) -> None:
        """Let the lock go (the folder and its files stay)."""
        self.lock.release()

    def abandon(self) -> None:
        """The run could not start: let the lock go and remove a reserved folder left empty."""
        self.lock.release()
        if self.reserved:
            try:
                self.path.rmdir()
            except OSError:
                pass  # not empty, or already gone: leave it
