"""The last finished rank of each data choice, kept so the "Which model?" page shows it again
after a restart (and after ``tlgui rank`` on the command line) without ranking again.

One JSON file per data choice under ``<data dir>/rank/``, named by a hash of what the rank's
numbers depend on (data, validation data, seed, image size, channels, intensity, stack, the
candidates asked for, folds). A file that cannot be read is treated as no file.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import time
from pathlib import Path
from typing import Any

from tlgui.core.base.files import atomic_write_text
from tlgui.core.workflows.rank_results import RankResult

_KEYS = ("data", "val_data", "seed", "image_size", "max_train_images", "channels", "intensity", "stack", "models")


def _normalised_path(value: str | None) -> str | None:
    if not value or ":" in value and not Path(value).exists():  # demo:target, torchvision:NAME:ROOT
        return value
    try:
        return str(Path(value).expanduser().resolve())
    except OSError:
        return value


def rank_file(config) -> Path:
    """Where the rank for ``config`` (a RankConfig) is kept."""
    from tlgui.paths import data_dir

    facts = {key: getattr(config, key) for key in _KEYS}
    facts["data"], facts["val_data"] = _normalised_path(config.data), _normalised_path(config.val_data)
    digest = hashlib.sha256(json.dumps(facts, sort_keys=True, default=str).encode()).hexdigest()[:20]
    return data_dir() / "rank" / f"{digest}.json"


def save_rank(config, result) -> Path:
    """Keep a finished rank (its JSON, the settings it was made with and when)."""
    path = rank_file(config)
    path.parent.mkdir(parents=True, exist_ok=True)
    record = {"saved": time.time(), "config": dataclasses.asdict(config), **result.to_json()}
    atomic_write_text(path, json.dumps(record, indent=1))
    return path


def load_rank(config) -> tuple[Any, float] | None:
    """(RankResult, when it was saved as a Unix time) of the last finished rank for ``config``, or None."""
    try:
        record = json.loads(rank_file(config).read_text(encoding="utf-8"))
        return RankResult.from_json(record), float(record["saved"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
