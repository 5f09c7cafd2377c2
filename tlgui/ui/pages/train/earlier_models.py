"""The model files the model panel offers as starting weights: earlier runs and the model library."""

from __future__ import annotations

from pathlib import Path

from tlgui import paths
from tlgui.ui.base.background import Job


def find_model_files() -> list[Path]:
    """model.pt files of earlier runs and of the app's model library, newest first."""
    found: list[Path] = []
    for folder, patterns in ((paths.runs_dir(), ("*/model.pt",)), (paths.models_dir(), ("*/model.pt", "*.pt"))):
        if folder.is_dir():
            for pattern in patterns:
                found.extend(p for p in folder.glob(pattern) if p.is_file())
    return sorted(set(found), key=lambda p: p.stat().st_mtime, reverse=True)


def read_model_files(job: Job) -> list[tuple[str, str, str, int]]:
    """(path, display name, architecture, number of classes) per readable model file."""
    from tlgui.core.models.checkpoint import load_checkpoint

    rows = []
    for path in find_model_files():
        if job.cancelled():
            break
        try:
            ckpt = load_checkpoint(path)
        except Exception:  # noqa: BLE001 - unreadable files are simply not offered
            continue
        name = path.parent.name if path.name == "model.pt" else path.stem
        rows.append((str(path), name, str(ckpt["architecture"]), len(ckpt["classes"])))
    return rows
