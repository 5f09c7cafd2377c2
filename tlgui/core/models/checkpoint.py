"""The self-describing model file (``model.pt``) and atomic writes.

A checkpoint is a dict of plain types and tensors, so it loads with
``torch.load(weights_only=True)``::

    {"format": "tlgui.model", "format_version": 1, "architecture": "resnet18",
     "classes": [...], "in_channels": 3, "head_path": "fc",
     "preprocessing": {...}, "state_dict": {...}, "source": {...}, "created": "ISO time"}
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

from tlgui.core.base.errors import WeightsError

CHECKPOINT_FORMAT = "tlgui.model"


CHECKPOINT_VERSION = 1


def make_checkpoint(
    model: nn.Module,
    architecture: str,
    classes: list[str],
    in_channels: int,
    head_path: str,
    preprocessing: Mapping[str, Any],
    source: dict[str, Any] | None = None,
) -> dict[str, Any]:
    state = {k: v.detach().to("cpu").clone() for k, v in model.state_dict().items()}
    return {
        "format": CHECKPOINT_FORMAT,
        "format_version": CHECKPOINT_VERSION,
        "architecture": architecture,
        "classes": [str(c) for c in classes],
        "in_channels": int(in_channels),
        "head_path": head_path,
        "preprocessing": dict(preprocessing),
        "state_dict": state,
        "source": dict(source or {}),
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    }


def is_tlgui_checkpoint(obj: Any) -> bool:
    return isinstance(obj, dict) and obj.get("format") == CHECKPOINT_FORMAT


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """Load and check a tlgui model file; errors name the file."""
    from tlgui.core.models.safe_load import safe_load

    obj = safe_load(path)
    if not is_tlgui_checkpoint(obj):
        raise WeightsError(
            f"{path} is not a tlgui model file (expected a model.pt written by 'tlgui train')"
        )
    version = obj.get("format_version", 0)
    if version > CHECKPOINT_VERSION:
        raise WeightsError(f"{path} was written by a newer tlgui (format {version}); please update")
    for key in ("architecture", "classes", "state_dict", "preprocessing"):
        if key not in obj:
            raise WeightsError(f"{path} is damaged: it has no {key!r} entry")
    return obj


def model_from_checkpoint(ckpt: dict[str, Any], device: str | torch.device = "cpu") -> nn.Module:
    """Rebuild the network described by a checkpoint, weights loaded, in eval mode."""
    from tlgui.core.models.zoo import build_model

    model = build_model(ckpt["architecture"], len(ckpt["classes"]), int(ckpt.get("in_channels", 3)))
    try:
        model.load_state_dict(ckpt["state_dict"])
    except RuntimeError as exc:
        raise WeightsError(f"model file does not match architecture {ckpt['architecture']}: {exc}") from None
    return model.to(device).eval()
