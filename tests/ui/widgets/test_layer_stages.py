"""An architecture's tree as the layer tree shows it (widgets/layer_stages): built on the meta
device, its head apart, its stages in forward order, the parameters each module holds."""

from __future__ import annotations

from tlgui.ui.widgets.layer_stages import architecture_tree


def test_resnet_stages_are_its_four_layers_without_the_head():
    tree = architecture_tree("resnet18", 10, 3)
    assert tree.head == "fc"
    assert [b.path for b in tree.blocks] == ["layer1", "layer2", "layer3", "layer4"]
    assert next(tree.meta.parameters()).is_meta  # no memory, no weights
    assert tree.own_names["fc"] == ["fc.weight", "fc.bias"]
    assert "layer1" not in tree.own_names  # a container registers no parameters of its own
    assert tree.root.total_params == sum(p.numel() for p in tree.meta.parameters())
