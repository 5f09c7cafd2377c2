"""Export round trips (TorchScript, ONNX, bundle), the bundle's stand-alone predict.py
(same preprocessing and outputs as tlgui), and the CLI's error cases."""

import ast
import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from tests.core import corpus
from tests.core.test_evaluate import write_model
from tlgui.cli import main as cli
from tlgui.core.base.preprocessing import Preprocessing
from tlgui.core.models.checkpoint import load_checkpoint, model_from_checkpoint
from tlgui.core.results.export import BUNDLE_FILES, ExportError, export_model
from tlgui.core.results.predict import predict_paths

CLASSES = ["cats", "dogs", "birds"]


@pytest.fixture(scope="module")
def model_rgb(tmp_path_factory):
    # RGB, resize 28 then crop 24: exercises resizing, cropping and 3-channel normalisation
    return write_model(tmp_path_factory.mktemp("export") / "model.pt", CLASSES, channels=3, crop=24, resize=28)


def eager(model_path: Path):
    return model_from_checkpoint(load_checkpoint(model_path), "cpu")


def inputs(batch: int, channels: int = 3, size: int = 24) -> torch.Tensor:
    return torch.randn(batch, channels, size, size, generator=torch.Generator().manual_seed(7))


@pytest.mark.filterwarnings("ignore:`torch.jit.load` is deprecated:FutureWarning")
def test_torchscript_round_trip(model_rgb, tmp_path):
    result = export_model(model_rgb, "torchscript", tmp_path / "m.ts")
    assert result.faithful and result.max_abs_diff <= 1e-4
    extra = {"labels.json": "", "preprocessing.json": ""}
    loaded = torch.jit.load(str(tmp_path / "m.ts"), _extra_files=extra)
    assert json.loads(extra["labels.json"]) == CLASSES
    assert json.loads(extra["preprocessing.json"])["crop"] == 24
    x = inputs(5)  # not the batch size it was traced with
    with torch.no_grad():
        assert (loaded(x) - eager(model_rgb)(x)).abs().max() <= 1e-4


