"""Per-user folders. ``TLGUI_HOME`` redirects all of them (tests set it to a temp dir)."""

from __future__ import annotations

import os
from pathlib import Path

APP_NAME = "tlgui"


def _home_override() -> Path | None:
    value = os.environ.get("TLGUI_HOME")
    return Path(value).expanduser() if value else None


def config_dir() -> Path:
    home = _home_override()
    if home is not None:
        return home / "config"
    import platformdirs

    return Path(platformdirs.user_config_dir(APP_NAME, appauthor=False))


def data_dir() -> Path:
    home = _home_override()
    if home is not None:
        return home / "data"
    import platformdirs

    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))


def cache_dir() -> Path:
    home = _home_override()
    if home is not None:
        return home / "cache"
    import platformdirs

    return Path(platformdirs.user_cache_dir(APP_NAME, appauthor=False))


def runs_dir() -> Path:
    """Where the GUI puts new runs by default."""
    return data_dir() / "runs"


def models_dir() -> Path:
    """The app's own model library (imported weight files, the demo source model)."""
    return data_dir() / "models"


def weights_dir() -> Path:
    """Imported pretrained weight files (torchvision naming: ``name-<sha256[:8]>.pth``)."""
    return data_dir() / "weights"


def settings_file() -> Path:
    return config_dir() / "settings.json"


def ensure(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path
