"""``--weights default`` for timm models: the Hugging Face hub cache, then tlgui's library.

Also reads the ``pretrained_cfg`` (input size, mean, std, interpolation, crop_pct) that
travels with timm weights: a snapshot's ``config.json``, or the sidecar written on import.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tlgui.core.base.errors import WeightsError
from tlgui.core.library.hub_cache import find_hub_weights
from tlgui.core.models.families import timm_models
from tlgui.core.models.timm_zoo import split_name


@dataclass(frozen=True)
class TimmWeights:
    path: Path
    description: str  # says which pretrained tag (or library file) was used
    pretrained_cfg: dict[str, Any] = field(default_factory=dict)
    short: str = ""  # e.g. "resnet18.a1_in1k in the Hugging Face cache", for a status line


def _json_object(path: Path) -> dict[str, Any]:
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}


def pretrained_cfg_near(path: str | Path) -> dict[str, Any]:
    """The ``pretrained_cfg`` that belongs to a weight file: ``config.json`` beside it (a hub
    snapshot) or its library sidecar (``NAME.json``); empty when there is none."""
    path = Path(path)
    for candidate in (path.parent / "config.json", path.with_suffix(".json")):
        cfg = _json_object(candidate).get("pretrained_cfg") if candidate.is_file() else None
        if isinstance(cfg, dict):
            return dict(cfg)
    return {}


def timm_sidecar_extras(src: Path, architecture: str | None) -> dict[str, Any]:
    """What an imported timm file's sidecar keeps besides the usual keys: its pretrained_cfg."""
    if not timm_models.owns(architecture or ""):
        return {}
    cfg = pretrained_cfg_near(src)
    return {"pretrained_cfg": cfg} if cfg else {}


def _library_match(architecture: str):
    from tlgui.core.library.catalog import list_custom_weights

    model, _tag = split_name(architecture)
    for row in list_custom_weights():
        if row.problem is None and row.architecture and split_name(row.architecture)[0] == model:
            return row
    return None


def find_timm_weights(architecture: str) -> TimmWeights:
    """Local pretrained weights for ``timm:NAME``: hub cache first, then the library; never a
    download. Raises :class:`WeightsError` with one line when neither has them."""
    try:
        snap = find_hub_weights(architecture)
    except WeightsError as hub_problem:
        row = _library_match(architecture)
        if row is None:
            raise hub_problem from None
        path = Path(row.path)
        return TimmWeights(path, f"{architecture} weights from the library ({path.name})", pretrained_cfg_near(path),
                           f"{path.name} in the weights library")
    if snap.weights is None:  # find_hub_weights returns usable snapshots only
        raise WeightsError(snap.problem or f"no weights for {architecture} in the Hugging Face cache")
    return TimmWeights(
        snap.weights,
        f"timm {snap.label} from the Hugging Face cache ({snap.weights})",
        snap.pretrained_cfg,
        f"{snap.label} in the Hugging Face cache",
    )


def check_safetensors_fit(architecture: str, state: dict, path: Path) -> None:
    """One line naming the file and what its tensors fit, when they do not fit ``architecture``."""
    from tlgui.core.library.recognise import compare_with, recognise_state

    fit = compare_with(architecture, state, path.name)
    if fit.ok:
        return
    other = recognise_state(state, path.name, hint_path=path).architecture
    fits = f"its tensors fit {other}; use --model {other}" if other else "its tensors fit no known architecture"
    raise WeightsError(f"{path}: not weights for {architecture}: {fits}")
