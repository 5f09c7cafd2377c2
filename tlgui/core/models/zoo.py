"""The model zoo: build an architecture by name, its weights, its preprocessing, its head.

One set of functions for every family (torchvision, timm, smallcnn, and any registered one):
each asks :func:`tlgui.core.models.registry.family_for` and lets the family answer, so nothing
here knows which families exist.
"""

from __future__ import annotations

import difflib
import functools
from collections.abc import Mapping
from itertools import chain
from typing import TYPE_CHECKING

import torch
from torch import nn

from tlgui.core.base.errors import ModelError
from tlgui.core.base.preprocessing import Preprocessing
from tlgui.core.models.families import ArchitectureInfo
from tlgui.core.models.families.smallcnn import SMALLCNN, SmallCNN
from tlgui.core.models.head_layout import get_module, replace_head_at
from tlgui.core.models.registry import FAMILIES, family_for

if TYPE_CHECKING:
    from torchvision.models import WeightsEnum

__all__ = [
    "SMALLCNN", "ArchitectureInfo", "SmallCNN", "architecture_info", "build_model", "check_architecture",
    "default_preprocessing", "default_weight_entry", "family_of", "find_head_path", "head_out_features",
    "list_architectures", "model_input_channels", "replace_head", "weight_entries",
]


def default_preprocessing(architecture: str, weight_entry: WeightsEnum | None = None, image_size: int | None = None,
                          pretrained_cfg: Mapping[str, object] | None = None) -> Preprocessing:
    """From the weights' metadata (torchvision entry, timm ``pretrained_cfg``), else the family's
    defaults; ``image_size`` overrides."""
    return family_for(architecture).preprocessing(architecture, weight_entry, image_size, pretrained_cfg)


def list_architectures() -> tuple[str, ...]:
    """Every listed name, family by family in registry order (timm's are listed by its own list)."""
    return _listed(tuple(FAMILIES))


@functools.lru_cache(maxsize=4)
def _listed(families: tuple) -> tuple[str, ...]:
    return tuple(chain.from_iterable(family.architectures() for family in families))


def family_of(name: str) -> str:
    """The group the window and ``tlgui layers --list`` show ``name`` under."""
    return family_for(name).display_group(name)


def check_architecture(name: str) -> str:
    family = family_for(name)
    if family.owns(name):
        return family.check(name)
    names = list_architectures()
    close = difflib.get_close_matches(name.lower(), names, n=4, cutoff=0.5)
    hint = f"; did you mean {', '.join(close)}?" if close else "; run 'tlgui layers --list' for all names"
    raise ModelError(f"unknown model {name!r}{hint}")


def weight_entries(name: str) -> list[WeightsEnum]:
    """torchvision's weight enum members for an architecture (empty for smallcnn and timm)."""
    return family_for(name).weight_entries(name)


def default_weight_entry(name: str) -> WeightsEnum | None:
    return family_for(name).default_weight_entry(name)


@functools.cache
def architecture_info(name: str) -> ArchitectureInfo:
    check_architecture(name)
    return family_for(name).describe(name)


def build_model(
    name: str, num_classes: int, in_channels: int = 3, device: str | torch.device | None = None
) -> nn.Module:
    """A randomly initialised model with a head of ``num_classes`` outputs.

    ``device="meta"`` builds without allocating memory (for layer trees of big models).
    """
    check_architecture(name)
    if num_classes < 2:
        raise ModelError(f"a classifier needs at least 2 classes, got {num_classes}")
    device = torch.device(device) if device is not None else torch.device("cpu")
    return family_for(name).build(name, num_classes, in_channels, device)


def model_input_channels(name: str) -> int:
    return family_for(name).input_channels(name)


def find_head_path(model: nn.Module) -> str:
    """Dotted path of the final classification layer (the one replaced for new classes)."""
    for family in FAMILIES:
        path = family.head_path(model)
        if path is not None:
            return path
    raise ModelError(f"cannot find the classification head of {type(model).__name__}")


def head_out_features(model: nn.Module) -> int:
    head = get_module(model, find_head_path(model))
    if isinstance(head, nn.Linear):
        return head.out_features
    if isinstance(head, nn.Conv2d):
        return head.out_channels
    raise ModelError(f"the head of {type(model).__name__} is neither a Linear nor a Conv2d layer")


def replace_head(model: nn.Module, num_classes: int) -> str:
    """Swap the head for a fresh one with ``num_classes`` outputs; returns its path."""
    return replace_head_at(model, find_head_path(model), num_classes)
