import pytest
import torch
from torch import nn

from tlgui.core.base.config import TrainConfig
from tlgui.core.base.errors import ModelError
from tlgui.core.models.layers import FreezePlan, apply_freeze, layer_tree, set_train_mode
from tlgui.core.models.zoo import build_model, find_head_path
from tlgui.core.training.loop import train

from .learnable import image_folder


def flags(model):
    return {n: p.requires_grad for n, p in model.named_parameters()}


def test_layer_tree_counts_match_model():
    model = build_model("resnet18", 10, device="meta")
    tree = layer_tree(model)
    assert tree.total_params == sum(p.numel() for p in model.parameters())
    layer1 = tree.find("layer1")
    assert layer1.total_params == sum(p.numel() for p in model.layer1.parameters())
    assert tree.find("layer1.0.conv1").own_params == 64 * 64 * 9
    assert [c.name for c in tree.children][:2] == ["conv1", "bn1"]


def test_plan_parse_and_spec_round_trip():
    for spec in ["none", "backbone", "upto:layer3", "conv1,layer1"]:
        assert FreezePlan.parse(spec).to_spec() == spec


def test_backbone_freezes_all_but_head():
    model = build_model("resnet18", 4)
    report = apply_freeze(model, FreezePlan.parse("backbone"), "fc")
    trainable = [n for n, g in flags(model).items() if g]
    assert trainable == ["fc.weight", "fc.bias"]
    assert report.trainable_params == 512 * 4 + 4
    assert report.frozen_params + report.trainable_params == sum(p.numel() for p in model.parameters())
    assert "Trainable: 2,052 of" in report.describe()


def test_upto_freezes_forward_prefix():
    model = build_model("resnet18", 4)
    apply_freeze(model, FreezePlan.parse("upto:layer2"), "fc")
    f = flags(model)
    assert not f["conv1.weight"] and not f["bn1.weight"] and not f["layer2.1.conv2.weight"]
    assert f["layer3.0.conv1.weight"] and f["layer4.1.bn2.bias"] and f["fc.weight"]


def test_path_list_freezes_only_those():
    model = build_model("resnet18", 4)
    report = apply_freeze(model, FreezePlan.parse("conv1,layer3"), "fc")
    f = flags(model)
    assert not f["conv1.weight"] and not f["layer3.0.conv1.weight"]
    assert f["bn1.weight"] and f["layer2.0.conv1.weight"] and f["layer4.0.conv1.weight"]
    assert set(report.frozen_modules) == {"conv1", "layer3"}


def test_none_trains_everything():
    model = build_model("mobilenet_v3_small", 3)
    report = apply_freeze(model, FreezePlan.parse("none"), find_head_path(model))
    assert report.frozen_params == 0 and all(flags(model).values())


def test_unknown_path_lists_close_names():
    model = build_model("resnet18", 4)
    with pytest.raises(ModelError, match="layer3"):
        apply_freeze(model, FreezePlan.parse("upto:layer33"), "fc")


def test_frozen_batchnorm_stays_in_eval_mode():
    model = build_model("resnet18", 4)
    report = apply_freeze(model, FreezePlan.parse("upto:layer1"), "fc")
    set_train_mode(model, report, bn_update_frozen=False)
    assert not model.bn1.training and not model.layer1[0].bn1.training
    assert model.layer2[0].bn1.training
    set_train_mode(model, report, bn_update_frozen=True)
    assert model.bn1.training


def test_frozen_prefix_builds_no_autograd_graph():
    model = build_model("resnet18", 4)
    report = apply_freeze(model, FreezePlan.parse("upto:layer3"), "fc")
    set_train_mode(model, report, False)
    seen = {}
    model.layer3.register_forward_hook(lambda m, i, o: seen.setdefault("layer3", o))
    model.layer4.register_forward_hook(lambda m, i, o: seen.setdefault("layer4", o))
    model(torch.randn(2, 3, 64, 64)).sum().backward()
    # no tensor in the frozen prefix needs grad, so autograd records nothing there
    assert seen["layer3"].grad_fn is None and not seen["layer3"].requires_grad
    assert seen["layer4"].grad_fn is not None


