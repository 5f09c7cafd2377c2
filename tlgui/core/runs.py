"""The run directory: the contract between GUI, CLI and tests (see DESIGN.md).

    RUN_DIR/config.json   metrics.csv   summary.json   model.pt   checkpoints/{last,best}.pt
"""

from __future__ import annotations

import csv
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .checkpoint import atomic_save, atomic_write_text
from .errors import RunDirError

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

    def prepare(self, overwrite: bool) -> None:
        """Create the folder, refusing one that holds a finished run unless ``overwrite``.

        Nothing is deleted here: with ``overwrite`` the old files are replaced one by one
        as the new run writes them (each atomically).
        """
        if self.path.exists() and not self.path.is_dir():
            raise RunDirError(f"output path {self.path} exists and is not a folder")
        status = read_status(self.path)
        if status in FINISHED_STATUSES and not overwrite:
            raise RunDirError(
                f"{self.path} already holds a finished run (status {status}); "
                "choose another --out folder or pass --overwrite"
            )
        try:
            self.path.mkdir(parents=True, exist_ok=True)
            fd, probe = tempfile.mkstemp(prefix=".write-test-", dir=self.path)
            os.close(fd)
            os.unlink(probe)
        except OSError as exc:
            raise RunDirError(f"cannot write to output folder {self.path}: {exc.strerror or exc}") from None
        if overwrite:
            # a stale summary must not describe the new run while it is going
            self.summary.unlink(missing_ok=True)
            self.metrics.unlink(missing_ok=True)

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
