"""Where a classifier sits in a model, and swapping it: the layouts every family shares."""

from __future__ import annotations

from torch import nn

from tlgui.core.models.heads import init_new_head

_LINEAR_PATHS = (
    "fc",  # resnet, resnext, wide_resnet, regnet, googlenet, inception, shufflenet, smallcnn
    "heads.head",  # vit
    "head",  # swin
    "classifier",  # densenet
)


def layout_head_path(model: nn.Module) -> str | None:
    """The classifier's path by the known layouts, else the last Linear; None when there is none."""
    for path in _LINEAR_PATHS:
        if isinstance(get_module(model, path), nn.Linear):
            return path
    classifier = get_module(model, "classifier")
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
    return last


def replace_head_at(model: nn.Module, path: str, num_classes: int) -> str:
    """Swap the head at ``path`` for a fresh one with ``num_classes`` outputs; returns ``path``."""
    old = model.get_submodule(path)
    device = next(old.parameters()).device
    if isinstance(old, nn.Linear):
        new: nn.Module = nn.Linear(old.in_features, num_classes, bias=old.bias is not None).to(device)
    elif isinstance(old, nn.Conv2d):
        new = nn.Conv2d(old.in_channels, num_classes, kernel_size=(old.kernel_size[0], old.kernel_size[1])).to(device)
    else:
        raise TypeError(f"the head at {path} is a {type(old).__name__}, not a Linear or Conv2d")
    init_new_head(new)  # small: the first loss is near log(classes)
    set_module(model, path, new)
    if "num_classes" in vars(model):
        # a plain attribute, kept in the instance's __dict__ (nn.Module's __setattr__ is typed for tensors only)
        vars(model)["num_classes"] = num_classes
    return path


def get_module(model: nn.Module, path: str) -> nn.Module | None:
    try:
        return model.get_submodule(path)
    except AttributeError:
        return None


def set_module(model: nn.Module, path: str, module: nn.Module) -> None:
    parent_path, _, child = path.rpartition(".")
    parent = model.get_submodule(parent_path) if parent_path else model
    if isinstance(parent, nn.Sequential) and child.isdigit():
        parent[int(child)] = module
    else:
        setattr(parent, child, module)
