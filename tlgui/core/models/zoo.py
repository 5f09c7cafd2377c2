"""How images become model inputs: one plain description shared by training,
evaluation, prediction and exported bundles (so they can never disagree)."""

from __future__ import annotations

import difflib
import functools
from dataclasses import dataclass

import torch
from torch import nn

from tlgui.core.base.errors import ModelError
from tlgui.core.base.preprocessing import _RESAMPLE, IMAGENET_MEAN, IMAGENET_STD, Preprocessing
from tlgui.core.models.heads import init_new_head
from tlgui.core.models.timm_zoo import (
    build_timm,
    check_timm,
    is_timm,
    is_timm_model,
    timm_head_path,
    timm_preprocessing,
    timm_pretrained_tags,
)


def default_preprocessing(architecture: str, weight_entry=None, image_size: int | None = None) -> Preprocessing:
    """From the torchvision weights' metadata, else sensible defaults; ``image_size`` overrides."""
    from tlgui.core.models.zoo import SMALLCNN, default_weight_entry

    if is_timm(architecture):
        return timm_preprocessing(architecture, None, image_size)
    if architecture == SMALLCNN:
        size = image_size or 28
        return Preprocessing(resize=size, crop=size, channels=1, mean=[0.5], std=[0.5])
    entry = weight_entry if weight_entry is not None else default_weight_entry(architecture)
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
    if architecture in ("googlenet", "inception_v3"):
        # their published weights expect inputs scaled to [-1, 1] (torchvision's
        # transform_input=True does this inside the model; we do it here instead)
        mean, std = [0.5] * 3, [0.5] * 3
    return Preprocessing(
        resize=resize,
        crop=crop,
        channels=3,
        mean=mean,
        std=std,
        interpolation=interpolation if interpolation in _RESAMPLE else "bilinear",
    )


SMALLCNN = "smallcnn"


# name prefix -> family shown in the GUI (longest prefix wins)
_FAMILIES = {
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
    SMALLCNN: "Compact CNN",
}


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


@dataclass(frozen=True)
class ArchitectureInfo:
    name: str
    family: str
    num_params: int
    input_size: int  # side of the square crop the weights were trained on
    in_channels: int
    weights: tuple[str, ...]  # torchvision weight entry names, e.g. ("IMAGENET1K_V1",)


@functools.lru_cache(maxsize=1)
def list_architectures() -> tuple[str, ...]:
    import torchvision

    names = sorted(torchvision.models.list_models(module=torchvision.models))
    return (SMALLCNN, *names)


def family_of(name: str) -> str:
    if is_timm(name):
        return "timm"
    best = ""
    for prefix in _FAMILIES:
        if name.startswith(prefix) and len(prefix) > len(best):
            best = prefix
    return _FAMILIES.get(best, "Other")


def check_architecture(name: str) -> str:
    if is_timm(name):
        return check_timm(name)
    names = list_architectures()
    if name in names:
        return name
    close = difflib.get_close_matches(name.lower(), names, n=4, cutoff=0.5)
    hint = f"; did you mean {', '.join(close)}?" if close else "; run 'tlgui layers --list' for all names"
    raise ModelError(f"unknown model {name!r}{hint}")


def weight_entries(name: str):
    """torchvision's weight enum members for an architecture (empty for smallcnn and timm)."""
    if name == SMALLCNN or is_timm(name):
        return []
    import torchvision

    try:
        return list(torchvision.models.get_model_weights(name))
    except (KeyError, ValueError):
        return []


def default_weight_entry(name: str):
    if name == SMALLCNN or is_timm(name):
        return None
    import torchvision

    enum = torchvision.models.get_model_weights(name)
    return getattr(enum, "DEFAULT", None)


