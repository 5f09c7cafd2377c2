"""The run directory: the contract between GUI, CLI and tests (see DESIGN.md).

    RUN_DIR/config.json   metrics.csv   summary.json   model.pt   split.csv
            checkpoints/{last,best}.pt   .lock (while a process trains in it)
"""

from __future__ import annotations

import csv
import io
import json
import os
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tlgui.core.base.errors import RunDirError
from tlgui.core.base.files import (
    atomic_save,
    atomic_write_text,
    path_too_long,
    writable_folder_problem,
)
from tlgui.core.results.run_lock import in_use_error, lock_holder

CONFIG = "config.json"


METRICS = "metrics.csv"


SUMMARY = "summary.json"


MODEL = "model.pt"


CHECKPOINTS = "checkpoints"


METRIC_COLUMNS = ("epoch", "phase", "loss", "accuracy", "lr", "seconds")


FINISHED_STATUSES = ("completed", "stopped")


@dataclass(frozen=True)
class RunDir:
    path: Path

    @property
    def config(self) -> Path:
        return self.path / CONFIG

    @property
    def metrics(self) -> Path:
        return self.path / METRICS

    @property
    def summary(self) -> Path:
        return self.path / SUMMARY

    @property
    def model(self) -> Path:
        return self.path / MODEL

    @property
    def checkpoints(self) -> Path:
        return self.path / CHECKPOINTS

    def check(self, overwrite: bool, locked_by_us: bool = False) -> None:
        """Read-only checks before any work: a folder in use by another process is refused;
        a finished or interrupted run is refused unless ``overwrite``; the folder must be
        creatable. Nothing on disk changes here."""
        if self.path.exists() and not self.path.is_dir():
            raise RunDirError(f"output path {self.path} exists and is not a folder")
        too_long = path_too_long(self.path, "run folder")
        if too_long:
            raise RunDirError(too_long)
        reuse_check(self.path, overwrite, locked_by_us)
        existing = self.path
        while not existing.exists() and existing != existing.parent:
            existing = existing.parent
        if not existing.is_dir():
            raise RunDirError(f"cannot write to output folder {self.path}: {existing} is a file, not a folder")
        if not os.access(existing, os.W_OK | os.X_OK):
            raise RunDirError(f"cannot write to output folder {self.path}: {existing} is not writable")

    def prepare(self, overwrite: bool) -> None:
        """Create the folder, refusing one that holds a run unless ``overwrite``.

        Nothing is deleted here: with ``overwrite`` the old files are replaced one by one
        as the new run writes them (each atomically).
        """
        if self.path.exists() and not self.path.is_dir():
            raise RunDirError(f"output path {self.path} exists and is not a folder")
        reuse_check(self.path, overwrite, locked_by_us=True)
        problem = writable_folder_problem(self.path)
        if problem:
            raise RunDirError(f"cannot write to output folder {self.path}: {problem}")
        if overwrite:
            # a stale summary must not describe the new run while it is going
            self.summary.unlink(missing_ok=True)
            self.metrics.unlink(missing_ok=True)
            (self.checkpoints / "last.pt").unlink(missing_ok=True)  # never resume the old run's state

    def resume_state(self, epochs: int) -> dict[str, Any]:
        """The last completed epoch's state, checked; errors say why a run cannot go on."""
        from tlgui.core.models.safe_load import safe_load

        last = self.checkpoints / "last.pt"
        if not self.config.is_file():
            raise RunDirError(
                f"{self.path} is not a tlgui run folder (it has no config.json), so there is nothing to resume"
            )
        if not last.is_file():
            raise RunDirError(
                f"{self.path.name} has no checkpoint to resume from (it stopped before its first epoch ended); "
                "start it again with --overwrite instead"
            )
        state = safe_load(last)
        if not isinstance(state, dict) or state.get("format") != "tlgui.state":
            raise RunDirError(f"{last} is not a tlgui training state")
        # a run killed after its last checkpoint but before model.pt goes on to save it
        if int(state["epoch"]) >= epochs and read_status(self.path) in FINISHED_STATUSES:
            raise RunDirError(f"{self.path.name} already finished all {epochs} epochs: nothing to resume")
        problem = writable_folder_problem(self.path, create=False)
        if problem:
            raise RunDirError(f"cannot write to run folder {self.path}: {problem}")
        return state

    def truncate_metrics(self, epoch: int) -> None:
        """Keep only the metrics rows up to ``epoch`` (rewritten atomically)."""
        rows = [r for r in read_metrics(self.path) if r["epoch"] <= epoch]
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=METRIC_COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows({k: r[k] for k in METRIC_COLUMNS} for r in rows)
        atomic_write_text(self.metrics, buffer.getvalue())

    def earlier_val_rows(self, epoch: int) -> list[dict[str, Any]]:
        """Validation rows up to ``epoch``, each with that epoch's training accuracy."""
        rows = [r for r in read_metrics(self.path) if r["epoch"] <= epoch]
        train_acc = {r["epoch"]: r["accuracy"] for r in rows if r["phase"] == "train"}
        return [dict(r, train_accuracy=train_acc.get(r["epoch"], float("nan"))) for r in rows if r["phase"] == "val"]

    def write_config(self, config: dict[str, Any]) -> None:
        atomic_write_text(self.config, json.dumps(config, indent=2) + "\n")

    def write_summary(self, summary: dict[str, Any]) -> None:
        atomic_write_text(self.summary, json.dumps(summary, indent=2) + "\n")

    def start_metrics(self) -> None:
        with open(self.metrics, "w", newline="", encoding="utf-8") as handle:
            csv.writer(handle).writerow(METRIC_COLUMNS)

    def append_metrics(self, rows: list[dict[str, Any]]) -> None:
        with open(self.metrics, "a", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=METRIC_COLUMNS)
            for row in rows:
                writer.writerow({k: row[k] for k in METRIC_COLUMNS})

    def save_model(self, checkpoint: dict[str, Any]) -> None:
        atomic_save(checkpoint, self.model)

    def save_state(self, name: str, state: dict[str, Any]) -> Path:
        target = self.checkpoints / f"{name}.pt"
        atomic_save(state, target)
        return target


