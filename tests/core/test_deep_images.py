"""Lab images read right (issue 18): every channel, the real dtype, intensity that keeps its
meaning, the same rules in train, evaluate, predict, the exports and the bundle."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch
from PIL import Image

tifffile = pytest.importorskip("tifffile")

from tlgui.core.base.config import TrainConfig  # noqa: E402
from tlgui.core.base.pixels import PixelError, RawImage, model_input, read_any, tiff_to_chw  # noqa: E402
from tlgui.core.base.preprocessing import Preprocessing  # noqa: E402
from tlgui.core.data.decode_cache import cache_key  # noqa: E402
from tlgui.core.data.sources import read_image  # noqa: E402

RNG = np.random.default_rng(7)
DATA = (RNG.integers(0, 4096, (3, 24, 20))).astype(np.uint16)  # (C, H, W), 12-bit values


def write_variants(folder):
    """The same uint16 (3, H, W) data in every layout a lab writes."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = {}
    paths["cyx"] = folder / "cyx.tif"
    tifffile.imwrite(paths["cyx"], DATA, photometric="rgb", planarconfig="separate")  # axes SYX
    paths["yxc"] = folder / "yxc.tif"
    tifffile.imwrite(paths["yxc"], DATA.transpose(1, 2, 0), photometric="rgb")
    paths["ome"] = folder / "cells.ome.tif"
    tifffile.imwrite(paths["ome"], DATA, ome=True, metadata={"axes": "CYX"})
    paths["pages"] = folder / "pages.tif"
    with tifffile.TiffWriter(paths["pages"]) as tif:  # plain pages, no metadata at all
        for plane in DATA:
            tif.write(plane, metadata=None, contiguous=False)
    paths["zlib"] = folder / "zlib.tif"
    tifffile.imwrite(paths["zlib"], DATA, compression="zlib", photometric="minisblack")
    paths["lzw"] = folder / "lzw.tif"
    tifffile.imwrite(paths["lzw"], DATA, compression="lzw", photometric="minisblack")
    paths["npy_chw"] = folder / "chw.npy"
    np.save(paths["npy_chw"], DATA)
    paths["npy_hwc"] = folder / "hwc.npy"
    np.save(paths["npy_hwc"], DATA.transpose(1, 2, 0))
    return paths


def test_every_layout_reads_every_channel_with_its_real_values(tmp_path):
    for name, path in write_variants(tmp_path).items():
        raw = read_image(str(path))
        assert isinstance(raw, RawImage), name
        assert raw.array.dtype == np.uint16, name
        np.testing.assert_array_equal(raw.array, DATA, err_msg=name)
    assert "3 pages read as 3 channels" in read_image(str(tmp_path / "pages.tif")).notes[0]


def test_16_bit_png_keeps_its_values(tmp_path):
    path = tmp_path / "deep.png"
    Image.fromarray(DATA[0]).save(path)  # mode I;16
    raw = read_image(str(path))
    assert isinstance(raw, RawImage) and raw.array.dtype == np.uint16
    np.testing.assert_array_equal(raw.array[0], DATA[0])


def test_z_stacks_are_reduced_by_the_stated_rule(tmp_path):
    stack = RNG.integers(0, 4096, (5, 2, 16, 16)).astype(np.uint16)  # Z, C, Y, X
    path = tmp_path / "z.ome.tif"
    tifffile.imwrite(path, stack, ome=True, metadata={"axes": "ZCYX"})
    middle = read_any(str(path), "middle")
    np.testing.assert_array_equal(middle.array, stack[2])
    assert "z-slices (5) reduced to the middle one" in middle.notes[0]
    top = read_any(str(path), "max")
    np.testing.assert_array_equal(top.array, stack.max(axis=0))
    assert "maximum projection" in top.notes[0]


def test_an_axis_that_cannot_be_told_and_a_broken_tiff_are_refused_in_words(tmp_path):
    with pytest.raises(PixelError, match="cannot tell which axis"):
        tiff_to_chw(np.zeros((3, 4, 8, 8), np.uint16), "QQYX")
    broken = tmp_path / "broken.tif"
    broken.write_bytes(b"II*\x00" + b"\x00" * 40)
    with pytest.raises(PixelError, match="unreadable TIFF"):
        read_any(str(broken))
    ambiguous = tmp_path / "cube.npy"
    np.save(ambiguous, np.zeros((30, 30, 30), np.uint16))
    with pytest.raises(PixelError, match="cannot tell"):
        read_any(str(ambiguous))


