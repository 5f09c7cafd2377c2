"""User settings: what the window remembers between sessions.

Stored as JSON at :func:`tlgui.paths.settings_file` with a ``schema_version``. A file that
cannot be read (corrupt JSON, wrong types, written by a newer tlgui) is ignored with a
warning; the app starts with defaults and never crashes over it. No Qt imports here.
"""

from __future__ import annotations

import json
import logging
import os
import warnings
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from . import paths

SETTINGS_SCHEMA_VERSION = 2

log = logging.getLogger(__name__)


class SettingsWarning(UserWarning):
    """A settings file was ignored (corrupt or from a newer version)."""


def default_training() -> dict[str, Any]:
    return {
        # the demo's recipe: tlgui.core.demo.DEMO_EPOCHS, DEMO_BATCH_SIZE, DEMO_LR (copied,
        # not imported, to keep the first paint fast; a test checks they agree)
        "epochs": 12,
        "batch_size": 16,
        "lr": 3e-3,  # None: the optimizer's sensible default
        "optimizer": "adam",
        "schedule": "cosine",
        "seed": 0,
        "device": "auto",
        "precision": "auto",  # tlgui.core.base.config.PRECISIONS
        "image_size": None,  # None: what the model's weights expect
        "head_epochs": 0,  # issue 21's recipe (TrainConfig's defaults)
        "layer_lr_decay": 1.0,
        "class_weights": "none",
        "augment": "auto",  # tlgui.core.base.config.AUGMENTATIONS
    }


DEFAULT_IMAGE_VALUES = {"channels": "all", "intensity": "auto", "stack": "middle"}


@dataclass
class Settings:
    """Everything the main window remembers. Defaults set up the built-in demo."""

    # window: base64 strings from QWidget.saveGeometry / QSplitter.saveState ("" = default)
    geometry: str = ""
    window_state: str = ""
    splitters: dict[str, str] = field(default_factory=dict)
    # last choices
    model: str = "smallcnn"
    weights: str = "demo:source"
    data: str = "demo:target"
    val_data: str | None = "demo:target"  # the demo's held-out test split
    split: str = "train"
    val_split: float = 0.2
    freeze: str = "none"
    bn_update_frozen: bool = False
    training: dict[str, Any] = field(default_factory=default_training)
    # how raw image values become model inputs: TrainConfig's channels, intensity and stack
    image_values: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_IMAGE_VALUES))
    last_run_dir: str = ""
    label_folder: str = ""  # the folder last opened on the Label page
    image_cache_limit_gb: float = 4.0  # decoded images kept on disk (tlgui.core.data.decode_cache)
    schema_version: int = SETTINGS_SCHEMA_VERSION

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Settings:
        """Build from (migrated) JSON data; unknown keys are dropped, bad types raise."""
        raw = migrate(dict(raw))
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in raw.items() if k in known}
        settings = cls(**values)
        settings._check_types()
        # missing training keys (older file) get defaults
        merged = default_training()
        merged.update({k: v for k, v in settings.training.items() if k in merged})
        settings.training = merged
        settings.image_values = {**DEFAULT_IMAGE_VALUES, **{
            k: str(v) for k, v in settings.image_values.items() if k in DEFAULT_IMAGE_VALUES}}
        return settings

    def _check_types(self) -> None:
        expect: dict[str, type | tuple[type, ...]] = {
            "geometry": str,
            "window_state": str,
            "splitters": dict,
            "model": str,
            "weights": str,
            "data": str,
            "split": str,
            "val_split": (int, float),
            "freeze": str,
            "bn_update_frozen": bool,
            "training": dict,
            "image_values": dict,
            "last_run_dir": str,
            "label_folder": str,
            "image_cache_limit_gb": (int, float),
        }
        for name, kind in expect.items():
            if not isinstance(getattr(self, name), kind):
                raise ValueError(f"setting {name!r} has the wrong type")
        if self.val_data is not None and not isinstance(self.val_data, str):
            raise ValueError("setting 'val_data' has the wrong type")
        if not all(isinstance(k, str) and isinstance(v, str) for k, v in self.splitters.items()):
            raise ValueError("setting 'splitters' has the wrong type")


def migrate(raw: dict[str, Any]) -> dict[str, Any]:
    """Bring settings written by an older tlgui up to the current schema.

    Version 1 kept the training values flat at the top level (``epochs``, ``lr``...) and
    called the data spec ``dataset``; version 2 groups them under ``training``.
    A file from a newer tlgui raises ``ValueError`` (the caller ignores it with a warning).
    """
    version = raw.get("schema_version", 1)
    if not isinstance(version, int):
        raise ValueError(f"schema_version is not a number: {version!r}")
    if version > SETTINGS_SCHEMA_VERSION:
        raise ValueError(f"settings were written by a newer tlgui (schema {version})")
    if version < 2:
        training = dict(raw.get("training") or {})
        for key in default_training():
            if key in raw:
                training[key] = raw.pop(key)
        raw["training"] = training
        if "dataset" in raw and "data" not in raw:
            raw["data"] = raw.pop("dataset")
        raw.pop("dataset", None)
    raw["schema_version"] = SETTINGS_SCHEMA_VERSION
    return raw


def load_settings(path: str | Path | None = None) -> Settings:
    """The saved settings, or defaults (demo) when there are none or they are unreadable."""
    path = Path(path) if path is not None else paths.settings_file()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return Settings()
    except (OSError, UnicodeDecodeError) as exc:
        _warn(f"cannot read settings {path}: {exc}; using defaults")
        return Settings()
    try:
        raw = json.loads(text)
        if not isinstance(raw, dict):
            raise ValueError("not a JSON object")
        return Settings.from_dict(raw)
    except (ValueError, TypeError) as exc:
        _warn(f"ignoring unreadable settings {path} ({exc}); using defaults")
        return Settings()


def save_settings(settings: Settings, path: str | Path | None = None) -> bool:
    """Write atomically (temp file + replace). Returns False (with a warning) on failure."""
    path = Path(path) if path is not None else paths.settings_file()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps(settings.to_dict(), indent=2, sort_keys=True), encoding="utf-8")
        os.replace(tmp, path)
        return True
    except (OSError, TypeError, ValueError) as exc:
        _warn(f"cannot save settings to {path}: {exc}")
        return False


def _warn(text: str) -> None:
    log.warning(text)
    warnings.warn(text, SettingsWarning, stacklevel=3)