def reuse_check(path: Path, overwrite: bool, locked_by_us: bool = False) -> None:
    """Refuse a folder another process trains in, and (unless ``overwrite``) one that holds a
    finished run or an interrupted one (which ``--resume`` continues)."""
    if not locked_by_us:
        holder = lock_holder(path)
        if holder is not None:
            raise in_use_error(path, holder)
    if overwrite:
        return
    status = read_status(path)
    if status in FINISHED_STATUSES:
        raise RunDirError(
            f"{path} already holds a finished run (status {status}); "
            "choose another --out folder or pass --overwrite"
        )
    if (path / CONFIG).is_file():
        raise RunDirError(
            f"{path} holds an unfinished run (interrupted or failed); continue it with --resume "
            "or start again with --overwrite"
        )


def fresh_run_path(parent: str | Path, stem: str) -> Path:
    """Create and return a new, empty folder ``parent/stem`` (``stem-2``, ``-3``... if taken).

    ``mkdir`` either creates the folder or fails, so two processes naming a run in the same
    second still get two folders."""
    parent = Path(parent)
    parent.mkdir(parents=True, exist_ok=True)
    for n in range(1, 1000):
        candidate = parent / (stem if n == 1 else f"{stem}-{n}")
        try:
            candidate.mkdir()
        except FileExistsError:
            continue
        return candidate
    return fresh_run_path(parent, f"{stem}-{secrets.token_hex(3)}")


def default_run_name() -> str:
    return time.strftime("run-%Y%m%d-%H%M%S")


def read_summary(path: str | Path) -> dict[str, Any] | None:
    file = Path(path) / SUMMARY
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def read_status(path: str | Path) -> str | None:
    summary = read_summary(path)
    return summary.get("status") if summary else None


def read_metrics(path: str | Path) -> list[dict[str, Any]]:
    file = Path(path) / METRICS
    rows = []
    try:
        with open(file, newline="", encoding="utf-8") as handle:
            for row in csv.DictReader(handle):
                rows.append(
                    {
                        "epoch": int(row["epoch"]),
                        "phase": row["phase"],
                        "loss": float(row["loss"]),
                        "accuracy": float(row["accuracy"]),
                        "lr": float(row["lr"]),
                        "seconds": float(row["seconds"]),
                    }
                )
    except (OSError, KeyError, ValueError):
        return rows
    return rows


def list_runs(root: str | Path) -> list[Path]:
    """Run folders (those with a config.json) directly under ``root``, newest first."""
    root = Path(root)
    if not root.is_dir():
        return []
    runs = [p for p in root.iterdir() if (p / CONFIG).is_file()]
    return sorted(runs, key=lambda p: p.stat().st_mtime, reverse=True)


# settings a resumed run may change: where it runs, not what it means
RESUME_OVERRIDES = ("out", "device", "num_workers")


def resume_config(run: str | Path, overrides: dict[str, Any] | None = None):
    """The TrainConfig to continue a run with: its own config.json, pointed at the folder it is
    in now (even if moved), with only :data:`RESUME_OVERRIDES` changed. ``run`` is the run
    folder or its config.json. The CLI's ``--resume`` and the window's Resume both use this."""
    from tlgui.core.base.config import TrainConfig
    from tlgui.core.base.errors import ConfigError

    path = Path(run)
    config_file = path / CONFIG if path.is_dir() else path
    overrides = dict(overrides or {})
    changed = sorted(set(overrides) - set(RESUME_OVERRIDES))
    if changed:
        raise ConfigError(
            "--resume continues a run with its own settings; leave out "
            + ", ".join("--" + c.replace("_", "-") for c in changed)
        )
    config = TrainConfig.load(config_file)
    config.out = str(config_file.resolve().parent)
    for key in ("device", "num_workers"):
        if key in overrides:
            setattr(config, key, overrides[key])
    return config
