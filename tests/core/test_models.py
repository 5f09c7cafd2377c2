import pytest
import torch
from torch import nn

from tlgui.core.base.errors import ModelError
from tlgui.core.models.zoo import (
    SmallCNN,
    architecture_info,
    build_model,
    check_architecture,
    family_of,
    find_head_path,
    head_out_features,
    list_architectures,
    replace_head,
)

FAMILIES = {
    "resnet18": "fc",
    "mobilenet_v3_small": "classifier.3",
    "efficientnet_b0": "classifier.1",
    "convnext_tiny": "classifier.2",
    "vit_b_16": "heads.head",
    "densenet121": "classifier",
    "squeezenet1_1": "classifier.1",
    "swin_t": "head",
    "regnet_y_400mf": "fc",
    "googlenet": "fc",
}


@pytest.mark.parametrize("name,head", sorted(FAMILIES.items()))
def test_head_swap_per_family(name, head):
    model = build_model(name, 7, device="meta")
    assert find_head_path(model) == head
    assert head_out_features(model) == 7


@pytest.mark.parametrize("name", ["resnet18", "mobilenet_v3_small", "squeezenet1_1"])
def test_swapped_model_runs_forward(name):
    torch.manual_seed(0)
    model = build_model(name, 5).eval()
    with torch.no_grad():
        out = model(torch.randn(2, 3, 64, 64))
    assert out.shape == (2, 5)


def test_every_torchvision_classifier_gets_a_head():
    names = list_architectures()
    assert names[0] == "smallcnn" and "resnet50" in names and "vit_b_16" in names
    for name in names:
        assert head_out_features(build_model(name, 3, device="meta")) == 3, name


def test_replace_head_keeps_backbone():
    model = build_model("resnet18", 10)
    before = model.layer1[0].conv1.weight.clone()
    path = replace_head(model, 4)
    assert path == "fc" and model.fc.out_features == 4
    assert torch.equal(model.layer1[0].conv1.weight, before)


def test_smallcnn_trains_on_gray_and_rgb():
    assert SmallCNN(3, in_channels=1)(torch.randn(2, 1, 28, 28)).shape == (2, 3)
    assert build_model("smallcnn", 4, in_channels=3)(torch.randn(2, 3, 32, 32)).shape == (2, 4)


def test_unknown_model_suggests_close_names():
    with pytest.raises(ModelError, match="resnet18"):
        check_architecture("resnet19")


def test_architecture_info_and_families():
    info = architecture_info("resnet18")
    assert info.num_params == 11_689_512 and info.input_size == 224 and "IMAGENET1K_V1" in info.weights
    assert architecture_info("smallcnn").in_channels == 1
    assert family_of("wide_resnet50_2") == "Wide ResNet"
    assert family_of("efficientnet_v2_s") == "EfficientNet V2"


def test_too_few_classes_rejected():
    with pytest.raises(ModelError, match="at least 2"):
        build_model("smallcnn", 1)


def test_meta_build_of_regnet_allocates_nothing():
    model = build_model("regnet_y_128gf", 10, device="meta")
    assert all(p.device.type == "meta" for p in model.parameters())
    assert isinstance(model.fc, nn.Linear)


def test_regnet_real_build_matches_meta_structure():
    real = build_model("regnet_y_400mf", 4)
    meta = build_model("regnet_y_400mf", 4, device="meta")
    assert [(n, p.shape) for n, p in real.named_parameters()] == [(n, p.shape) for n, p in meta.named_parameters()]
    # real weights were initialised (not left as empty memory)
    assert float(real.stem[0].weight.detach().std()) > 0
