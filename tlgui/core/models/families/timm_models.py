"""timm (PyTorch Image Models) architectures, named ``timm:NAME`` or ``timm:NAME.TAG``.

timm is an optional extra; building, naming and preprocessing are in
:mod:`tlgui.core.models.timm_zoo`. Its weights come from the Hugging Face hub cache or the
library (:mod:`tlgui.core.library.timm_weights`), with their ``pretrained_cfg``. Its names are
listed by the window's own timm list, not by ``architectures()`` (timm knows over a thousand).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from tlgui.core.base.preprocessing import Preprocessing
from tlgui.core.models.families import ArchitectureInfo, Browser, Shapes, WeightKind
from tlgui.core.models.timm_zoo import (
    TIMM_PREFIX,
    build_timm,
    check_timm,
    timm_head_path,
    timm_preprocessing,
    timm_pretrained_tags,
)

if TYPE_CHECKING:
    from torchvision.models import WeightsEnum

NAME = "timm"
BROWSER: Browser = "timm"
WEIGHT_KIND: WeightKind = "timm"
WEIGHTS_LABEL = "pretrained timm weights"
STARTING_ALIAS: str | None = None
FOLLOWS_DATA_CHANNELS = False
AUTO_SIZE: tuple[int, int] | None = None
KEY_COUNT_CANDIDATES: tuple[str, ...] = ()


def is_timm(name: str | None) -> bool:
    return bool(name) and str(name).startswith(TIMM_PREFIX)


def is_timm_model(model: nn.Module) -> bool:
    return callable(getattr(model, "get_classifier", None)) and hasattr(model, "pretrained_cfg")


def owns(name: str) -> bool:
    return is_timm(name)


def architectures() -> tuple[str, ...]:
    return ()


def check(name: str) -> str:
    return check_timm(name)


def display_group(name: str) -> str:
    return "timm"


def short_name(name: str) -> str:
    return name.removeprefix(TIMM_PREFIX)


def build(name: str, num_classes: int, in_channels: int, device: torch.device) -> nn.Module:
    return build_timm(name, num_classes, in_channels, device)


def weight_entries(name: str) -> list[WeightsEnum]:
    return []


def default_weight_entry(name: str) -> WeightsEnum | None:
    return None


def weight_names(name: str) -> tuple[str, ...]:
    return timm_pretrained_tags(name)


def preprocessing(name: str, entry: WeightsEnum | None = None, image_size: int | None = None,
                  pretrained_cfg: Mapping[str, object] | None = None) -> Preprocessing:
    cfg: dict[str, Any] | None = dict(pretrained_cfg) if pretrained_cfg is not None else None
    return timm_preprocessing(name, cfg, image_size)


def head_path(model: nn.Module) -> str | None:
    return timm_head_path(model) if is_timm_model(model) else None


def input_channels(name: str, shapes: Shapes | None = None) -> int:
    return 3


def describe(name: str) -> ArchitectureInfo:
    prep = timm_preprocessing(name)
    model = build(check(name), 1000, 3, torch.device("meta"))
    count = sum(p.numel() for p in model.parameters())
    return ArchitectureInfo(name, display_group(name), count, prep.crop, 3, timm_pretrained_tags(name))
