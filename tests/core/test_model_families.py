"""Model families: one module-level object registered makes a new family work everywhere the app
asks (zoo, preprocessing, the weights library, prepare), with no other file edited; and the three
real families answer the whole ModelFamily protocol."""

from __future__ import annotations

import inspect

import pytest
import torch
from torch import nn

from tlgui.core.base.config import TrainConfig
from tlgui.core.base.errors import ModelError, WeightsError
from tlgui.core.base.preprocessing import Preprocessing
from tlgui.core.library.default_weights import find_default_weights, locate_default_weights
from tlgui.core.models import registry, zoo
from tlgui.core.models.families import ArchitectureInfo, ModelFamily, smallcnn, timm_models, torchvision_models
from tlgui.core.training.prepare import prepare


class ToyNet(nn.Module):
    """Its classifier, ``out``, is not where the shared layouts look (they would take ``aux``,
    the last Linear): only the family knows the head."""

    def __init__(self, num_classes: int, in_channels: int):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(in_channels, 4, 3, padding=1), nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.out = nn.Linear(4, num_classes)
        self.aux = nn.Linear(4, 7)  # not the head

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(self.body(x))


class ToyFamily:
    NAME = "toy"
    BROWSER = "torchvision"
    WEIGHT_KIND = "none"
    WEIGHTS_LABEL = "toy weights"
    STARTING_ALIAS = None
    FOLLOWS_DATA_CHANNELS = False
    AUTO_SIZE = None
    KEY_COUNT_CANDIDATES: tuple[str, ...] = ()

    def owns(self, name: str) -> bool:
        return name.startswith("toy:")

    def architectures(self) -> tuple[str, ...]:
        return ("toy:tiny",)

    def check(self, name: str) -> str:
        if name not in self.architectures():
            raise ModelError(f"unknown toy model {name!r}")
        return name

    def display_group(self, name: str) -> str:
        return "Toy"

    def short_name(self, name: str) -> str:
        return name.removeprefix("toy:")

    def build(self, name: str, num_classes: int, in_channels: int, device: torch.device) -> nn.Module:
        with device:
            return ToyNet(num_classes, in_channels)

    def weight_entries(self, name: str) -> list:
        return []

    def default_weight_entry(self, name: str):
        return None

    def weight_names(self, name: str) -> tuple[str, ...]:
        return ("toy-v1",)

    def preprocessing(self, name, entry=None, image_size=None, pretrained_cfg=None) -> Preprocessing:
        crop = image_size or 32
        return Preprocessing(resize=crop + 8, crop=crop, channels=3, mean=[0.4] * 3, std=[0.2] * 3)

    def head_path(self, model: nn.Module) -> str | None:
        return "out" if isinstance(model, ToyNet) else None

    def input_channels(self, name: str, shapes=None) -> int:
        return 3

    def describe(self, name: str) -> ArchitectureInfo:
        count = sum(p.numel() for p in ToyNet(1000, 3).parameters())
        return ArchitectureInfo(name, self.display_group(name), count, 32, 3, self.weight_names(name))


TOY = ToyFamily()


@pytest.fixture
def toy():
    registry.register_family(TOY)
    yield TOY
    registry.unregister_family(TOY)
    zoo.architecture_info.cache_clear()


def test_a_registered_family_answers_through_the_zoo(toy):
    assert registry.family_for("toy:tiny") is toy and registry.family_for("resnet18") is torchvision_models
    assert zoo.list_architectures()[0] == "toy:tiny" and "smallcnn" in zoo.list_architectures()
    assert zoo.check_architecture("toy:tiny") == "toy:tiny"
    with pytest.raises(ModelError, match="unknown toy model"):
        zoo.check_architecture("toy:huge")
    assert zoo.family_of("toy:tiny") == "Toy"
    assert zoo.model_input_channels("toy:tiny") == 3
    model = zoo.build_model("toy:tiny", 3)
    assert isinstance(model, ToyNet) and model(torch.zeros(2, 3, 16, 16)).shape == (2, 3)
    assert zoo.find_head_path(model) == "out" and zoo.head_out_features(model) == 3
    assert zoo.replace_head(model, 5) == "out" and model.out.out_features == 5 and model.aux.out_features == 7
    info = zoo.architecture_info("toy:tiny")
    assert (info.family, info.input_size, info.weights) == ("Toy", 32, ("toy-v1",))
    prep = zoo.default_preprocessing("toy:tiny")
    assert (prep.crop, prep.resize, prep.mean) == (32, 40, [0.4] * 3)
    assert zoo.default_preprocessing("toy:tiny", image_size=48).crop == 48
    assert zoo.weight_entries("toy:tiny") == [] and zoo.default_weight_entry("toy:tiny") is None