def _train_and_compare(tmp_path, freeze, bn_update=False):
    data = image_folder(tmp_path / "data", per_class=10)
    out = tmp_path / "run"
    config = TrainConfig(data=str(data), model="smallcnn", out=str(out), freeze=freeze,
                         bn_update_frozen=bn_update, epochs=2, batch_size=8, seed=1)
    result = train(config)
    assert result.status == "completed"
    # the same initial model, rebuilt with the same seed, is the reference
    torch.manual_seed(1)
    initial = build_model("smallcnn", 3, in_channels=1).state_dict()
    final = torch.load(out / "model.pt", weights_only=True)["state_dict"]
    return initial, final, result


def test_frozen_weights_and_bn_stats_bit_identical_after_training(tmp_path):
    initial, final, result = _train_and_compare(tmp_path, "features.0,features.1")
    for key in initial:
        if key.startswith(("features.0.", "features.1.")):
            assert torch.equal(initial[key], final[key]), key  # weights AND running stats
    assert not torch.equal(initial["features.2.0.weight"], final["features.2.0.weight"])
    assert not torch.equal(initial["fc.weight"], final["fc.weight"])
    in_frozen = [v.numel() for k, v in build_model("smallcnn", 3, in_channels=1).named_parameters()
                 if k.startswith(("features.0.", "features.1."))]
    assert result.summary["frozen_params"] == sum(in_frozen)  # exactly the two frozen modules


def test_bn_update_option_changes_running_stats(tmp_path):
    initial, final, _ = _train_and_compare(tmp_path, "backbone", bn_update=True)
    assert torch.equal(initial["features.0.0.weight"], final["features.0.0.weight"])
    assert not torch.equal(initial["features.0.1.running_mean"], final["features.0.1.running_mean"])


def test_upto_nested_path_does_not_freeze_its_parent():
    model = build_model("smallcnn", 3, in_channels=1)
    apply_freeze(model, FreezePlan.parse("upto:features.0"), "fc")
    f = flags(model)
    assert not f["features.0.0.weight"] and not f["features.0.1.weight"]
    assert f["features.1.0.weight"] and f["features.2.0.weight"] and f["fc.weight"]
    resnet = build_model("resnet18", 3)
    apply_freeze(resnet, FreezePlan.parse("upto:layer2.0"), "fc")
    f = flags(resnet)
    assert not f["conv1.weight"] and not f["layer1.1.conv2.weight"] and not f["layer2.0.conv1.weight"]
    assert f["layer2.1.conv1.weight"] and f["layer3.0.conv1.weight"]


def test_dropout_and_stochastic_depth_in_frozen_blocks_are_off():
    model = build_model("efficientnet_b0", 3)
    head = find_head_path(model)
    report = apply_freeze(model, FreezePlan.parse("backbone"), head)
    set_train_mode(model, report, bn_update_frozen=False)
    from torchvision.ops import StochasticDepth

    frozen_part = model.features
    kinds = [m for m in frozen_part.modules() if isinstance(m, (nn.Dropout, StochasticDepth, nn.BatchNorm2d))]
    assert kinds and not any(m.training for m in kinds)
    assert model.get_submodule(head).training
    # frozen BatchNorm may still update its statistics when asked; Dropout stays off
    set_train_mode(model, report, bn_update_frozen=True)
    assert all(m.training for m in frozen_part.modules() if isinstance(m, nn.BatchNorm2d))
    assert not any(m.training for m in frozen_part.modules() if isinstance(m, StochasticDepth))


def test_dropout_before_a_frozen_vgg_head_is_off_but_trainable_blocks_train():
    model = build_model("vgg11", 3)
    report = apply_freeze(model, FreezePlan.parse("backbone"), find_head_path(model))
    set_train_mode(model, report, False)
    assert not any(m.training for m in model.classifier if isinstance(m, nn.Dropout))
    model = build_model("resnet18", 3)
    report = apply_freeze(model, FreezePlan.parse("upto:layer2"), "fc")
    set_train_mode(model, report, False)
    assert not model.layer2.training and model.layer3.training and model.layer3[0].bn1.training