def prep_for(**changes):
    base = dict(resize=24, crop=24, channels=3, mean=[0.5] * 3, std=[0.5] * 3, source_dtype="uint16",
                source_channels=3, intensity={"mode": "fixed", "low": [0.0], "high": [4095.0]})
    base.update(changes)
    return Preprocessing(**base)


def test_intensity_policies_keep_or_erase_absolute_brightness():
    dim = RawImage(np.full((1, 8, 8), 1000, np.uint16))
    dim.array[0, :4] = 1200
    bright = RawImage(dim.array * 3)
    fixed = prep_for(channels=1, source_channels=1, resize=8, crop=8)
    assert model_input(bright, fixed.to_dict()).mean() > 2.5 * model_input(dim, fixed.to_dict()).mean()
    per_image = prep_for(channels=1, source_channels=1, resize=8, crop=8, intensity={"mode": "image"})
    np.testing.assert_array_equal(model_input(dim, per_image.to_dict()), model_input(bright, per_image.to_dict()))


def test_a_policy_change_is_a_new_decode_cache_key(tmp_path):
    path = write_variants(tmp_path)["cyx"]
    keys = {cache_key(str(path), prep) for prep in (
        prep_for(), prep_for(intensity={"mode": "image"}), prep_for(channel_select=[0, 1, 2]),
        prep_for(stack="max"), prep_for(intensity={"mode": "fixed", "low": [0.0], "high": [1000.0]}))}
    assert len(keys) == 5


def test_first_convolution_adaptation_keeps_the_output_on_repeated_rgb():
    from tlgui.core.models.state_dicts import load_into_model
    from tlgui.core.models.zoo import build_model

    torch.manual_seed(0)
    rgb_model = build_model("resnet18", 5).eval()
    six = build_model("resnet18", 5, in_channels=6).eval()
    report = load_into_model(six, rgb_model.state_dict(), "fc", True, "pretrained")
    assert "adapted from 3 to 6 input channels" in report.message
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(six(torch.cat([x, x], 1)), rgb_model(x), rtol=1e-4, atol=1e-4)


def test_the_adaptation_is_timms():
    timm_layers = pytest.importorskip("timm.models._manipulate")
    from tlgui.core.models.input_conv import adapt_input_weight

    weight = torch.randn(8, 3, 3, 3)
    for n in (1, 2, 4, 5, 7):
        torch.testing.assert_close(adapt_input_weight(weight, n), timm_layers.adapt_input_conv(n, weight.clone()))


# ---------------------------------------------------------------- end to end


def folder_of(root, make, per_class=24, classes=("a", "b"), seed=0):
    rng = np.random.default_rng(seed)
    for k, name in enumerate(classes):
        (root / name).mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            tifffile.imwrite(root / name / f"{i:03d}.tif", make(rng, k), photometric="minisblack")
    return root


def channel_signal(rng, k):
    """4-channel stacks: only the 4th channel tells the classes apart."""
    x = rng.normal(1500, 200, (4, 32, 32))
    if k:
        x[3, 8:24, 8:24] += 1200
    return x.clip(0, 4095).astype(np.uint16)


def brightness_signal(rng, k):
    """The same pattern; the classes differ only in absolute brightness."""
    pattern = 0.6 + 0.4 * rng.random((32, 32))
    return (pattern * (1000 if k == 0 else 2600)).astype(np.uint16)


def train_run(data, out, **settings):
    from tlgui.core.training.loop import train

    config = TrainConfig(data=str(data), model="smallcnn", epochs=settings.pop("epochs", 6), batch_size=16,
                         lr=3e-3, out=str(out), device="cpu", **settings)
    messages = []
    result = train(config, lambda e: messages.append(getattr(e, "text", "")))
    return result, messages


@pytest.fixture(scope="module")
def channel_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("lab")
    data = folder_of(root / "channels", channel_signal)
    result, messages = train_run(data, root / "run")
    return data, root / "run", result, messages


