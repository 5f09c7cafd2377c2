"""tlgui explain: Grad-CAM heatmaps whose peak lands where the object is, in the original
image's pixels, for CNNs, a timm ViT, grayscale and multi-channel models."""

import json

import numpy as np
import pytest
import torch
from PIL import Image

from tlgui.cli import main as cli
from tlgui.core.base.config import TrainConfig
from tlgui.core.base.preprocessing import Preprocessing
from tlgui.core.models.checkpoint import load_checkpoint, make_checkpoint
from tlgui.core.models.zoo import build_model, find_head_path
from tlgui.core.results.explain import Explainer
from tlgui.core.training.loop import train

WIDTH, HEIGHT, SIDE = 40, 32, 6


def _blob_image(rng, x=None, y=None):
    img = rng.normal(60, 15, (HEIGHT, WIDTH))
    if x is not None:
        img[y : y + SIDE, x : x + SIDE] += 150
    return Image.fromarray(np.clip(img, 0, 255).astype(np.uint8), "L")


@pytest.fixture(scope="module")
def blob_run(tmp_path_factory):
    """smallcnn trained on 'blob' (a bright square somewhere in the centre crop) vs 'plain'."""
    root = tmp_path_factory.mktemp("blobs")
    rng = np.random.default_rng(0)
    for name in ("blob", "plain"):
        (root / "data" / name).mkdir(parents=True)
        for i in range(30):
            x, y = (rng.integers(6, 28), rng.integers(2, 24)) if name == "blob" else (None, None)
            _blob_image(rng, x, y).save(root / "data" / name / f"{i:03d}.png")
    result = train(TrainConfig(data=str(root / "data"), model="smallcnn", out=str(root / "run"), epochs=6,
                               batch_size=8, lr=0.003, image_size=32, seed=0))
    assert result.ok
    return root


def test_heatmap_peaks_land_on_the_object_in_original_pixels(blob_run, tmp_path, capsys):
    rng = np.random.default_rng(5)
    known = {}
    for i, (x, y) in enumerate([(8, 4), (25, 20), (16, 12), (10, 22)]):
        path = tmp_path / f"probe{i}.png"
        _blob_image(rng, x, y).save(path)
        known[str(path)] = (x, y)
    out = tmp_path / "maps"
    assert cli(["explain", str(blob_run / "run" / "model.pt"), *known, "--out", str(out), "--json"]) == 0
    captured = capsys.readouterr()
    report = json.loads(captured.out)
    assert captured.err == ""
    assert [sorted(r) for r in report["images"]] == [["heatmap", "path", "peak", "predicted", "probability"]] * 4
    for row in report["images"]:
        x, y = known[row["path"]]
        px, py = row["peak"]
        assert x - 2 <= px <= x + SIDE + 1 and y - 2 <= py <= y + SIDE + 1, (row, (x, y))
        with Image.open(row["heatmap"]) as overlay:
            assert overlay.size == (WIDTH, HEIGHT) and overlay.mode == "RGB"


def test_an_image_the_model_cannot_take_is_one_line_and_the_others_go_on(blob_run, tmp_path, capsys):
    good = tmp_path / "good.png"
    _blob_image(np.random.default_rng(1), 10, 10).save(good)
    (tmp_path / "broken.png").write_bytes(b"not a png")
    stack = tmp_path / "four.npy"
    np.save(stack, np.zeros((4, 32, 32), np.uint16))
    assert cli(["explain", str(blob_run / "run" / "model.pt"), str(tmp_path / "broken.png"), str(stack), str(good),
                "--out", str(tmp_path / "maps"), "--json"]) == 0
    captured = capsys.readouterr()
    assert [r["path"] for r in json.loads(captured.out)["images"]] == [str(good)]
    errors = captured.err.strip().splitlines()
    assert len(errors) == 2 and "broken.png" in errors[0] and "four.npy" in errors[1]
    assert cli(["explain", str(blob_run / "run" / "model.pt"), str(good), "--out", str(tmp_path / "m"),
                "--class", "cat"]) == 2
    assert "--class 'cat'" in capsys.readouterr().err


def _checkpoint(arch, channels, crop, **prep):
    torch.manual_seed(0)
    model = build_model(arch, 3, channels)
    preprocessing = Preprocessing(crop, crop, channels, [0.5] * channels, [0.25] * channels, **prep)
    return make_checkpoint(model, arch, ["a", "b", "c"], channels, find_head_path(model), preprocessing.to_dict())


def test_timm_vit_gets_a_map_of_the_image_shape(tmp_path):
    explainer = Explainer(_checkpoint("timm:vit_tiny_patch16_224", 3, 224))
    image = Image.fromarray(np.random.default_rng(0).integers(0, 255, (250, 300, 3), dtype=np.uint8))
    heatmap = explainer.explain(image, target=1)
    assert heatmap.cam.shape == (250, 300) and heatmap.overlay.shape == (250, 300, 3)
    assert heatmap.target == "b" and float(heatmap.cam.max()) > 0
    assert 0 <= heatmap.peak[0] < 300 and 0 <= heatmap.peak[1] < 250


@pytest.mark.parametrize("arch", ["resnet18", "timm:resnet18", "timm:efficientnet_b0"])
def test_torchvision_and_timm_cnns(arch):
    picture = np.random.default_rng(0).integers(0, 255, (64, 80, 3), dtype=np.uint8)
    heatmap = Explainer(_checkpoint(arch, 3, 64)).explain(Image.fromarray(picture))
    assert heatmap.cam.shape == (64, 80) and float(heatmap.cam.max()) > 0


def test_a_multichannel_lab_model(tmp_path):
    stack = _checkpoint("smallcnn", 4, 32, source_dtype="uint16", source_channels=4,
                        intensity={"mode": "image"})
    path = tmp_path / "stack.pt"
    torch.save(stack, path)
    from tlgui.core.base.pixels import RawImage

    raw = RawImage(np.random.default_rng(0).integers(0, 4000, (4, 30, 36)).astype(np.uint16))
    heatmap = Explainer(load_checkpoint(path)).explain(raw)
    assert heatmap.cam.shape == (30, 36) and heatmap.overlay.shape == (30, 36, 3)
