"""timm weights offline, the cases test_timm.py leaves out: no network even where timm or
huggingface_hub would reach for it, pytorch_model.bin snapshots (weights only), a cache folder
without a tag, timm's own defaults without a config.json, the feature cache's captured input
(timm's forward_head(pre_logits=True)), and the bundle's predict.py for a timm model."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

pytest.importorskip("timm", reason="timm is not installed (pip install 'tlgui[timm]')")
pytest.importorskip("safetensors", reason="safetensors is not installed (pip install 'tlgui[timm]')")

from tests.core.hub_layout import make_hub_model  # noqa: E402
from tests.core.test_safety import Payload  # noqa: E402
from tlgui.core.base.config import TrainConfig  # noqa: E402
from tlgui.core.base.errors import WeightsError  # noqa: E402
from tlgui.core.library.hub_cache import find_hub_weights  # noqa: E402
from tlgui.core.models.checkpoint import load_checkpoint  # noqa: E402
from tlgui.core.training.loop import train  # noqa: E402

from .learnable import image_folder  # noqa: E402

MODEL = "mobilenetv3_small_050"
ARCH = f"timm:{MODEL}"
ROOT = Path(__file__).resolve().parents[2]
CFG = {"input_size": [3, 48, 48], "crop_pct": 0.75, "interpolation": "bicubic",
       "mean": [0.5, 0.4, 0.3], "std": [0.2, 0.25, 0.3]}


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return image_folder(tmp_path_factory.mktemp("timm_offline") / "data", per_class=12, size=40, mode="RGB")


def run_config(data, out, **kw):
    base = dict(data=str(data), model=ARCH, weights="default", out=str(out), epochs=1, batch_size=8, seed=1,
                freeze="backbone")
    base.update(kw)
    return TrainConfig(**base)


def frozen_backbone_equal(trained: dict, state: dict) -> bool:
    keys = [k for k in state if not k.startswith("classifier.") and "running" not in k and "num_batches" not in k]
    return bool(keys) and all(torch.equal(trained[k], state[k]) for k in keys)


def test_no_network_even_where_huggingface_hub_would_reach_for_it(tmp_path, data):
    """A fresh interpreter whose shell says HF_HUB_OFFLINE=0, every socket connection recorded
    and refused: tlgui finds, lists and trains from the hub cache without one attempt, and a
    pretrained=True download that timm itself would start stays offline too."""
    cache = tmp_path / "hub"
    make_hub_model(cache, MODEL, tag="lamb_in1k", pretrained_cfg=CFG)
    script = textwrap.dedent(f"""
        import json, socket, sys
        attempts = []
        def refuse(*args, **kwargs):
            attempts.append(repr(args[:2]))
            raise OSError("network refused by the test")
        socket.socket.connect = socket.socket.connect_ex = refuse
        socket.create_connection = socket.getaddrinfo = refuse
        from tlgui.cli import main
        codes = [main(["weights", "list"]),
                 main(["train", "--data", {str(data)!r}, "--model", "{ARCH}", "--weights", "default",
                       "--freeze", "backbone", "--epochs", "1", "--out", {str(tmp_path / "run")!r}, "--quiet"])]
        import huggingface_hub.constants, timm
        try:  # not in the cache: timm would download it, were huggingface_hub online
            timm.create_model("resnet10t", pretrained=True)
            download = "loaded"
        except Exception as exc:
            download = type(exc).__name__
        print(json.dumps({{"codes": codes, "attempts": attempts, "download": download,
                          "offline": huggingface_hub.constants.HF_HUB_OFFLINE}}))
    """)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_CACHE": str(cache), "HF_HUB_OFFLINE": "0"}
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["codes"] == [0, 0]
    assert result["offline"] is True
    assert result["attempts"] == []
    assert result["download"] != "loaded"
    assert load_checkpoint(tmp_path / "run" / "model.pt")["architecture"] == ARCH


def test_pytorch_model_bin_snapshot_trains_and_code_inside_is_refused(tmp_path, monkeypatch, data):
    cache = tmp_path / "hub"
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    weights, state = make_hub_model(cache, MODEL, tag="x", pretrained_cfg=CFG, weights_file="pytorch_model.bin")
    messages = []
    result = train(run_config(data, tmp_path / "bin"), messages.append)
    assert result.status == "completed"
    assert "pytorch_model.bin" in " ".join(getattr(m, "text", "") for m in messages)
    ckpt = load_checkpoint(tmp_path / "bin" / "model.pt")
    assert frozen_backbone_equal(ckpt["state_dict"], state)
    assert ckpt["preprocessing"]["crop"] == 48  # config.json beside the .bin counts too
    # the same snapshot, its blob now a pickle that would run code when unpickled
    marker = tmp_path / "code-ran.txt"
    torch.save({**state, "hook": Payload(str(marker))}, weights.resolve())
    with pytest.raises(WeightsError, match=r"refused to load .*pytorch_model.bin.*nothing in it was run") as info:
        train(run_config(data, tmp_path / "evil"), lambda e: None)
    assert "\n" not in str(info.value)
    assert not marker.exists() and not (tmp_path / "evil").exists()


def test_cache_folder_without_a_tag(tmp_path, monkeypatch, data):
    cache = tmp_path / "hub"
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    weights, state = make_hub_model(cache, MODEL, tag="t", pretrained_cfg=CFG)
    folder = weights.parents[2]
    folder.rename(cache / f"models--timm--{MODEL}")  # what an untagged upload is cached as
    snap = find_hub_weights(ARCH)
    assert snap.tag is None and snap.label == MODEL and snap.weights.is_file()
    messages = []
    assert train(run_config(data, tmp_path / "run"), messages.append).status == "completed"
    assert f"timm {MODEL} from the Hugging Face cache" in " ".join(getattr(m, "text", "") for m in messages)
    assert frozen_backbone_equal(load_checkpoint(tmp_path / "run" / "model.pt")["state_dict"], state)


def test_a_safetensors_file_without_config_gets_timm_defaults(tmp_path, data):
    import safetensors.torch
    import timm

    torch.manual_seed(3)
    model = timm.create_model(MODEL, pretrained=False)
    file = tmp_path / "plain" / "weights.safetensors"  # no config.json beside it, no hub folder
    file.parent.mkdir()
    safetensors.torch.save_file(model.state_dict(), str(file))
    result = train(run_config(data, tmp_path / "run", weights=str(file)), lambda e: None)
    assert result.status == "completed"
    prep = load_checkpoint(tmp_path / "run" / "model.pt")["preprocessing"]
    # timm's own eval settings for this model, as its data config resolves them
    expected = timm.data.resolve_data_config({}, model=model)
    assert prep["crop"] == expected["input_size"][-1]
    assert prep["resize"] == int(expected["input_size"][-1] / expected["crop_pct"])
    assert prep["interpolation"] == expected["interpolation"]
    assert prep["mean"] == pytest.approx(list(expected["mean"]))
    assert prep["std"] == pytest.approx(list(expected["std"]))


@pytest.mark.parametrize("name", [MODEL, "convnext_atto", "resnet10t", "vit_tiny_patch16_224"])
def test_feature_cache_holds_timms_pre_logits(name):
    """Head-only training caches the head module's input: for timm models exactly
    forward_head(forward_features(x), pre_logits=True)."""
    from tlgui.core.models.zoo import build_model, find_head_path
    from tlgui.core.training.feature_cache import HeadInputs

    torch.manual_seed(0)
    model = build_model(f"timm:{name}", 5).eval()
    size = 224 if name.startswith("vit") else 64
    x = torch.randn(3, 3, size, size, generator=torch.Generator().manual_seed(1))
    capture = HeadInputs(model, find_head_path(model))
    capture.stop_early = True
    with torch.no_grad():
        cached = capture(x)
        pre_logits = model.forward_head(model.forward_features(x), pre_logits=True)
        assert torch.allclose(cached, pre_logits, atol=1e-5)
        assert torch.allclose(model.get_classifier()(cached), model(x), atol=1e-5)


def test_head_only_timm_run_uses_the_feature_cache(tmp_path, monkeypatch, data):
    cache = tmp_path / "hub"
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    make_hub_model(cache, MODEL, tag="lamb_in1k", pretrained_cfg=CFG)
    assert train(run_config(data, tmp_path / "run", epochs=2), lambda e: None).status == "completed"
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["feature_cache"]["used"] is True


BLOCK_TIMM = """
import runpy, sys
class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("timm", "tlgui", "safetensors", "huggingface_hub"):
            raise ImportError("blocked: " + name)
