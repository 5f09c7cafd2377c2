"""Families of models, one module each: what a ``--model`` name can be.

A family answers, for the names it owns, everything the app asks of an architecture: build it,
list its published weights and their preprocessing, find its head, say how many input channels
it takes and how the window groups and labels it. Every family is a module (or any object) with
the members of :class:`ModelFamily`; nothing outside a family tests which family a name is in.

Families import the shared model helpers (:mod:`tlgui.core.models.head_layout`, ``heads``,
``input_conv``) and their own library's glue, never each other. The registry
(:mod:`tlgui.core.models.registry`) lists them in the order it asks them; a new family is one
module here plus one line there (or ``registry.register_family(module)`` from a higher layer).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, Protocol

import torch
from torch import nn

from tlgui.core.base.preprocessing import Preprocessing

if TYPE_CHECKING:
    from torchvision.models import WeightsEnum

# What ``--weights`` resolved to (training/prepare.py's WeightSource.kind). A family's
# ``WEIGHT_KIND`` is the one ``--weights default`` gives: "torchvision" (torch hub cache or the
# library, by file name), "timm" (the Hugging Face hub cache or the library) or "none" (nothing
# published; the family's ``STARTING_ALIAS``, a file or random weights instead).
WeightKind = Literal["none", "torchvision", "timm", "tlgui", "state_dict"]

# Which architecture list of the Train page shows a family's names.
Browser = Literal["torchvision", "timm"]

Shapes = Mapping[str, tuple[int, ...]]


@dataclass(frozen=True)
class ArchitectureInfo:
    name: str
    family: str  # the display group, e.g. "ResNet", "timm", "Compact CNN"
    num_params: int
    input_size: int  # side of the square crop the weights were trained on
    in_channels: int
    weights: tuple[str, ...]  # published weight names: torchvision entries ("IMAGENET1K_V1",) or timm tags


class ModelFamily(Protocol):
    NAME: str  # "torchvision", "timm", "smallcnn"
    BROWSER: Browser
    WEIGHT_KIND: WeightKind  # what --weights default resolves to
    WEIGHTS_LABEL: str  # what its published weights are called: "ImageNet weights", "pretrained timm weights"
    STARTING_ALIAS: str | None  # a named weight source made for it (smallcnn: "demo:source"), else None
    FOLLOWS_DATA_CHANNELS: bool  # built for the data's channels (gray stays gray); else 3 for pictures
    AUTO_SIZE: tuple[int, int] | None  # the images' own size within these bounds; None: its weights' size
    KEY_COUNT_CANDIDATES: tuple[str, ...]  # recognised by key count alone (no published parameter count)

    def owns(self, name: str) -> bool:
        """Whether ``name`` is one of this family's (a cheap test: no model is built)."""
        ...

    def architectures(self) -> tuple[str, ...]:
        """The names ``tlgui layers --list`` and the built-in list show (empty: listed elsewhere)."""
        ...

    def check(self, name: str) -> str:
        """``name`` when it can be built; ModelError naming close matches when not."""
        ...

    def display_group(self, name: str) -> str: ...

    def short_name(self, name: str) -> str:
        """What a label with little room calls ``name`` beside its weights: without the family's
        prefix (``timm:resnet18`` -> ``resnet18``); empty when the weights alone name it."""
        ...

    def build(self, name: str, num_classes: int, in_channels: int, device: torch.device) -> nn.Module:
        """Randomly initialised, with a small new head of ``num_classes`` outputs."""
        ...

    def weight_entries(self, name: str) -> list[WeightsEnum]:
        """torchvision's weight enum members (url, transforms, meta); empty for other families."""
        ...

    def default_weight_entry(self, name: str) -> WeightsEnum | None: ...

    def weight_names(self, name: str) -> tuple[str, ...]:
        """The published weights it knows for ``name``, default first."""
        ...

    def preprocessing(self, name: str, entry: WeightsEnum | None = None, image_size: int | None = None,
                      pretrained_cfg: Mapping[str, object] | None = None) -> Preprocessing:
        """From the weights' own metadata (a torchvision entry, a timm ``pretrained_cfg``), else the
        family's defaults; ``image_size`` overrides the crop."""
        ...

    def head_path(self, model: nn.Module) -> str | None:
        """Dotted path of the classifier of ``model`` when it is this family's; None when not."""
        ...

    def input_channels(self, name: str, shapes: Shapes | None = None) -> int:
        """The channels ``name`` takes; with a state dict's ``shapes``, those the weights were made for."""
        ...

    def describe(self, name: str) -> ArchitectureInfo: ...
