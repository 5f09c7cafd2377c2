"""New heads start small in every family: the first batch's loss is near log(classes)."""

import math

import pytest
import torch

from tlgui.core.models.zoo import build_model, find_head_path

CLASSES = 10


def _first_loss(name: str, size: int, in_channels: int = 3, classes: int = 2) -> float:
    torch.manual_seed(0)
    model = build_model(name, classes, in_channels=in_channels)
    model.train()
    x = torch.randn(4 * classes, in_channels, size, size)
    y = torch.arange(classes).repeat(4)  # balanced classes
    with torch.no_grad():
        return float(torch.nn.functional.cross_entropy(model(x), y))


def _near_log_classes(name: str, size: int, in_channels: int = 3) -> None:
    # 2 classes (issue 21's case: timm's own head gave a 2.40 first-epoch loss) within 0.3;
    # 10 classes within 0.5 (a random backbone maps every image to nearly one feature vector,
    # and ConvNeXt's normed pooled features then add ~0.33 with the same +-1/sqrt(fan_in) rule)
    assert abs(_first_loss(name, size, in_channels, 2) - math.log(2)) < 0.3
    assert abs(_first_loss(name, size, in_channels, 10) - math.log(10)) < 0.5


def _head_bound_ok(name: str) -> None:
    model = build_model(name, CLASSES)
    head = model.get_submodule(find_head_path(model))
    fan_in = head.weight[0].numel()
    assert float(head.weight.detach().abs().max()) <= 1 / math.sqrt(fan_in) + 1e-6
    assert head.bias is None or float(head.bias.detach().abs().max()) == 0.0


@pytest.mark.parametrize("name,size", [("resnet18", 64), ("mobilenet_v3_small", 64), ("squeezenet1_1", 64)])
def test_torchvision_heads_start_small(name, size):
    _head_bound_ok(name)
    _near_log_classes(name, size)


def test_smallcnn_head_starts_small():
    _head_bound_ok("smallcnn")
    _near_log_classes("smallcnn", 28, in_channels=1)


@pytest.mark.parametrize("name,size", [
    ("timm:efficientnet_b0", 64), ("timm:mobilenetv3_small_050", 64), ("timm:convnext_atto", 64),
    ("timm:vit_tiny_patch16_224", 224),
])
def test_timm_heads_start_small(name, size):
    pytest.importorskip("timm")
    _head_bound_ok(name)  # timm's create_model(num_classes=10) drew EfficientNet's head from +-1/sqrt(10)
    _near_log_classes(name, size)


def test_a_distilled_timm_head_is_small_too():
    pytest.importorskip("timm")
    model = build_model("timm:deit_tiny_distilled_patch16_224", CLASSES)
    assert float(model.head_dist.weight.detach().abs().max()) <= 1 / math.sqrt(192) + 1e-6