sys.meta_path.insert(0, Block())
sys.argv = ["predict.py"] + sys.argv[1:]
runpy.run_path("predict.py", run_name="__main__")
"""


def test_bundle_of_a_timm_model_predicts_like_tlgui_without_timm(tmp_path, monkeypatch, data):
    from tlgui.core.results.export import export_model
    from tlgui.core.results.predict import predict_paths

    cache = tmp_path / "hub"
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    make_hub_model(cache, MODEL, tag="lamb_in1k", pretrained_cfg=CFG)  # bicubic, 48 px from 64
    assert train(run_config(data, tmp_path / "run"), lambda e: None).status == "completed"
    model_pt = tmp_path / "run" / "model.pt"
    bundle = tmp_path / "bundle"
    result = export_model(model_pt, "bundle", bundle)
    assert result.max_abs_diff <= 1e-4
    assert json.loads((bundle / "preprocessing.json").read_text())["interpolation"] == "bicubic"
    images = [data / c / "003.png" for c in ("diagonal", "horizontal", "vertical")]
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    run = subprocess.run([sys.executable, "-c", BLOCK_TIMM, *map(str, images)], cwd=bundle,
                         capture_output=True, text=True, timeout=300, env=env)
    assert run.returncode == 0, run.stderr[-2000:]
    got = {p: (label, float(prob)) for p, label, prob in (line.split("\t") for line in run.stdout.splitlines())}
    report = predict_paths(model_pt, images, device="cpu")
    assert len(got) == len(report.predictions) == 3
    for p in report.predictions:
        label, probability = got[p.path]
        assert label == p.label and probability == pytest.approx(p.probability, abs=1e-4), p.path
