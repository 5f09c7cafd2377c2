"""Fitting a state dict into a model: key normalisation, head handling, a readable report."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from tlgui.core.base.errors import WeightsError

# old DenseNet files name layers "norm.1"; torchvision renames them to "norm1" when loading
_DENSENET_LEGACY = re.compile(
    r"^(.*denselayer\d+\.(?:norm|relu|conv))\.((?:[12])\.(?:weight|bias|running_mean|running_var|num_batches_tracked))$"
)


@dataclass(frozen=True)
class LoadReport:
    source: str
    kept_head: bool  # False: a fresh head was made for new classes
    message: str


def extract_state_dict(obj: Any, path: str | Path) -> dict[str, torch.Tensor]:
    """A plain state dict from a weight file's content (tlgui model, torchvision file, wrapper)."""
    from tlgui.core.models.checkpoint import is_tlgui_checkpoint

    if is_tlgui_checkpoint(obj):
        obj = obj["state_dict"]
    elif isinstance(obj, dict) and "state_dict" in obj and isinstance(obj["state_dict"], dict):
        obj = obj["state_dict"]
    elif isinstance(obj, dict) and "model" in obj and isinstance(obj["model"], dict):
        obj = obj["model"]
    if not isinstance(obj, dict) or not obj or not all(
        isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in obj.items()
    ):
        raise WeightsError(f"{path} holds no state dict (a mapping of layer names to tensors)")
    # models saved from DataParallel carry a "module." prefix on every key
    if all(k.startswith("module.") for k in obj):
        obj = {k[len("module.") :]: v for k, v in obj.items()}
    return normalise_keys(obj)


def normalise_keys(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Key renames torchvision applies to its own published files (legacy DenseNet names
    such as ``norm.1`` for ``norm1``)."""
    if not any(_DENSENET_LEGACY.match(k) for k in state):
        return state
    out = {}
    for key, value in state.items():
        match = _DENSENET_LEGACY.match(key)
        out[match.group(1) + match.group(2) if match else key] = value
    return out


def load_into_model(
    model: nn.Module,
    state: dict[str, torch.Tensor],
    head_path: str,
    keep_head: bool,
    source: str,
) -> LoadReport:
    """Copy ``state`` into ``model``; the head is taken only when ``keep_head``.

    Shape mismatches outside the head, and missing backbone keys, are errors that name
    the keys; extra keys (e.g. auxiliary classifiers) are ignored.
    """
    from tlgui.core.models.input_conv import adapt_state_for_input

    state, adapted = adapt_state_for_input(state, model)
    own = model.state_dict()
    head_prefix = head_path + "."
    mismatched, missing = [], []
    to_load = {}
    for key, target in own.items():
        in_head = key.startswith(head_prefix)
        if in_head and not keep_head:
            continue
        if key not in state:
            if key.endswith("num_batches_tracked"):
                continue
            missing.append(key)
            continue
        value = state[key]
        if tuple(value.shape) != tuple(target.shape):
            mismatched.append(f"{key} {tuple(value.shape)} vs model {tuple(target.shape)}")
            continue
        to_load[key] = value
    if mismatched:
        more = f" (and {len(mismatched) - 4} more)" if len(mismatched) > 4 else ""
        raise WeightsError(
            f"weights in {source} do not fit this model: " + "; ".join(mismatched[:4]) + more
        )
    if missing:
        more = f" (and {len(missing) - 4} more)" if len(missing) > 4 else ""
        raise WeightsError(
            f"weights in {source} lack layers this model needs: {', '.join(missing[:4])}{more} "
            "(is it a file for a different architecture?)"
        )
    model.load_state_dict(to_load, strict=False)
    if keep_head:
        message = f"loaded all weights from {source}, including its classifier head"
    else:
        message = f"loaded weights from {source}; made a fresh classifier head ({head_path}) for the new classes"
    if adapted:
        message += f"; {adapted}"
    return LoadReport(str(source), keep_head, message)