def test_onnx_round_trip(model_rgb, tmp_path):
    onnx = pytest.importorskip("onnx", reason="onnx is not installed (pip install 'tlgui[export]')")
    ort = pytest.importorskip("onnxruntime", reason="onnxruntime is not installed (pip install 'tlgui[export]')")
    result = export_model(model_rgb, "onnx", tmp_path)  # a folder: model.onnx inside
    path = tmp_path / "model.onnx"
    assert result.path == str(path) and path.is_file()
    assert not list(tmp_path.glob("*.data")), "weights must be inside the .onnx file"
    proto = onnx.load(str(path))
    onnx.checker.check_model(proto, full_check=True)
    assert max(o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")) >= 17
    batch_dim = proto.graph.input[0].type.tensor_type.shape.dim[0]
    assert batch_dim.dim_param and not batch_dim.dim_value  # dynamic batch axis
    meta = {p.key: p.value for p in proto.metadata_props}
    assert json.loads(meta["labels.json"]) == CLASSES
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    x = inputs(5)
    got = session.run(None, {session.get_inputs()[0].name: x.numpy()})[0]
    with torch.no_grad():
        assert np.abs(got - eager(model_rgb)(x).numpy()).max() <= 1e-4
    assert result.max_abs_diff <= 1e-4


def load_bundle_module(folder: Path):
    spec = importlib.util.spec_from_file_location("bundle_predict", folder / "predict.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_bundle_predict_py_matches_tlgui_predict(model_rgb, tmp_path):
    folder = tmp_path / "bundle"
    result = export_model(model_rgb, "bundle", folder)
    assert sorted(p.name for p in folder.iterdir()) == sorted(BUNDLE_FILES)
    assert json.loads((folder / "labels.json").read_text()) == CLASSES
    assert "python predict.py" in (folder / "README.md").read_text()
    assert result.max_abs_diff <= 1e-4

    # predict.py needs nothing but the standard library, numpy, torch, torchvision, Pillow and
    # the pixels.py beside it (tlgui's own, which imports tifffile/imagecodecs only to read TIFFs)
    def top_level_imports(path):
        tree = ast.parse(path.read_text())
        imported = {a.name.split(".")[0] for n in tree.body if isinstance(n, ast.Import) for a in n.names}
        imported |= {n.module.split(".")[0] for n in tree.body if isinstance(n, ast.ImportFrom) and n.module}
        return imported - set(sys.stdlib_module_names)

    assert top_level_imports(folder / "predict.py") <= {"numpy", "torch", "torchvision", "PIL", "pixels"}
    assert top_level_imports(folder / "pixels.py") <= {"numpy", "PIL"}

    corpus.odd_folder(tmp_path / "images")
    run = subprocess.run(
        [sys.executable, "predict.py", str(tmp_path / "images"), str(tmp_path / "missing.png")],
        cwd=folder, capture_output=True, text=True, timeout=120,
    )
    assert run.returncode == 0, run.stderr
    bundle = {parts[0]: (parts[1], float(parts[2])) for parts in (line.split("\t") for line in run.stdout.splitlines())}
    report = predict_paths(model_rgb, [tmp_path / "images"], device="cpu")
    assert len(bundle) == len(report.predictions) == 8
    for p in report.predictions:
        label, probability = bundle[p.path]
        assert label == p.label, p.path
        assert probability == pytest.approx(p.probability, abs=1e-4)
    for name in ("zero.png", "fake.jpg", "truncated.png", "missing.png"):
        assert name in run.stderr


@pytest.mark.parametrize(
    "prep",
    [
        Preprocessing(resize=28, crop=24, channels=3, mean=[0.485, 0.456, 0.406], std=[0.229, 0.224, 0.225]),
        Preprocessing(resize=20, crop=20, channels=1, mean=[0.5], std=[0.5], interpolation="bicubic"),
        Preprocessing(resize=33, crop=17, channels=1, mean=[], std=[], interpolation="nearest"),
    ],
    ids=["rgb-resize-crop", "gray-bicubic", "gray-nearest-odd"],
)
def test_bundle_preprocessing_is_identical(prep, tmp_path):
    files = corpus.odd_folder(tmp_path / "odd")
    corpus.rgb(tmp_path / "wide.png", size=(61, 23))
    corpus.gray(tmp_path / "tall.png", size=(9, 40))
    float_image = Image.fromarray(np.linspace(-3, 7, 30 * 20, dtype=np.float32).reshape(20, 30), mode="F")
    int_image = Image.fromarray(np.arange(400, dtype=np.int32).reshape(20, 20) * 1000)
    la = Image.fromarray(corpus.noise((15, 15), 1)).convert("LA")
    transparent_p = Image.fromarray(corpus.noise((15, 15), 3)).convert("P")
    transparent_p.info["transparency"] = 3
    from tlgui.core.results.export import bundle_template, pixels_module_source

    bundle = tmp_path / "bundle"  # what export_bundle writes: the template beside tlgui's pixels.py
    bundle.mkdir()
    (bundle / "predict.py").write_text(bundle_template("predict.py"))
    (bundle / "pixels.py").write_text(pixels_module_source())
    module = load_bundle_module(bundle)
    images = [Image.open(f) for f in files.values() if f.name not in ("zero.png", "fake.jpg", "truncated.png")]
    images += [Image.open(tmp_path / "wide.png"), Image.open(tmp_path / "tall.png"), float_image, int_image, la,
               transparent_p]
    modes = {im.mode for im in images}
    assert {"I;16", "RGBA", "P", "CMYK", "1", "F", "I", "LA"} <= modes
    raw = prep.to_dict()
    for image in images:
        ours = prep.load_image(image)
        theirs = module.load_image(image, raw)
        assert theirs.dtype == ours.dtype and theirs.shape == ours.shape, image.mode
        np.testing.assert_array_equal(theirs, ours, err_msg=image.mode)
        batch = torch.from_numpy(ours.copy())[None]
        assert torch.equal(module.normalize(batch, raw), prep.normalize(batch))


def test_bundle_refuses_a_non_empty_folder(model_rgb, tmp_path):
    (tmp_path / "stuff.txt").write_text("mine")
    with pytest.raises(ExportError, match="not empty"):
        export_model(model_rgb, "bundle", tmp_path)
    export_model(model_rgb, "bundle", tmp_path / "b")
    labels = (tmp_path / "b" / "labels.json").read_bytes()
    with pytest.raises(ExportError, match="pass --overwrite"):
        export_model(model_rgb, "bundle", tmp_path / "b")  # an earlier bundle is kept...
    assert (tmp_path / "b" / "labels.json").read_bytes() == labels
    export_model(model_rgb, "bundle", tmp_path / "b", overwrite=True)  # ...unless replacing is asked for
    with pytest.raises(ExportError, match="not empty"):
        export_model(model_rgb, "bundle", tmp_path, overwrite=True)  # other people's files: never


def one_line_error(capsys, args, *needles) -> str:
    """Run the CLI; it must fail with one ``tlgui: error:`` line holding every needle (returned)."""
    code = cli(args)
    err = capsys.readouterr().err.strip()
    assert code == 2, err
    assert err.startswith("tlgui: error:") and len(err.splitlines()) == 1, err
    for needle in needles:
        assert needle in err, err
    return err


def test_cli_export_and_errors(model_rgb, tmp_path, capsys, monkeypatch):
    assert cli(["export", str(model_rgb), "--format", "torchscript", "--out", str(tmp_path / "ok.ts")]) == 0
    assert "exported torchscript" in capsys.readouterr().out
    one_line_error(capsys, ["export", str(tmp_path / "missing.pt"), "--format", "torchscript",
                            "--out", str(tmp_path / "x.ts")], "missing.pt")
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"\x00" * 100)
    one_line_error(capsys, ["export", str(junk), "--format", "bundle", "--out", str(tmp_path / "b")], "junk.pt")
    not_tlgui = tmp_path / "plain.pt"
    torch.save({"w": torch.zeros(2)}, not_tlgui)
    one_line_error(capsys, ["export", str(not_tlgui), "--format", "onnx", "--out", str(tmp_path / "x.onnx")],
                   "not a tlgui model")
    a_file = tmp_path / "a_file"
    a_file.write_text("x")
    one_line_error(capsys, ["export", str(model_rgb), "--format", "torchscript", "--out", str(a_file / "m.ts")],
                   "cannot write")
    one_line_error(capsys, ["export", str(model_rgb), "--format", "bundle", "--out", str(a_file)], "not a folder")
    monkeypatch.setitem(sys.modules, "onnx", None)  # as if the extra were not installed
    one_line_error(capsys, ["export", str(model_rgb), "--format", "onnx", "--out", str(tmp_path / "x.onnx")],
                   "install tlgui[export]")
    assert not (tmp_path / "x.onnx").exists()


@pytest.mark.filterwarnings("ignore:`torch.jit.load` is deprecated:FutureWarning")
def test_export_never_replaces_the_model_nor_an_existing_file_without_overwrite(model_rgb, tmp_path, capsys):
    import shutil

    model = tmp_path / "model.pt"
    shutil.copy(model_rgb, model)
    original = model.read_bytes()
    # the model it reads, named directly or as "a .ts next to it" that is the same file
    for fmt, out in (("torchscript", model), ("onnx", model), ("bundle", tmp_path)):
        one_line_error(capsys, ["export", str(model), "--format", fmt, "--out", str(out), "--overwrite"],
                       str(model.name) if fmt != "bundle" else "")
        assert model.read_bytes() == original
    existing = tmp_path / "old.ts"
    existing.write_bytes(b"someone's earlier export")
    one_line_error(capsys, ["export", str(model), "--format", "torchscript", "--out", str(existing)], "--overwrite")
    assert existing.read_bytes() == b"someone's earlier export"
    with pytest.raises(ExportError, match="already exists"):
        export_model(model, "torchscript", existing)
    assert Path(export_model(model, "torchscript", existing, overwrite=True).path) == existing
    torch.testing.assert_close(torch.jit.load(str(existing))(inputs(2)), eager(model)(inputs(2)))
    assert model.read_bytes() == original


def test_a_missing_bundle_template_is_called_a_broken_install_and_nothing_is_written(model_rgb, tmp_path, capsys,
                                                                                       monkeypatch):
    # what a frozen app that lost the template looked like: "cannot write to OUT" blamed the target
    import tlgui.core.results.export as export_module

    package = tmp_path / "pkg"
    (package / "export_bundle").mkdir(parents=True)
    (package / "export_bundle" / "README.md").write_text("$architecture")  # predict.py is missing
    monkeypatch.setattr(export_module.resources, "files", lambda _name: package)
    out = tmp_path / "bundle"
    one_line_error(capsys, ["export", str(model_rgb), "--format", "bundle", "--out", str(out)],
                   "lacks the bundle's predict.py", "reinstall")
    assert not out.exists() or not any(out.iterdir())
