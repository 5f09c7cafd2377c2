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

from tlgui.core.models.layers import LayerNode, layer_tree


@dataclass(frozen=True)
class BlockGroup:
    paths: tuple[str, ...]  # module paths whose parameters form the group
    scale: float  # learning-rate multiplier (the head: 1)


def _kids(node: LayerNode) -> list[LayerNode]:
    return [child for child in node.children if child.total_params]


def _is_list(node: LayerNode) -> bool:
    return node.type_name in ("Sequential", "ModuleList")


def _opens(node: LayerNode, parent_total: int) -> bool:
    """Whether a module is a body to open into its blocks rather than one block."""
    kids = _kids(node)
    if len(kids) < 2 or 2 * node.total_params < parent_total:
        return False
    return len(kids) >= 3 or not _is_list(node)  # a 2-block stage (ResNet's layer4) stays one group


def _units(node: LayerNode, head_path: str, in_list: bool = False) -> list[tuple[str, bool]]:
    """(module path, is a single layer) in forward order, the head left out. Once a list of
    blocks is opened its blocks stay whole (EfficientNet's stage 6 is not opened further)."""
    units: list[tuple[str, bool]] = []
    for child in _kids(node):
        if child.path == head_path:
            continue
        holds_head = head_path.startswith(child.path + ".")
        if holds_head or (not in_list and _opens(child, node.total_params)):
            units.extend(_units(child, head_path, in_list or (_is_list(child) and not holds_head)))
        else:
            units.append((child.path, not _kids(child)))
    return units


def block_groups(model: nn.Module | LayerNode, head_path: str, decay: float = 1.0) -> list[BlockGroup]:
    """The block groups of a model (or its layer tree) in forward order, the head last, with
    their rate multipliers."""
    root = model if isinstance(model, LayerNode) else layer_tree(model)
    merged: list[list[str]] = []
    previous_single = False
    for path, single in _units(root, head_path):
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
        if any(name.startswith(path + ".") for path in group.paths):
            return index
    return 0  # held by a container directly (class token, position embedding): with the stem


def parameter_scales(model: nn.Module, head_path: str, decay: float) -> dict[str, float]:
    """Parameter name -> learning-rate multiplier."""
    groups = block_groups(model, head_path, decay)
    return {name: groups[_owner(name, groups)].scale for name, _ in model.named_parameters()}


def module_scales(root: LayerNode, head_path: str, decay: float) -> dict[str, tuple[float, float]]:
    """Module path -> (lowest, highest) multiplier of the parameters under it, for the layer tree."""
    groups = block_groups(root, head_path, decay)
    found: dict[str, tuple[float, float]] = {}

    def visit(node: LayerNode) -> list[float]:
        mine = [groups[_owner(f"{node.path}.(own)", groups)].scale] if node.own_params else []
        for child in node.children:
            mine.extend(visit(child))
        if mine:
            found[node.path] = (min(mine), max(mine))
        return mine

    visit(root)
    return found