def test_a_signal_in_the_fourth_channel_alone_is_learned(channel_run):
    data, run, result, messages = channel_run
    assert result.summary["best_val_accuracy"] >= 0.9
    ckpt = torch.load(run / "model.pt", weights_only=True)
    assert ckpt["in_channels"] == 4
    assert ckpt["preprocessing"]["source_dtype"] == "uint16"
    assert ckpt["preprocessing"]["intensity"]["mode"] == "dataset"
    assert len(ckpt["preprocessing"]["intensity"]["low"]) == 4
    assert any("4 channels, 16-bit (12-bit values), 48 images" in m for m in messages)
    recorded = json.loads((run / "config.json").read_text())
    assert recorded["intensity"] == "auto"
    assert recorded["augment"] == "flip-rotate"  # the automatic choice for microscopy-like data, as chosen
    assert any(m.startswith("augmentation: each training image flipped and turned") for m in messages)


def test_a_brightness_only_signal_is_learned(tmp_path):
    data = folder_of(tmp_path / "bright", brightness_signal)
    result, _ = train_run(data, tmp_path / "run")
    assert result.summary["best_val_accuracy"] >= 0.9
    image_run, _ = train_run(data, tmp_path / "run_image", intensity="image", epochs=3)
    assert image_run.summary["best_val_accuracy"] <= 0.75  # a per-image stretch erases the signal


def test_predict_evaluate_bundle_and_onnx_agree_on_tiffs(channel_run, tmp_path):
    from tlgui.core.models.checkpoint import load_checkpoint, model_from_checkpoint
    from tlgui.core.results.evaluate import evaluate_model
    from tlgui.core.results.export import export_model
    from tlgui.core.results.predict import Predictor

    data, run, _, _ = channel_run
    files = sorted(str(p) for p in data.rglob("*.tif"))
    predictor = Predictor.from_file(run / "model.pt", device="cpu")
    report = predictor.predict_files(files, top_k=2)
    truth = [os.path.basename(os.path.dirname(f)) for f in files]
    accuracy = np.mean([p.top[0][0] == t for p, t in zip(report.predictions, truth, strict=True)])
    evaluation = evaluate_model(str(run / "model.pt"), str(data), device="cpu")
    assert accuracy == pytest.approx(evaluation.accuracy)

    bundle = tmp_path / "bundle"
    export_model(str(run / "model.pt"), "bundle", str(bundle))
    from tlgui.core.base import pixels

    assert (bundle / "pixels.py").read_text() == open(pixels.__file__).read()  # one implementation
    out = subprocess.run([sys.executable, str(bundle / "predict.py"), *files[:6]], capture_output=True, text=True,
                         check=True, cwd=tmp_path).stdout.splitlines()
    for line, prediction in zip(out, report.predictions[:6], strict=True):
        path, label, probability = line.split("\t")
        assert label == prediction.top[0][0]
        assert float(probability) == pytest.approx(prediction.top[0][1], abs=1e-4)

    pytest.importorskip("onnxruntime")
    import onnxruntime

    onnx_path = export_model(str(run / "model.pt"), "onnx", str(tmp_path / "model.onnx")).path
    ckpt = load_checkpoint(run / "model.pt")
    prep = Preprocessing.from_dict(ckpt["preprocessing"])
    x = prep.normalize(torch.from_numpy(np.stack([prep.load_image(read_image(f)) for f in files[:4]])))
    session = onnxruntime.InferenceSession(onnx_path, providers=["CPUExecutionProvider"])
    got = session.run(None, {session.get_inputs()[0].name: x.numpy()})[0]
    with torch.no_grad():
        expected = model_from_checkpoint(ckpt)(x).numpy()
    np.testing.assert_allclose(got, expected, atol=1e-4)


def test_a_one_channel_image_for_a_four_channel_model_is_one_line(channel_run, tmp_path, capsys):
    from tlgui.cli import main as cli

    _, run, _, _ = channel_run
    gray = tmp_path / "gray.tif"
    tifffile.imwrite(gray, DATA[0])
    assert cli(["predict", str(run / "model.pt"), str(gray)]) != 0
    err = capsys.readouterr().err
    assert "it has 1 channel; the model was trained on images with 4 channels" in err
    assert "Traceback" not in err