@functools.cache
def architecture_info(name: str) -> ArchitectureInfo:
    check_architecture(name)
    if is_timm(name):
        return _timm_info(name)
    entries = weight_entries(name)
    if name == SMALLCNN:
        model = SmallCNN()
        return ArchitectureInfo(name, family_of(name), _count(model), 28, 1, ())
    num_params = entries[0].meta.get("num_params") if entries else None
    if num_params is None:
        num_params = _count(build_model(name, 1000, device="meta"))
    input_size = 224
    if entries:
        transforms = entries[0].transforms()
        crop = getattr(transforms, "crop_size", None)
        if crop:
            input_size = int(crop[0])
    return ArchitectureInfo(
        name, family_of(name), int(num_params), input_size, 3, tuple(e.name for e in entries)
    )


def _timm_info(name: str) -> ArchitectureInfo:
    prep = timm_preprocessing(name)
    model = build_model(name, 1000, device="meta")
    return ArchitectureInfo(name, "timm", _count(model), prep.crop, 3, timm_pretrained_tags(name))


def _count(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


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
    if name == SMALLCNN:
        with device:
            model = SmallCNN(num_classes=num_classes, in_channels=in_channels)
        init_new_head(model.fc)
        return model
    if is_timm(name):
        return build_timm(name, num_classes, in_channels, device)
    if device.type == "meta":
        _regnet_widths_on_cpu()
    with device:
        model = _build_torchvision(name)
    replace_head(model, num_classes)
    if in_channels != 3:  # multi-channel data: the first convolution takes every channel
        from tlgui.core.models.input_conv import set_input_channels

        set_input_channels(model, in_channels)
    return model


def _build_torchvision(name: str) -> nn.Module:
    import torchvision

    kwargs = {}
    if name in ("googlenet", "inception_v3"):
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


def model_input_channels(name: str) -> int:
    return 1 if name == SMALLCNN else 3


def find_head_path(model: nn.Module) -> str:
    """Dotted path of the final classification layer (the one replaced for new classes)."""
    if is_timm_model(model):
        path = timm_head_path(model)
        if path is not None:
            return path
    candidates = [
        "fc",  # resnet, resnext, wide_resnet, regnet, googlenet, inception, shufflenet, smallcnn
        "heads.head",  # vit
        "head",  # swin
        "classifier",  # densenet
    ]
    for path in candidates:
        module = _get(model, path)
        if isinstance(module, nn.Linear):
            return path
    classifier = _get(model, "classifier")
    if isinstance(classifier, nn.Sequential):
        # alexnet, vgg, mobilenet, efficientnet, convnext, mnasnet, maxvit: last Linear;
        # squeezenet: its final 1x1 Conv2d produces the class scores
        for index in range(len(classifier) - 1, -1, -1):
            if isinstance(classifier[index], (nn.Linear, nn.Conv2d)):
                return f"classifier.{index}"
    # unknown layout: the last Linear in registration order
    last = None
    for path, module in model.named_modules():
        if isinstance(module, nn.Linear):
            last = path
    if last is None:
        raise ModelError(f"cannot find the classification head of {type(model).__name__}")
    return last


def head_out_features(model: nn.Module) -> int:
    head = _get(model, find_head_path(model))
    return head.out_features if isinstance(head, nn.Linear) else head.out_channels


def replace_head(model: nn.Module, num_classes: int) -> str:
    """Swap the head for a fresh one with ``num_classes`` outputs; returns its path."""
    path = find_head_path(model)
    old = _get(model, path)
    device = next(old.parameters()).device
    if isinstance(old, nn.Linear):
        new: nn.Module = nn.Linear(old.in_features, num_classes, bias=old.bias is not None).to(device)
    else:
        new = nn.Conv2d(old.in_channels, num_classes, kernel_size=old.kernel_size).to(device)
    init_new_head(new)  # small: the first loss is near log(classes)
    _set(model, path, new)
    if hasattr(model, "num_classes"):
        model.num_classes = num_classes
    return path


def _get(model: nn.Module, path: str) -> nn.Module | None:
    try:
        return model.get_submodule(path)
    except AttributeError:
        return None


def _set(model: nn.Module, path: str, module: nn.Module) -> None:
    parent_path, _, child = path.rpartition(".")
    parent = model.get_submodule(parent_path) if parent_path else model
    if isinstance(parent, nn.Sequential) and child.isdigit():
        parent[int(child)] = module
    else:
        setattr(parent, child, module)
