"""timm backbones with weights from a Hugging Face hub cache made in tmp_path (network blocked)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

pytest.importorskip("timm", reason="timm is not installed (pip install 'tlgui[timm]')")
pytest.importorskip("safetensors", reason="safetensors is not installed (pip install 'tlgui[timm]')")

from tests.core.hub_layout import REVISION, make_hub_model  # noqa: E402
from tlgui.cli import main as cli  # noqa: E402
from tlgui.core.base.config import TrainConfig  # noqa: E402
from tlgui.core.base.errors import ModelError, WeightsError  # noqa: E402
from tlgui.core.library.hub_cache import find_hub_weights, hub_cache_dir  # noqa: E402
from tlgui.core.models.checkpoint import load_checkpoint, model_from_checkpoint  # noqa: E402
from tlgui.core.models.safe_load import safe_load  # noqa: E402
from tlgui.core.models.zoo import build_model, check_architecture, find_head_path  # noqa: E402
from tlgui.core.training.loop import train  # noqa: E402

from .learnable import image_folder  # noqa: E402

MODEL = "mobilenetv3_small_050"
ARCH = f"timm:{MODEL}"
# small inputs and an unusual mean/std, so a test can tell they came from config.json
CFG = {"input_size": [3, 48, 48], "crop_pct": 0.75, "interpolation": "bicubic",
       "mean": [0.5, 0.4, 0.3], "std": [0.2, 0.25, 0.3]}


@pytest.fixture
def hub(tmp_path, monkeypatch):
    cache = tmp_path / "hf" / "hub"
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    weights, state = make_hub_model(cache, MODEL, tag="lamb_in1k", pretrained_cfg=CFG)
    return cache, weights, state


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return image_folder(tmp_path_factory.mktemp("timm") / "data", per_class=12, size=40, mode="RGB")


def run_config(data, out, **kw):
    base = dict(data=str(data), model=ARCH, weights="default", out=str(out), epochs=1, batch_size=8, seed=1)
    base.update(kw)
    return TrainConfig(**base)


def test_names_build_and_head_path():
    assert check_architecture("timm:resnet10t") == "timm:resnet10t"
    assert check_architecture("timm:resnet18.a1_in1k") == "timm:resnet18.a1_in1k"
    with pytest.raises(ModelError, match="did you mean timm:resnet10t"):
        check_architecture("timm:resnet10x")
    model = build_model(ARCH, 4, device="meta")
    assert find_head_path(model) == "classifier"
    assert model.get_classifier().out_features == 4
    # the path timm's own get_classifier() names, also for a head nested in a module
    convnext = build_model("timm:convnext_atto", 3, device="meta")
    assert convnext.get_submodule(find_head_path(convnext)) is convnext.get_classifier()
    assert find_head_path(convnext) == "head.fc"


def test_hub_cache_location(monkeypatch, tmp_path):
    monkeypatch.delenv("HF_HUB_CACHE", raising=False)
    monkeypatch.delenv("HUGGINGFACE_HUB_CACHE", raising=False)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "home"))
    assert hub_cache_dir() == tmp_path / "home" / "hub"
    monkeypatch.delenv("HF_HOME")
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert hub_cache_dir() == tmp_path / ".cache" / "huggingface" / "hub"
    # huggingface_hub puts ~/.cache under XDG_CACHE_HOME where that is set: so does the search
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert hub_cache_dir() == tmp_path / "xdg" / "huggingface" / "hub"


def test_default_weights_found_offline_with_config_preprocessing(hub, data, tmp_path):
    cache, weights, state = hub
    snap = find_hub_weights(ARCH)
    assert snap.weights == weights and snap.tag == "lamb_in1k" and snap.revision == REVISION
    assert weights.is_symlink() and (cache / f"models--timm--{MODEL}.lamb_in1k" / "blobs") in weights.resolve().parents
    messages = []
    result = train(run_config(data, tmp_path / "head", freeze="backbone"), messages.append)
    assert result.status == "completed"
    said = " ".join(getattr(m, "text", "") for m in messages)
    assert f"{MODEL}.lamb_in1k" in said and "Hugging Face cache" in said  # which tag was used
    ckpt = load_checkpoint(tmp_path / "head" / "model.pt")
    assert ckpt["architecture"] == ARCH
    prep = ckpt["preprocessing"]
    assert prep["crop"] == 48 and prep["resize"] == 64  # floor(48 / 0.75)
    assert prep["mean"] == pytest.approx(CFG["mean"]) and prep["std"] == pytest.approx(CFG["std"])
    assert prep["interpolation"] == "bicubic"
    # head-only: the backbone still holds exactly the cached weights
    trained = ckpt["state_dict"]
    backbone = [k for k in state if not k.startswith("classifier.") and "running" not in k and "num_batches" not in k]
    assert all(torch.equal(trained[k], state[k]) for k in backbone)
    assert trained["classifier.weight"].shape == (3, state["classifier.weight"].shape[1])


def test_fine_tune_changes_the_backbone(hub, data, tmp_path):
    _cache, _weights, state = hub
    result = train(run_config(data, tmp_path / "ft", freeze="none"), lambda e: None)
    assert result.status == "completed"
    trained = load_checkpoint(tmp_path / "ft" / "model.pt")["state_dict"]
    assert not torch.equal(trained["conv_stem.weight"], state["conv_stem.weight"])


def test_pytorch_model_bin_fallback_loads_weights_only(tmp_path, monkeypatch, data):
    cache = tmp_path / "hub"
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    weights, state = make_hub_model(cache, MODEL, tag="x", pretrained_cfg=CFG, weights_file="pytorch_model.bin")
    assert find_hub_weights(ARCH).weights == weights
    loaded = safe_load(weights)
    assert torch.equal(loaded["conv_stem.weight"], state["conv_stem.weight"])


def test_missing_broken_and_truncated_give_one_line(tmp_path, monkeypatch, data):
    cache = tmp_path / "hub"
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    with pytest.raises(WeightsError, match=f"no models--timm--{MODEL}") as info:
        find_hub_weights(ARCH)
    assert "\n" not in str(info.value)
    weights, _ = make_hub_model(cache, MODEL, tag="a", pretrained_cfg=CFG)
    blob = weights.resolve()
    content = blob.read_bytes()
    blob.unlink()  # the blob was not copied: the snapshot link dangles
    with pytest.raises(WeightsError, match="broken link") as info:
        find_hub_weights(ARCH)
    assert "\n" not in str(info.value)
    blob.write_bytes(content[: len(content) // 3])  # an interrupted copy
    with pytest.raises(WeightsError, match="truncated") as info:
        train(run_config(data, tmp_path / "run"), lambda e: None)
    assert "\n" not in str(info.value) and not (tmp_path / "run").exists()
    weights.unlink()
    (weights.parent / "config.json").unlink()
    with pytest.raises(WeightsError, match="holds no weights"):
        find_hub_weights(ARCH)


def test_safetensors_file_for_torchvision_and_mismatch(tmp_path, data):
    import safetensors.torch
    import torchvision

    torch.manual_seed(0)
    tv = torchvision.models.resnet18(num_classes=5)
    file = tmp_path / "my-resnet.safetensors"
    safetensors.torch.save_file(tv.state_dict(), str(file))
    result = train(TrainConfig(data=str(data), model="resnet18", weights=str(file), out=str(tmp_path / "tv"),
                               epochs=1, batch_size=8, image_size=32, freeze="backbone"), lambda e: None)
    assert result.status == "completed"
    code = cli(["train", "--data", str(data), "--model", ARCH, "--weights", str(file),
                "--epochs", "1", "--out", str(tmp_path / "wrong")])
    assert code == 2 and not (tmp_path / "wrong").exists()
    junk = tmp_path / "junk.safetensors"
    safetensors.torch.save_file({"a.weight": torch.zeros(3, 3)}, str(junk))
    with pytest.raises(WeightsError, match="junk.safetensors.*fit no known architecture"):
        train(run_config(data, tmp_path / "junk", weights=str(junk)), lambda e: None)


def test_mismatch_message_names_what_the_file_fits(tmp_path, data, capsys):
    import safetensors.torch
    import torchvision

    file = tmp_path / "weights.safetensors"
    safetensors.torch.save_file(torchvision.models.resnet18(num_classes=5).state_dict(), str(file))
    code = cli(["train", "--data", str(data), "--model", ARCH, "--weights", str(file),
                "--epochs", "1", "--out", str(tmp_path / "wrong")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1
    assert "weights.safetensors" in err[0] and "fit resnet18" in err[0]


def test_import_recognises_and_default_finds_the_library(hub, tmp_path, data, capsys, monkeypatch):
    cache, weights, _ = hub
    assert cli(["weights", "import", str(weights), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["architecture"] == ARCH and out["kind"] == "custom" and out["num_classes"] == 1000
    stored = Path(out["path"])
    assert stored.suffix == ".safetensors"
    sidecar = json.loads(stored.with_suffix(".json").read_text())
    assert sidecar["pretrained_cfg"]["input_size"] == CFG["input_size"]
    # with the hub cache gone, --weights default finds the imported copy and its preprocessing
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty"))
    result = train(run_config(data, tmp_path / "lib", freeze="backbone"), lambda e: None)
    assert result.status == "completed"
    assert load_checkpoint(tmp_path / "lib" / "model.pt")["preprocessing"]["crop"] == 48


def test_import_by_content_and_wrong_arch(tmp_path, capsys):
    import safetensors.torch
    import timm

    torch.manual_seed(0)
    file = tmp_path / "downloaded.safetensors"  # no name hint: found by content
    safetensors.torch.save_file(timm.create_model("resnet10t", num_classes=7).state_dict(), str(file))
    assert cli(["weights", "import", str(file), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["architecture"] == "timm:resnet10t" and out["num_classes"] == 7
    assert cli(["weights", "import", str(file), "--arch", ARCH]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "downloaded.safetensors" in err[0] and "timm:resnet10t" in err[0]


def test_weights_list_shows_the_hub_cache(hub, capsys):
    cache, weights, _ = hub
    (cache / "models--timm--resnet10t.c3_in1k" / "snapshots" / "abc").mkdir(parents=True)
    assert cli(["weights", "list", "--json"]) == 0
    listing = json.loads(capsys.readouterr().out)
    rows = {r["tag"]: r for r in listing["hub"]}
    assert rows["lamb_in1k"]["present"] and rows["lamb_in1k"]["path"] == str(weights)
    assert not rows["c3_in1k"]["present"] and "holds no weights" in rows["c3_in1k"]["problem"]
    assert cli(["weights", "list"]) == 0
    assert f"hub: {ARCH} ({MODEL}.lamb_in1k)" in capsys.readouterr().out


def test_layers_cli(capsys):
    assert cli(["layers", ARCH, "--depth", "1"]) == 0
    out = capsys.readouterr().out
    assert "MobileNetV3" in out and "classifier" in out


@pytest.mark.filterwarnings("ignore:`torch.jit.load` is deprecated:FutureWarning")
def test_exports_agree_with_the_model(hub, data, tmp_path):
    ort = pytest.importorskip("onnxruntime", reason="onnxruntime is not installed (pip install 'tlgui[export]')")
    pytest.importorskip("onnx", reason="onnx is not installed (pip install 'tlgui[export]')")
    from tlgui.core.results.export import export_model

    train(run_config(data, tmp_path / "run", freeze="backbone"), lambda e: None)
    model_pt = tmp_path / "run" / "model.pt"
    eager = model_from_checkpoint(load_checkpoint(model_pt), "cpu")
    x = torch.randn(4, 3, 48, 48, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        expected = eager(x)
    export_model(model_pt, "torchscript", tmp_path / "m.ts")
    with torch.no_grad():
        assert (torch.jit.load(str(tmp_path / "m.ts"))(x) - expected).abs().max() <= 1e-4
    export_model(model_pt, "onnx", tmp_path / "m.onnx")
    session = ort.InferenceSession(str(tmp_path / "m.onnx"), providers=["CPUExecutionProvider"])
    got = session.run(None, {session.get_inputs()[0].name: x.numpy()})[0]
    assert np.abs(got - expected.numpy()).max() <= 1e-4
    bundle = tmp_path / "bundle"
    export_model(model_pt, "bundle", bundle)
    assert "timm" not in (bundle / "predict.py").read_text()  # TorchScript inside: no timm needed


def test_without_timm_one_line_names_the_extra(tmp_path):
    # timm is installed here: block its import in a fresh interpreter
    script = (
        "import sys\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name == 'timm' or name.startswith('timm.'):\n"
        "            raise ImportError('blocked')\n"
        "sys.meta_path.insert(0, Block())\n"
        "from tlgui.cli import main\n"
        "sys.exit(main(['layers', 'timm:resnet10t']))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2]), "TLGUI_HOME": str(tmp_path)}
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "pip install 'tlgui[timm]'" in lines[0]


def test_resume_evaluate_and_predict(hub, data, tmp_path, capsys):
    from tlgui.core.base.events import EpochStats
    from tlgui.core.training.control import TrainControl

    control = TrainControl()

    def stop_after_first(event):
        if isinstance(event, EpochStats) and event.epoch == 1:
            control.stop()

    stopped = train(run_config(data, tmp_path / "part", epochs=2, freeze="backbone"), stop_after_first, control)
    assert stopped.status == "stopped"
    assert cli(["train", "--out", str(tmp_path / "part"), "--resume"]) == 0
    summary = json.loads((tmp_path / "part" / "summary.json").read_text())
    assert summary["status"] == "completed" and summary["epochs_completed"] == 2
    model_pt = tmp_path / "part" / "model.pt"
    capsys.readouterr()
    assert cli(["evaluate", str(model_pt), "--data", str(data), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    # every image of the folder was evaluated, and the accuracy is the confusion matrix's
    assert report["n"] == 36 and report["skipped"] == 0
    assert report["classes"] == ["diagonal", "horizontal", "vertical"]
    confusion = np.array(report["confusion"])
    assert confusion.sum(axis=1).tolist() == [12, 12, 12]
    assert report["accuracy"] == pytest.approx(np.trace(confusion) / 36)
    assert cli(["predict", str(model_pt), str(data / "vertical" / "000.png")]) == 0
    line = next(t for t in capsys.readouterr().out.splitlines() if "000.png" in t)
    assert any(name in line for name in report["classes"]), line


def test_transfer_check_runs_for_a_timm_model(hub, data, tmp_path, capsys):
    assert cli(["compare", "--data", str(data), "--model", ARCH, "--weights", "default", "--epochs", "1",
                "--batch-size", "8", "--out", str(tmp_path / "cmp")]) == 0
    out = capsys.readouterr().out
    assert f"timm's pretrained {ARCH} weights" in out
    result = json.loads((tmp_path / "cmp" / "compare.json").read_text())
    assert {"scratch", "head", "finetune"} <= set(result) and result["model"] == ARCH


def test_several_tags_default_first_or_the_one_named(tmp_path, monkeypatch):
    cache = tmp_path / "hub"
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    make_hub_model(cache, MODEL, tag="aaa_custom", pretrained_cfg=CFG)
    make_hub_model(cache, MODEL, tag="lamb_in1k", pretrained_cfg=CFG)  # timm's default tag
    assert find_hub_weights(ARCH).tag == "lamb_in1k"
    assert find_hub_weights(f"{ARCH}.aaa_custom").tag == "aaa_custom"
    with pytest.raises(WeightsError, match=f"no models--timm--{MODEL}.other"):
        find_hub_weights(f"{ARCH}.other")


@pytest.mark.parametrize("name", ["deit_tiny_distilled_patch16_224", "pit_ti_distilled_224", "efficientformer_l1"])
def test_distilled_models_have_one_head(name):
    model = build_model(f"timm:{name}", 3, device="meta")
    head, head_dist = model.get_classifier()
    assert head is head_dist and find_head_path(model) == "head"


def test_head_only_training_of_a_distilled_model_trains_all_of_its_classifier(data, tmp_path):
    # LeViT averages head and head_dist; head-only runs used to leave head_dist at its random start
    out = tmp_path / "levit"
    result = train(run_config(data, out, model="timm:levit_128s", weights="none", freeze="backbone"), lambda e: None)
    assert result.status == "completed"
    trained = load_checkpoint(out / "model.pt")["state_dict"]
    dist_keys = [k for k in trained if k.startswith("head_dist.")]
    assert dist_keys and all(torch.equal(trained[k], trained["head" + k[len("head_dist"):]]) for k in dist_keys)
    summary = json.loads((out / "summary.json").read_text())
    head = build_model("timm:levit_128s", 3, device="meta").get_submodule("head")
    assert summary["trainable_params"] == sum(p.numel() for p in head.parameters())


def test_head_only_deit_distilled_uses_the_feature_cache_and_evaluates_to_its_recorded_accuracy(data, tmp_path,
                                                                                                 capsys):
    # its head is called on two tokens and averaged: the head's last input is not what it classifies,
    # so the cache takes timm's forward_head(pre_logits=True) instead of falling back to the live loop
    out = tmp_path / "deit"
    config = run_config(data, out, model="timm:deit_tiny_distilled_patch16_224", weights="none", freeze="backbone",
                        epochs=2)
    assert train(config, lambda e: None).status == "completed"
    summary = json.loads((out / "summary.json").read_text())
    assert summary["feature_cache"]["used"] is True and summary["feature_cache"]["views"] == 1
    capsys.readouterr()
    assert cli(["evaluate", str(out), "--json"]) == 0  # the live model on the run's validation split
    report = json.loads(capsys.readouterr().out)
    assert report["accuracy"] == pytest.approx(summary["final_val_accuracy"])