def test_a_registered_family_publishing_nothing_says_so(toy):
    local = locate_default_weights("toy:tiny")
    assert not local.published and local.path is None and "toy weights" in local.status
    with pytest.raises(WeightsError, match="toy:tiny has no published pretrained weights"):
        find_default_weights("toy:tiny")


def test_prepare_builds_a_registered_family_with_its_head_and_preprocessing(toy, tmp_path):
    config = TrainConfig(data="demo:source", model="toy:tiny", out=str(tmp_path / "run"), max_train_images=40,
                         precision="fp32", device="cpu")
    prepared = prepare(config, lambda event: None)
    assert isinstance(prepared.model, ToyNet) and prepared.head_path == "out"
    assert prepared.model.out.out_features == len(prepared.classes)
    assert (prepared.preprocessing.crop, prepared.in_channels) == (32, 3)
    assert prepared.train_x is not None and prepared.train_x.shape[1:] == (3, 32, 32)


def test_unregistering_removes_the_family(toy):
    registry.unregister_family(toy)
    assert registry.family_for("toy:tiny") is torchvision_models
    with pytest.raises(ModelError, match="unknown model 'toy:tiny'"):
        zoo.check_architecture("toy:tiny")


def _protocol_members() -> set[str]:
    attributes = set(ModelFamily.__annotations__)
    methods = {name for name, _ in inspect.getmembers(ModelFamily, inspect.isfunction) if not name.startswith("_")}
    return attributes | methods


@pytest.mark.parametrize("family", [TOY, torchvision_models, smallcnn, timm_models], ids=lambda f: f.NAME)
def test_every_family_has_every_member_of_the_protocol(family):
    missing = {name for name in _protocol_members() if not hasattr(family, name)}
    assert not missing
    for name in ("owns", "check", "build", "preprocessing", "head_path", "input_channels", "describe"):
        ours = inspect.signature(getattr(family, name)).parameters
        theirs = [p for p in inspect.signature(getattr(ModelFamily, name)).parameters if p != "self"]
        assert list(ours) == theirs, name


def test_the_real_families_answer_the_protocol():
    assert registry.FAMILIES[-1] is torchvision_models and registry.family_for("no_such_model") is torchvision_models
    assert registry.family_for("smallcnn") is smallcnn and registry.family_for("timm:resnet18") is timm_models

    resnet = torchvision_models
    assert resnet.owns("resnet18") and not resnet.owns("smallcnn") and "resnet18" in resnet.architectures()
    assert resnet.display_group("wide_resnet50_2") == "Wide ResNet" and resnet.weight_names("resnet18")
    model = resnet.build("resnet18", 4, 3, torch.device("meta"))
    assert resnet.head_path(model) == "fc" and resnet.input_channels("resnet18") == 3
    assert resnet.preprocessing("resnet18").crop == 224 and resnet.describe("resnet18").num_params > 10**7
    assert resnet.default_weight_entry("resnet18") is not None and resnet.WEIGHT_KIND == "torchvision"

    small = smallcnn
    assert small.owns("smallcnn") and small.architectures() == ("smallcnn",) and small.weight_names("smallcnn") == ()
    model = small.build("smallcnn", 4, 1, torch.device("cpu"))
    assert small.head_path(model) == "fc" and small.head_path(nn.Linear(2, 2)) is None
    assert small.input_channels("smallcnn") == 1
    assert small.input_channels("smallcnn", {"features.0.0.weight": (32, 3, 3, 3)}) == 3
    assert small.preprocessing("smallcnn", image_size=40).crop == 40 and small.describe("smallcnn").in_channels == 1
    assert small.WEIGHT_KIND == "none" and small.STARTING_ALIAS == "demo:source" and small.AUTO_SIZE == (28, 64)

    assert timm_models.owns("timm:resnet18") and not timm_models.owns("resnet18")
    assert timm_models.short_name("timm:resnet18.a1_in1k") == "resnet18.a1_in1k"
    assert timm_models.head_path(model) is None  # not a timm model
    assert timm_models.architectures() == () and timm_models.WEIGHT_KIND == "timm"


def test_timm_family_builds_and_describes():
    pytest.importorskip("timm")
    model = timm_models.build("timm:resnet18", 3, 3, torch.device("meta"))
    assert timm_models.head_path(model) == "fc" and zoo.find_head_path(model) == "fc"
    assert timm_models.preprocessing("timm:resnet18").crop == 224
    assert "a1_in1k" in timm_models.weight_names("timm:resnet18")