def test_odd_files_are_named_by_the_scan_and_skipped_by_training(tmp_path):
    from tlgui.core.data.scan import scan_folder

    data = folder_of(tmp_path / "data", channel_signal, per_class=10)
    tifffile.imwrite(data / "a" / "three.tif", DATA, photometric="minisblack")  # 3 channels among 4
    tifffile.imwrite(data / "b" / "eight_bit.tif", (channel_signal(RNG, 1) // 16).astype(np.uint8),
                     photometric="minisblack")
    report = scan_folder(data, use_cache=False)
    reasons = {os.path.basename(o["path"]): o["reason"] for o in report.odd}
    assert reasons == {"three.tif": "3 channel(s) where the others have 4",
                       "eight_bit.tif": "uint8 values where the others are uint16"}
    assert report.summary.startswith("4 channels, 16-bit (12-bit values), 22 images; values")
    assert {row["dtype"] for row in report.pixels} == {"uint16", "uint8"}
    result, messages = train_run(data, tmp_path / "run", epochs=1, val_split=0.3)
    skipped = " ".join(messages)
    assert "three.tif" in skipped or "eight_bit.tif" in skipped  # one named as an example
    assert result.status == "completed"


def test_channel_choice_and_map_to_rgb_are_recorded(tmp_path):
    data = folder_of(tmp_path / "data", channel_signal, per_class=8)
    result, messages = train_run(data, tmp_path / "one", channels="4", epochs=1)
    ckpt = torch.load(tmp_path / "one" / "model.pt", weights_only=True)
    assert ckpt["in_channels"] == 1 and ckpt["preprocessing"]["channel_select"] == [3]
    assert any("channels: using 4 of the images' 4" in m for m in messages)
    config = TrainConfig(data=str(data), model="resnet18", epochs=1, batch_size=8, image_size=32, channels="1,2,4",
                         out=str(tmp_path / "rgb"), device="cpu")
    from tlgui.core.training.loop import train

    train(config, lambda e: None)
    ckpt = torch.load(tmp_path / "rgb" / "model.pt", weights_only=True)
    assert ckpt["in_channels"] == 3 and ckpt["preprocessing"]["channel_select"] == [0, 1, 3]
    assert ckpt["state_dict"]["conv1.weight"].shape[1] == 3  # the RGB convolution, not adapted


def test_all_channels_reach_a_pretrained_rgb_backbone(tmp_path):
    from tlgui.core.models.zoo import build_model
    from tlgui.core.training.loop import train

    data = folder_of(tmp_path / "data", channel_signal, per_class=8)
    torch.save(build_model("resnet18", 1000).state_dict(), tmp_path / "imagenet.pth")
    messages = []
    config = TrainConfig(data=str(data), model="resnet18", weights=str(tmp_path / "imagenet.pth"), epochs=1,
                         batch_size=8, image_size=32, out=str(tmp_path / "run"), device="cpu", freeze="backbone")
    train(config, lambda e: messages.append(getattr(e, "text", "")))
    ckpt = torch.load(tmp_path / "run" / "model.pt", weights_only=True)
    assert ckpt["state_dict"]["conv1.weight"].shape[1] == 4
    assert any("adapted from 3 to 4 input channels" in m for m in messages)


def test_one_file_per_channel_from_a_csv(tmp_path):
    from tlgui.core.data.catalog import open_csv

    rows = ["channel_1,channel_2,label"]
    for k, name in enumerate(("a", "b")):
        for i in range(3):
            stack = channel_signal(RNG, k)[2:]
            for c in range(2):
                tifffile.imwrite(tmp_path / f"{name}{i}_c{c + 1}.tif", stack[c], photometric="minisblack")
            rows.append(f"{name}{i}_c1.tif,{name}{i}_c2.tif,{name}")
    (tmp_path / "list.csv").write_text("\n".join(rows) + "\n")
    images = open_csv(tmp_path / "list.csv")
    raw = images.load(0)
    assert raw.channels == 2 and raw.array.dtype == np.uint16
    (tmp_path / "joined.csv").write_text("path,label\n" + "\n".join(
        f"{r.split(',')[0]};{r.split(',')[1]},{r.split(',')[2]}" for r in rows[1:]) + "\n")
    assert open_csv(tmp_path / "joined.csv").load(5).channels == 2


def test_smallcnn_keeps_small_crops_at_their_size(tmp_path):
    from tlgui.core.training.loop import train

    data = folder_of(tmp_path / "data", lambda rng, k: rng.integers(0, 4000, (40, 40)).astype(np.uint16),
                     per_class=4)
    messages = []
    train(TrainConfig(data=str(data), model="smallcnn", epochs=1, out=str(tmp_path / "run"), device="cpu"),
          lambda e: messages.append(getattr(e, "text", "")))
    ckpt = torch.load(tmp_path / "run" / "model.pt", weights_only=True)
    assert ckpt["preprocessing"]["crop"] == 40
    assert any("image size: 40 px, the images' own size" in m for m in messages)


def test_a_stopped_run_on_tiffs_resumes_to_the_uninterrupted_result(tmp_path, capsys):
    from tlgui.cli import main as cli
    from tlgui.core.base.events import EpochStats
    from tlgui.core.training.control import TrainControl
    from tlgui.core.training.loop import train

    data = folder_of(tmp_path / "data", channel_signal, per_class=10)

    def config(out):
        return TrainConfig(data=str(data), model="smallcnn", epochs=3, batch_size=8, out=str(out), device="cpu",
                           intensity="dataset")  # augment auto: flip-rotate, whose draws must resume too

    whole = train(config(tmp_path / "whole"))
    control = TrainControl()
    stopped = train(config(tmp_path / "part"), lambda e: control.stop() if isinstance(e, EpochStats) else None,
                    control)
    assert stopped.status == "stopped"
    assert cli(["train", str(tmp_path / "part" / "config.json"), "--resume"]) == 0
    a = torch.load(tmp_path / "whole" / "model.pt", weights_only=True)
    b = torch.load(tmp_path / "part" / "model.pt", weights_only=True)
    assert a["preprocessing"] == b["preprocessing"]  # the same window, measured again on the same split
    assert all(torch.equal(a["state_dict"][k], b["state_dict"][k]) for k in a["state_dict"])
    assert whole.summary["history"] == json.loads((tmp_path / "part" / "summary.json").read_text())["history"]


def test_the_transfer_check_runs_on_tiff_stacks(tmp_path, capsys):
    from tlgui.cli import main as cli
    from tlgui.core.models.zoo import build_model

    data = folder_of(tmp_path / "data", channel_signal, per_class=8)
    torch.save(build_model("smallcnn", 3, in_channels=1).state_dict(), tmp_path / "gray_source.pth")
    code = cli(["compare", "--data", str(data), "--model", "smallcnn", "--weights", str(tmp_path / "gray_source.pth"),
                "--epochs", "1", "--batch-size", "8", "--out", str(tmp_path / "check")])
    assert code == 0, capsys.readouterr().err
    for name in ("scratch", "head", "finetune"):
        ckpt = torch.load(next((tmp_path / "check").glob(f"*{name}*/model.pt")), weights_only=True)
        assert ckpt["in_channels"] == 4, name


def test_torchrun_trains_tiff_stacks(tmp_path):
    from tests.core.test_distributed import torchrun

    data = folder_of(tmp_path / "data", channel_signal, per_class=12)
    result = torchrun(tmp_path, "--data", str(data), "--model", "smallcnn", "--epochs", "1", "--batch-size", "8",
                      "--device", "cpu", "--out", str(tmp_path / "run"))
    assert result.returncode == 0, result.stderr[-3000:]
    ckpt = torch.load(tmp_path / "run" / "model.pt", weights_only=True)
    assert ckpt["in_channels"] == 4 and ckpt["preprocessing"]["intensity"]["mode"] == "dataset"


@pytest.mark.parametrize(("name", "size"), [("timm:resnet10t", 32), ("timm:vit_tiny_patch16_224", 224)])
def test_a_timm_rgb_backbone_takes_four_channels(tmp_path, name, size):
    pytest.importorskip("timm")
    from tlgui.core.models.input_conv import first_conv_path
    from tlgui.core.models.zoo import build_model
    from tlgui.core.training.loop import train

    data = folder_of(tmp_path / "data", channel_signal, per_class=6)
    rgb = build_model(name, 1000)
    torch.save(rgb.state_dict(), tmp_path / "rgb.pth")
    messages = []
    config = TrainConfig(data=str(data), model=name, weights=str(tmp_path / "rgb.pth"), epochs=1, batch_size=8,
                         image_size=size, out=str(tmp_path / "run"), device="cpu", freeze="backbone")
    train(config, lambda e: messages.append(getattr(e, "text", "")))
    ckpt = torch.load(tmp_path / "run" / "model.pt", weights_only=True)
    key = first_conv_path(rgb) + ".weight"
    assert ckpt["in_channels"] == 4 and ckpt["state_dict"][key].shape[1] == 4
    assert any("adapted from 3 to 4 input channels" in m for m in messages)
