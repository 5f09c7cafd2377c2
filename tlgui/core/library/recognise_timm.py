"""Which timm architectures a weight file may be for, cheaply and in bounded time.

Building all ~1,300 timm models to compare shapes would take minutes, so candidates come from:

* names: a hub-cache folder ``models--timm--NAME.TAG`` above the file, the ``architecture``
  in a ``config.json`` beside it, or timm names the file name starts with;
* content: timm's pretrained configs name each model's first convolution and classifier
  (a dictionary lookup, no model is built); only models whose two keys are in the file
  are kept, a list of widely used small backbones first, at most ``CONTENT_LIMIT`` in all.

Each candidate is then compared by keys and shapes on the meta device like any other.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import torch

from tlgui.core.models.timm_zoo import TIMM_PREFIX, timm_available, timm_model_names

CONTENT_LIMIT = 40

# widely shared small and mid-size backbones: tried first when only the content can tell
_COMMON = (
    "resnet10t", "resnet14t", "resnet18", "resnet18d", "resnet26", "resnet34", "resnet34d",
    "resnet50", "resnet50d", "mobilenetv3_small_050", "mobilenetv3_small_075",
    "mobilenetv3_small_100", "mobilenetv3_large_100", "mobilenetv2_100", "efficientnet_b0",
    "efficientnet_b1", "efficientnet_b2", "tf_efficientnet_b0", "convnext_atto", "convnext_femto",
    "convnext_pico", "convnext_nano", "convnext_tiny", "regnety_002", "regnety_004", "regnetx_002",
    "vit_tiny_patch16_224", "vit_small_patch16_224", "vit_base_patch16_224",
    "deit_tiny_patch16_224", "deit_small_patch16_224", "lcnet_050", "mnasnet_100", "ghostnet_100",
)


def _norm(text: str) -> str:
    return re.sub(r"[^0-9a-z]+", "_", text.lower()).strip("_")


def timm_name_candidates(path: Path | None, file_name: str = "") -> list[str]:
    """``timm:NAME`` candidates from the folders and file names around a weight file."""
    if not timm_available():
        return []
    names = set(timm_model_names())
    found: list[str] = []

    def add(name: str) -> None:
        base = name.partition(".")[0]
        if base in names and TIMM_PREFIX + base not in found:
            found.append(TIMM_PREFIX + base)

    if path is not None:
        for parent in path.parents:
            if parent.name.startswith("models--timm--"):
                add(parent.name[len("models--timm--"):])
                break
        config = path.parent / "config.json"
        if config.is_file():
            try:
                arch = json.loads(config.read_text(encoding="utf-8")).get("architecture")
            except (OSError, ValueError, AttributeError):
                arch = None
            if isinstance(arch, str):
                add(arch)
    stem = _norm(Path(file_name or (path.name if path else "")).name.split(".")[0])
    if stem:
        by_prefix = sorted((n for n in names if stem.startswith(_norm(n))), key=len, reverse=True)
        for name in by_prefix[:5]:
            add(name)
    return found


def _first(value) -> str | None:
    if isinstance(value, (tuple, list)):
        value = value[0] if value else None
    return value if isinstance(value, str) and value else None


def timm_content_candidates(state: dict[str, torch.Tensor]) -> list[str]:
    """timm architectures whose first convolution and classifier keys are in ``state``."""
    if not timm_available():
        return []
    import timm

    keys = set(state)
    common = set(_COMMON)
    ranked: list[tuple[int, str]] = []
    for name in timm_model_names():
        cfg = timm.models.get_pretrained_cfg(name, allow_unregistered=True)
        if cfg is None:
            continue
        first_conv, classifier = _first(cfg.first_conv), _first(cfg.classifier)
        if not first_conv or not classifier:
            continue
        if f"{first_conv}.weight" in keys and f"{classifier}.weight" in keys:
            order = _COMMON.index(name) if name in common else len(_COMMON)
            ranked.append((order, name))
    return [TIMM_PREFIX + name for _, name in sorted(ranked)[:CONTENT_LIMIT]]
