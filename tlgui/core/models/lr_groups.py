"""Block groups for discriminative learning rates (``--layer-lr-decay F``).

The model is cut into block groups in forward order, from its layer tree: the container that
holds most of the parameters (ResNet's body is already its top level; EfficientNet's
``features``/``blocks``, ViT's ``encoder.layers``/``blocks``, ConvNeXt's ``stages``) is opened into
its blocks, each block is a group, consecutive single layers outside blocks (a stem's conv and
norm, a final norm) form one group, parameters held directly by a container (ViT's class token
and position embedding) join the first group, and the head is the last group. The head trains at
the run's rate; each earlier group gets F times the rate of the next (ULMFiT's discriminative
fine-tuning, timm's layer decay).
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import nn


@dataclass(frozen=True)
class BlockGroup:
    paths: tuple[str, ...]  # module paths whose parameters form the group
    scale: float  # learning-rate multiplier (the head: 1)


def _count(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def _param_children(module: nn.Module, path: str) -> list[tuple[str, nn.Module]]:
    return [(f"{path}.{name}" if path else name, child) for name, child in module.named_children() if _count(child)]


def _opens(child: nn.Module, path: str, parent_total: int) -> bool:
    """Whether a child is a body to open into its blocks rather than one block."""
    kids = _param_children(child, path)
    if len(kids) < 2 or 2 * _count(child) < parent_total:
        return False
    is_list = isinstance(child, (nn.Sequential, nn.ModuleList))
    return len(kids) >= 3 or not is_list  # a 2-block stage (ResNet's layer4) stays one group


def _units(module: nn.Module, path: str, head_path: str, in_list: bool = False) -> list[tuple[str, bool]]:
    """(module path, is a single layer) in forward order, the head left out. Once a list of
    blocks is opened its blocks stay whole (EfficientNet's stage 6 is not opened further)."""
    units: list[tuple[str, bool]] = []
    total = _count(module)
    for child_path, child in _param_children(module, path):
        if child_path == head_path:
            continue
        holds_head = head_path.startswith(child_path + ".")
        if holds_head or (not in_list and _opens(child, child_path, total)):
            is_list = isinstance(child, (nn.Sequential, nn.ModuleList)) and not holds_head
            units.extend(_units(child, child_path, head_path, in_list or is_list))
        else:
            units.append((child_path, not _param_children(child, child_path)))
    return units


def block_groups(model: nn.Module, head_path: str, decay: float = 1.0) -> list[BlockGroup]:
    """The model's block groups in forward order, the head last, with their rate multipliers."""
    merged: list[list[str]] = []
    previous_single = False
    for path, single in _units(model, "", head_path):
        if single and previous_single:
            merged[-1].append(path)
        else:
            merged.append([path])
        previous_single = single
    merged.append([head_path])
    last = len(merged) - 1
    return [BlockGroup(tuple(paths), float(decay) ** (last - i)) for i, paths in enumerate(merged)]


def _owner(name: str, groups: list[BlockGroup]) -> int:
    for index, group in enumerate(groups):
        if any(path == "" or name.startswith(path + ".") for path in group.paths):
            return index
    return 0  # held by a container directly (class token, position embedding): with the stem


def parameter_scales(model: nn.Module, head_path: str, decay: float) -> dict[str, float]:
    """Parameter name -> learning-rate multiplier."""
    groups = block_groups(model, head_path, decay)
    return {name: groups[_owner(name, groups)].scale for name, _ in model.named_parameters()}


def module_scales(model: nn.Module, head_path: str, decay: float) -> dict[str, tuple[float, float]]:
    """Module path -> (lowest, highest) multiplier of the parameters under it, for the layer tree."""
    scales = parameter_scales(model, head_path, decay)
    found: dict[str, tuple[float, float]] = {}
    for path, module in model.named_modules():
        prefix = path + "." if path else ""
        mine = [scales[prefix + name] for name, _ in module.named_parameters()]
        if mine:
            found[path] = (min(mine), max(mine))
    return found
