"""Frozen-backbone features kept on disk, so ranking backbones and the head-only run that follows share them.

The key is everything the features depend on: the model and its weights (path, size and
modification time; the seed too, for layers the weights leave random), the preprocessing
(channels, intensity statistics, size), the precision, device type and memory layout, the head
module, and the exact uint8 training and validation images with their labels (hashed). Only
runs without augmentation and without AdaBN use it (their features are random or data-bound
in other ways). Files live in ``cache_dir()/features``; the oldest go first past a size limit.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path
from typing import Any

import torch

from tlgui.core.base.files import atomic_save

FORMAT = "tlgui.features/1"
LIMIT_BYTES = 2 * 1024**3  # all stored features together


def store_dir() -> Path:
    from tlgui.paths import cache_dir

    return cache_dir() / "features"


def _file_identity(path: str | None) -> list[Any]:
    if not path:
        return [None]
    try:
        stat = os.stat(path)
    except OSError:
        return [path, None]
    return [str(Path(path).resolve()), stat.st_size, stat.st_mtime_ns]


def _hash_tensor(digest, tensor: torch.Tensor) -> None:
    t = tensor.detach().cpu().contiguous()
    digest.update(f"{t.dtype}{tuple(t.shape)}".encode())
    digest.update(t.numpy().tobytes() if t.numel() else b"")


def usable(prepared) -> bool:
    """Whether these features can be stored: images in memory, one plain view, no AdaBN."""
    config = prepared.config
    return (prepared.train_y is not None and prepared.val_y is not None and config.augment == "none"
            and not config.bn_update_frozen)


def feature_key(prepared) -> str:
    """The hex key of ``prepared``'s head inputs (see the module docstring)."""
    config = prepared.config
    described = {
        "format": FORMAT, "torch": torch.__version__, "model": config.model, "weights": config.weights,
        "weights_file": _file_identity(prepared.weights.path), "seed": int(config.seed),
        "preprocessing": prepared.preprocessing.to_dict(), "precision": prepared.precision.name,
        "device": prepared.device.type, "channels_last": bool(prepared.channels_last),
        "head": prepared.head_path, "in_channels": int(prepared.in_channels),
    }
    digest = hashlib.blake2b(json.dumps(described, sort_keys=True, default=str).encode(), digest_size=20)
    for tensor in (prepared.train_x, prepared.train_y, prepared.val_x, prepared.val_y):
        _hash_tensor(digest, tensor)
    return digest.hexdigest()


def load_features(key: str) -> dict[str, Any] | None:
    """The stored record (train_x, train_y, val_x, val_y, seconds), or None when absent or unreadable."""
    path = store_dir() / f"{key}.pt"
    if not path.is_file():
        return None
    try:
        with open(path, "rb") as handle:  # a file object: see core/models/safe_load.py
            record = torch.load(handle, map_location="cpu", weights_only=True)
    except Exception:  # noqa: BLE001 - a damaged cache file is a miss, never a failure
        return None
    if not isinstance(record, dict) or record.get("format") != FORMAT:
        return None
    try:
        os.utime(path)  # recently used: kept longest
    except OSError:
        pass
    return record


def save_features(key: str, train_x, train_y, val_x, val_y, seconds: float) -> bool:
    """Store the features (float32, CPU); False when the folder cannot be written."""
    record = {"format": FORMAT, "train_x": train_x.detach().float().cpu(), "train_y": train_y.detach().cpu(),
              "val_x": val_x.detach().float().cpu(), "val_y": val_y.detach().cpu(), "seconds": float(seconds)}
    folder = store_dir()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        atomic_save(record, folder / f"{key}.pt")
    except OSError:
        return False
    _trim(folder, keep=f"{key}.pt")
    return True


def store_size() -> tuple[int, int]:
    """The stored feature sets: (files, bytes)."""
    count = size = 0
    for path in store_dir().glob("*.pt"):
        try:
            size += path.stat().st_size
            count += 1
        except OSError:
            pass
    return count, size


def clear_features() -> tuple[int, int]:
    """Delete every stored feature set; returns what was removed as (files, bytes)."""
    removed = store_size()
    folder = store_dir()
    if folder.exists():
        shutil.rmtree(folder)
    return removed


def _trim(folder: Path, keep: str) -> None:
    try:
        files = sorted((p for p in folder.glob("*.pt") if p.name != keep), key=lambda p: p.stat().st_mtime)
        total = sum(p.stat().st_size for p in folder.glob("*.pt"))
        for path in files:
            if total <= LIMIT_BYTES:
                break
            total -= path.stat().st_size
            path.unlink()
    except OSError:
        pass
