"""What the Runs page knows about a run folder: its config and summary, the runs under the
runs folder (transfer checks' strategies as ``folder/strategy``), and which settings differ."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HIDDEN_KEYS = ("out",)  # always differs; the column header names the run


def weights_text(spec: str | None) -> str:
    spec = (spec or "none").strip()
    return {"none": "none (random)", "default": "pretrained (torchvision)", "demo:source": "demo source model"}.get(
        spec, Path(spec).name)


@dataclass
class RunInfo:
    path: Path
    name: str
    config: dict[str, Any] = field(default_factory=dict)
    summary: dict[str, Any] = field(default_factory=dict)
    created: float = 0.0

    @property
    def status(self) -> str:
        return str(self.summary.get("status") or "unfinished")

    @property
    def has_model(self) -> bool:
        return (self.path / "model.pt").is_file()

    @property
    def resumable(self) -> bool:
        """Stopped (or interrupted) before its last epoch, with a checkpoint to go on from."""
        planned = int(self.config.get("epochs") or 0)
        done = int(self.summary.get("epochs_completed") or 0)
        return (
            self.status != "completed" and done < planned
            and (self.path / "checkpoints" / "last.pt").is_file()
        )

    @property
    def architecture(self) -> str:
        return str(self.config.get("model") or self.summary.get("model") or "")


def read_run(path: str | Path, name: str | None = None) -> RunInfo | None:
    """What the table shows about one run folder, or None if it is not one."""
    from tlgui.core.results.runs import read_summary

    path = Path(path)
    try:
        config = json.loads((path / "config.json").read_text(encoding="utf-8"))
        created = (path / "config.json").stat().st_mtime
    except (OSError, ValueError):
        return None
    if not isinstance(config, dict):
        return None
    return RunInfo(path, name or path.name, config, read_summary(path) or {}, created)


def discover_runs(root: Path, extra: list[Path]) -> list[RunInfo]:
    """Runs under ``root`` (and the strategies of transfer checks there) plus ``extra`` folders."""
    from tlgui.core.results.runs import list_runs

    found: list[RunInfo] = []
    seen: set[Path] = set()

    def add(path: Path, name: str | None = None) -> None:
        key = path.resolve()
        if key not in seen and (info := read_run(path, name)) is not None:
            seen.add(key)
            found.append(info)

    for path in list_runs(root):
        add(path)
    if root.is_dir():
        for check in sorted(p for p in root.iterdir() if (p / "compare.json").is_file()):
            for path in list_runs(check):
                add(path, f"{check.name}/{path.name}")
    for path in extra:
        add(path)
    return found


def config_diff(configs: list[dict[str, Any]]) -> list[str]:
    """Keys whose values are not all equal (a key missing from one run counts as differing)."""
    keys = sorted({k for c in configs for k in c} - set(HIDDEN_KEYS))

    def value(config: dict[str, Any], key: str) -> str:
        return json.dumps(config[key], sort_keys=True, default=str) if key in config else "\0missing"

    return [k for k in keys if len({value(c, k) for c in configs}) > 1]
