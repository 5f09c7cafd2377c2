"""torchvision's classification models, named as ``torchvision.models.list_models()`` names them.

The fallback family: a name no other family owns is looked up here, and unknown names get
torchvision's close matches. Published weights are torchvision's weight enums (url, transforms,
meta), found on disk by file name (:mod:`tlgui.core.library.local`); never downloaded here.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import TYPE_CHECKING

import torch
from torch import nn

from tlgui.core.base.errors import ModelError
from tlgui.core.base.preprocessing import _RESAMPLE, IMAGENET_MEAN, IMAGENET_STD, Preprocessing
from tlgui.core.models.families import ArchitectureInfo, Browser, Shapes, WeightKind
from tlgui.core.models.head_layout import layout_head_path, replace_head_at

if TYPE_CHECKING:
    from torchvision.models import WeightsEnum

NAME = "torchvision"
BROWSER: Browser = "torchvision"
WEIGHT_KIND: WeightKind = "torchvision"
WEIGHTS_LABEL = "ImageNet weights"
STARTING_ALIAS: str | None = None
FOLLOWS_DATA_CHANNELS = False
AUTO_SIZE: tuple[int, int] | None = None
KEY_COUNT_CANDIDATES: tuple[str, ...] = ()

# name prefix -> group shown in the window (longest prefix wins)
_GROUPS = {
    "alexnet": "AlexNet",
    "convnext": "ConvNeXt",
    "densenet": "DenseNet",
    "efficientnet_v2": "EfficientNet V2",
    "efficientnet": "EfficientNet",
    "googlenet": "GoogLeNet",
    "inception": "Inception",
    "maxvit": "MaxViT",
    "mnasnet": "MNASNet",
    "mobilenet": "MobileNet",
    "regnet": "RegNet",
    "resnext": "ResNeXt",
    "resnet": "ResNet",
    "wide_resnet": "Wide ResNet",
    "shufflenet": "ShuffleNet",
    "squeezenet": "SqueezeNet",
    "swin": "Swin Transformer",
    "vgg": "VGG",
    "vit": "Vision Transformer",
}

# their published weights expect inputs scaled to [-1, 1] (torchvision's transform_input=True
# does this inside the model; we do it in the preprocessing instead)
_MINUS_ONE_TO_ONE = ("googlenet", "inception_v3")


@functools.lru_cache(maxsize=1)
def architectures() -> tuple[str, ...]:
    import torchvision

    return tuple(sorted(torchvision.models.list_models(module=torchvision.models)))


def owns(name: str) -> bool:
    return name in architectures()


def check(name: str) -> str:
    if not owns(name):
        raise ModelError(f"unknown torchvision model {name!r}")
    return name


def display_group(name: str) -> str:
    best = ""
    for prefix in _GROUPS:
        if name.startswith(prefix) and len(prefix) > len(best):
            best = prefix
    return _GROUPS.get(best, "Other")


def short_name(name: str) -> str:
    return name


def build(name: str, num_classes: int, in_channels: int, device: torch.device) -> nn.Module:
    if device.type == "meta":
        _regnet_widths_on_cpu()
    with device:
        model = _build(name)
    path = layout_head_path(model)
    if path is None:
        raise ModelError(f"cannot find the classification head of {type(model).__name__}")
    replace_head_at(model, path, num_classes)
    if in_channels != 3:  # multi-channel data: the first convolution takes every channel
        from tlgui.core.models.input_conv import set_input_channels

        set_input_channels(model, in_channels)
    return model


def _build(name: str) -> nn.Module:
    import torchvision

    kwargs = {}
    if name in _MINUS_ONE_TO_ONE:
        # auxiliary heads only matter when training from ImageNet; they complicate the loop
        kwargs = {"aux_logits": False, "init_weights": False}
    return torchvision.models.get_model(name, weights=None, **kwargs)


@functools.lru_cache(maxsize=1)
def _regnet_widths_on_cpu() -> None:
    """RegNet computes its stage widths with tensors; under a meta device those hold no
    values. Compute them on the CPU instead: same numbers, so models built any other way
    are unaffected (installed once, never removed, so no other thread can race with it)."""
    from torchvision.models import regnet

    original = regnet.BlockParams.from_init_params.__func__

    def on_cpu(cls, *args, **kwargs):
        with torch.device("cpu"):
            return original(cls, *args, **kwargs)

    regnet.BlockParams.from_init_params = classmethod(on_cpu)


def weight_entries(name: str) -> list[WeightsEnum]:
    import torchvision

    try:
        return list(torchvision.models.get_model_weights(name))
    except (KeyError, ValueError):
        return []


def default_weight_entry(name: str) -> WeightsEnum | None:
    import torchvision

    enum = torchvision.models.get_model_weights(name)
    return getattr(enum, "DEFAULT", None)


def weight_names(name: str) -> tuple[str, ...]:
    return tuple(entry.name for entry in weight_entries(name))


def preprocessing(name: str, entry: WeightsEnum | None = None, image_size: int | None = None,
                  pretrained_cfg: Mapping[str, object] | None = None) -> Preprocessing:
    """From the weight entry's transforms (default: the architecture's DEFAULT weights)."""
    entry = entry if entry is not None else default_weight_entry(name)
    crop, resize, interpolation = 224, 256, "bilinear"
    if entry is not None:
        transforms = entry.transforms()
        crop = int(transforms.crop_size[0])
        resize = int(transforms.resize_size[0])
        interpolation = str(transforms.interpolation.value)
    if image_size is not None:
        resize = round(image_size * resize / crop)
        crop = image_size
    mean, std = list(IMAGENET_MEAN), list(IMAGENET_STD)
    if name in _MINUS_ONE_TO_ONE:
        mean, std = [0.5] * 3, [0.5] * 3
    return Preprocessing(
        resize=resize,
        crop=crop,
        channels=3,
        mean=mean,
        std=std,
        interpolation=interpolation if interpolation in _RESAMPLE else "bilinear",
    )


def head_path(model: nn.Module) -> str | None:
    return layout_head_path(model)


def input_channels(name: str, shapes: Shapes | None = None) -> int:
    return 3


def describe(name: str) -> ArchitectureInfo:
    entries = weight_entries(name)
    num_params = entries[0].meta.get("num_params") if entries else None
    if num_params is None:
        model = build(name, 1000, 3, torch.device("meta"))
        num_params = sum(p.numel() for p in model.parameters())
    input_size = 224
    if entries:
        crop = getattr(entries[0].transforms(), "crop_size", None)
        if crop:
            input_size = int(crop[0])
    return ArchitectureInfo(name, display_group(name), int(num_params), input_size, 3, tuple(e.name for e in entries))
