"""What the layer tree shows of an architecture, no Qt: its module tree, head, the parameters each
module holds, and its stages (ResNet's layer1..layer4, a ViT's encoder layers...), which the
"train the last N blocks" choice counts in."""

from __future__ import annotations

from typing import NamedTuple

from torch import nn

from tlgui.core.models.layers import LayerNode, layer_tree
from tlgui.core.models.zoo import build_model, find_head_path


class ArchitectureTree(NamedTuple):
    meta: nn.Module  # built on the meta device: every module and shape, no memory
    head: str  # the head's module path
    root: LayerNode
    own_names: dict[str, list[str]]  # module path -> the parameters registered on it directly
    blocks: list[LayerNode]  # stage_blocks()


def architecture_tree(name: str, num_classes: int, in_channels: int) -> ArchitectureTree:
    """Build ``name`` on the meta device (fast, no weights) and read its tree."""
    meta = build_model(name, num_classes, in_channels, device="meta")
    head = find_head_path(meta)
    root = layer_tree(meta)
    own_names: dict[str, list[str]] = {}
    for path, module in meta.named_modules():
        prefix = f"{path}." if path else ""
        names = [prefix + n for n, _ in module.named_parameters(recurse=False)]
        if names:
            own_names[path] = names
    return ArchitectureTree(meta, head, root, own_names, stage_blocks(root, head))


def stage_blocks(root: LayerNode, head_path: str) -> list[LayerNode]:
    """The network's natural stages in forward order, without the head.

    Start from the top-level modules (looking inside the one that holds the head), and
    while one module holds at least 90 % of the parameters, or fewer than three modules
    have sub-modules, split the biggest one into its children: ResNet -> layer1..layer4,
    ViT -> encoder_layer_0..N, ConvNeXt/EfficientNet/Swin/MobileNet -> features.N, RegNet
    -> trunk_output.blockN, smallcnn -> features.0..2, VGG -> its convolutions. Single
    layers (a stem convolution, a final norm) count only when fewer than three larger
    stages exist, so "the last block" is a real block.
    """

    def flatten(nodes: list[LayerNode]) -> list[LayerNode]:
        out: list[LayerNode] = []
        for node in nodes:
            if node.total_params == 0 or node.path == head_path:
                continue
            if head_path.startswith(node.path + "."):
                out.extend(flatten(node.children))
            else:
                out.append(node)
        return out

    def splittable(node: LayerNode) -> bool:
        return sum(1 for c in node.children if c.total_params > 0) >= 2

    blocks = flatten(root.children)
    for _ in range(8):
        if not blocks:
            break
        total = sum(b.total_params for b in blocks)
        big = max(blocks, key=lambda b: b.total_params)
        if not (big.total_params >= 0.9 * total and splittable(big)):
            major = [b for b in blocks if b.children]
            candidates = [b for b in major if splittable(b)]
            if len(major) >= 3 or not candidates:
                break
            big = max(candidates, key=lambda b: b.total_params)
        at = blocks.index(big)
        blocks[at : at + 1] = flatten(big.children)
    major = [b for b in blocks if b.children]
    return major if len(major) >= 3 else blocks
