"""tlgui rank --models auto: every pretrained backbone on this computer is found and scored or explained."""

from __future__ import annotations

import json

import pytest
import torch
import torchvision

from tests.core.hub_layout import make_hub_model
from tests.core.learnable import image_folder
from tlgui.cli import main
from tlgui.core.base.checksums import sha256_of
from tlgui.core.base.config import TrainConfig
from tlgui.core.models.zoo import build_model
from tlgui.core.training.loop import train
from tlgui.core.workflows.candidates import find_candidates, parse_models
from tlgui.core.workflows.demo import demo_source_dir
from tlgui.paths import runs_dir

KEYS = {"model", "weights", "accuracy", "accuracy_std", "knn_accuracy", "logme", "seconds_per_image", "parameters"}
ENTRY = torchvision.models.MobileNet_V3_Small_Weights.IMAGENET1K_V1


@pytest.fixture
def computer(tmp_path, monkeypatch):
    """Weights in every place tlgui looks: torch hub cache, Hugging Face cache, a finished run, the demo source."""
    import os

    torch.manual_seed(0)
    staging = tmp_path / "mobilenet.pth"
    torch.save(build_model("mobilenet_v3_small", 1000).state_dict(), staging)
    name = f"mobilenet_v3_small-{sha256_of(staging)[:8]}.pth"
    monkeypatch.setattr(ENTRY.value, "url", f"https://download.pytorch.org/models/{name}")  # ours is "the" file
    hub = os.path.join(os.environ["TORCH_HOME"], "hub", "checkpoints")
    os.makedirs(hub)
    staging.rename(os.path.join(hub, name))
    cache = tmp_path / "hf"
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    make_hub_model(cache, "mobilenetv3_small_050", tag="lamb_in1k", num_classes=10,
                   pretrained_cfg={"input_size": [3, 32, 32], "crop_pct": 1.0, "mean": [0.5] * 3, "std": [0.5] * 3})
    data = image_folder(tmp_path / "data", per_class=10, size=16)
    train(TrainConfig(data=str(data), model="smallcnn", epochs=1, device="cpu", out=str(runs_dir() / "mine")))
    demo = demo_source_dir()
    demo.mkdir(parents=True)
    (demo / "model.pt").write_bytes(b"not a model")  # made but damaged: listed with its reason
    return data


def test_every_place_is_searched(computer):
    found = {(c.model, c.weights) for c in find_candidates()}
    assert ("mobilenet_v3_small", "default") in found
    assert any(m == "timm:mobilenetv3_small_050" and w.endswith("model.safetensors") for m, w in found)
    assert ("smallcnn", str(runs_dir() / "mine" / "model.pt")) in found
    assert ("smallcnn", "demo:source") in found
    assert parse_models("auto,resnet18,smallcnn=demo:source")[-1].weights == "default"  # duplicates dropped once
    assert len(parse_models("auto,auto")) == len(found)


def test_cli_ranks_them_all(computer, capsys):
    code = main(["rank", "--data", str(computer), "--folds", "2", "--device", "cpu", "--json"])
    out = json.loads(capsys.readouterr().out)
    assert code == 0
    rows = out["candidates"]
    assert len(rows) == 4 and all(KEYS <= set(r) for r in rows)
    assert {r["model"] for r in rows} == {"mobilenet_v3_small", "timm:mobilenetv3_small_050", "smallcnn"}
    demo = next(r for r in rows if r["weights"] == "demo:source")
    assert demo["problem"] and demo["accuracy"] is None and rows[-1] is demo  # listed last, with its reason
    scored = [r for r in rows if r["accuracy"] is not None]
    assert [r["accuracy"] for r in scored] == sorted((r["accuracy"] for r in scored), reverse=True)
    assert all(r["parameters"] > 0 and r["seconds_per_image"] > 0 for r in scored)
    assert set(out["recommendation"]) == {"model", "weights", "strategy", "why"}
    assert out["recommendation"]["strategy"] in ("head", "finetune", "scratch")


def test_cli_refuses_bad_input_in_one_line(tmp_path, capsys):
    assert main(["rank", "--data", str(tmp_path / "nowhere"), "--models", "smallcnn"]) == 2
    assert main(["rank", "--data", str(tmp_path), "--folds", "1"]) == 2
    err = capsys.readouterr().err
    assert err.count("tlgui: error:") == 2 and "Traceback" not in err
