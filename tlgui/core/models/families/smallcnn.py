"""``smallcnn``: tlgui's own compact CNN for small images, trained from scratch in seconds on a CPU.

It publishes no weights (the demo's source model, ``demo:source``, is made for it), is built
for the data's own channels and, unless told otherwise, for the images' own size.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import torch
from torch import nn

from tlgui.core.base.errors import ModelError
from tlgui.core.base.preprocessing import Preprocessing
from tlgui.core.models.families import ArchitectureInfo, Browser, Shapes, WeightKind
from tlgui.core.models.heads import init_new_head

if TYPE_CHECKING:
    from torchvision.models import WeightsEnum

SMALLCNN = "smallcnn"

NAME = SMALLCNN
BROWSER: Browser = "torchvision"  # listed first in the built-in list
WEIGHT_KIND: WeightKind = "none"
WEIGHTS_LABEL = "ImageNet weights"
STARTING_ALIAS: str | None = "demo:source"  # registered by tlgui.core.workflows.demo
FOLLOWS_DATA_CHANNELS = True
AUTO_SIZE: tuple[int, int] | None = (28, 64)
KEY_COUNT_CANDIDATES: tuple[str, ...] = (SMALLCNN,)

_FIRST_CONV = "features.0.0.weight"


class SmallCNN(nn.Module):
    """A compact CNN for small (e.g. 28x28) images that trains in seconds on a CPU."""

    def __init__(self, num_classes: int = 10, in_channels: int = 1, width: int = 32):
        super().__init__()

        def block(cin: int, cout: int) -> nn.Sequential:
            return nn.Sequential(
                nn.Conv2d(cin, cout, 3, padding=1, bias=False),
                nn.BatchNorm2d(cout),
                nn.ReLU(inplace=True),
                nn.MaxPool2d(2),
            )

        self.features = nn.Sequential(
            block(in_channels, width),
            block(width, width * 2),
            block(width * 2, width * 4),
        )
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.dropout = nn.Dropout(0.2)
        self.fc = nn.Linear(width * 4, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pool(self.features(x)).flatten(1)
        return self.fc(self.dropout(x))


def owns(name: str) -> bool:
    return name == SMALLCNN


def architectures() -> tuple[str, ...]:
    return (SMALLCNN,)


def check(name: str) -> str:
    if not owns(name):
        raise ModelError(f"unknown model {name!r}")
    return name


def display_group(name: str) -> str:
    return "Compact CNN"


def short_name(name: str) -> str:
    return ""  # its weights (a run, the demo's model) name a smallcnn alone


def build(name: str, num_classes: int, in_channels: int, device: torch.device) -> nn.Module:
    with device:
        model = SmallCNN(num_classes=num_classes, in_channels=in_channels)
    init_new_head(model.fc)
    return model


def weight_entries(name: str) -> list[WeightsEnum]:
    return []


def default_weight_entry(name: str) -> WeightsEnum | None:
    return None


def weight_names(name: str) -> tuple[str, ...]:
    return ()


def preprocessing(name: str, entry: WeightsEnum | None = None, image_size: int | None = None,
                  pretrained_cfg: Mapping[str, object] | None = None) -> Preprocessing:
    size = image_size or 28
    return Preprocessing(resize=size, crop=size, channels=1, mean=[0.5], std=[0.5])


def head_path(model: nn.Module) -> str | None:
    return "fc" if isinstance(model, SmallCNN) else None


def input_channels(name: str, shapes: Shapes | None = None) -> int:
    """1, or the first convolution's input channels in ``shapes`` when those are 1 or 3."""
    first = (shapes or {}).get(_FIRST_CONV)
    if first is not None and len(first) == 4 and first[1] in (1, 3):
        return first[1]
    return 1


def describe(name: str) -> ArchitectureInfo:
    count = sum(p.numel() for p in SmallCNN().parameters())
    return ArchitectureInfo(name, display_group(name), count, 28, 1, ())
