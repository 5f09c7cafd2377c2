"""torch.export (.pt2) exports (issue 30): every architecture family round-trips with a dynamic batch (1 and 5),
a 4-channel lab model keeps its intensity rules, a fresh Python agrees with `tlgui predict` without any
deprecation warning, a model torch.export cannot take is one line, and the bundle works with and without
TorchScript."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from tests.core import corpus
from tests.core.test_evaluate import write_model
from tests.core.test_export import one_line_error
from tlgui.cli import main as cli
from tlgui.core.base.files import atomic_save
from tlgui.core.base.preprocessing import Preprocessing
from tlgui.core.models.checkpoint import load_checkpoint, make_checkpoint, model_from_checkpoint
from tlgui.core.models.zoo import build_model, find_head_path
from tlgui.core.results import export as export_module
from tlgui.core.results.export import FORMATS, ExportError, export_model

ROOT = Path(__file__).resolve().parents[2]
CLASSES = ["cats", "dogs", "birds"]
FAMILIES = ["smallcnn", "resnet18", "mobilenet_v3_small", "timm:resnet10t"]  # smallcnn, torchvision, timm


def needs(arch: str) -> None:
    if arch.startswith("timm:"):
        pytest.importorskip("timm", reason="timm is not installed (pip install 'tlgui[timm]')")


def lab_model(path: Path) -> Path:
    """A 4-channel 16-bit lab model: a fixed intensity window per channel, as prepare records it."""
    torch.manual_seed(3)
    model = build_model("smallcnn", len(CLASSES), 4)
    prep = Preprocessing(resize=20, crop=16, channels=4, mean=[0.5] * 4, std=[0.25] * 4,
                         intensity={"mode": "fixed", "low": [0.0, 100.0, 0.0, 50.0], "high": [4095.0] * 4},
                         source_dtype="uint16", source_channels=4)
    atomic_save(make_checkpoint(model, "smallcnn", CLASSES, 4, find_head_path(model), prep.to_dict()), path)
    return path


def batch(n: int, channels: int, size: int) -> torch.Tensor:
    return torch.randn(n, channels, size, size, generator=torch.Generator().manual_seed(n))


def read_pt2(path: Path):
    extra = {"labels.json": "", "preprocessing.json": "", "tlgui.json": ""}
    return torch.export.load(str(path), extra_files=extra).module(), extra


@pytest.mark.parametrize("arch", FAMILIES)
def test_every_family_exports_to_pt2_and_reloads_with_a_dynamic_batch(arch, tmp_path):
    needs(arch)
    model_pt = write_model(tmp_path / "model.pt", CLASSES, channels=3, crop=32, resize=36, arch=arch)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = export_model(model_pt, "pt2", tmp_path)  # a folder: model.pt2 inside
    assert not [w for w in caught if "deprecat" in str(w.message).lower()]  # nothing of torch.jit on this path
    path = tmp_path / "model.pt2"
    assert result.path == str(path) and result.files == [str(path)] and result.faithful
    assert result.checks == [f"torch.export.load: max |difference| {result.max_abs_diff:.2e} vs the model, "
                             "batches of 1 and 5"]
    loaded, extra = read_pt2(path)
    assert json.loads(extra["labels.json"]) == CLASSES
    assert json.loads(extra["preprocessing.json"])["crop"] == 32
    assert json.loads(extra["tlgui.json"])["architecture"] == arch
    eager = model_from_checkpoint(load_checkpoint(model_pt), "cpu")
    for n in (1, 5, 2):  # 1: not specialised away; 5: a size it was not traced with
        x = batch(n, 3, 32)
        with torch.no_grad():
            got, expected = loaded(x), eager(x)
        assert got.shape == (n, 3)
        torch.testing.assert_close(got, expected, atol=1e-4, rtol=1e-4)


def test_a_four_channel_lab_model_keeps_its_channels_and_intensity_rules(tmp_path):
    model_pt = lab_model(tmp_path / "lab.pt")
    result = export_model(model_pt, "pt2", tmp_path / "lab.pt2")
    assert result.faithful
    loaded, extra = read_pt2(tmp_path / "lab.pt2")
    prep = json.loads(extra["preprocessing.json"])
    assert prep["channels"] == 4 and prep["source_dtype"] == "uint16"
    assert prep["intensity"] == {"mode": "fixed", "low": [0.0, 100.0, 0.0, 50.0], "high": [4095.0] * 4}
    eager = model_from_checkpoint(load_checkpoint(model_pt), "cpu")
    for n in (1, 5):
        x = batch(n, 4, 16)
        with torch.no_grad():
            torch.testing.assert_close(loaded(x), eager(x), atol=1e-4, rtol=1e-4)
    with pytest.raises(Exception, match="4"):  # the program checks its input: 3 channels are refused
        loaded(batch(2, 3, 16))


# A fresh interpreter that knows nothing of tlgui's models: the .pt2 file, its own preprocessing.json
# and tlgui's pixels.py (what the bundle ships) give the labels, for the images as one batch and one by one.
FRESH = r"""
import json, sys
import numpy as np, torch
from tlgui.core.base.pixels import model_input, read_any

pt2, *images = sys.argv[1:]
extra = {"labels.json": "", "preprocessing.json": ""}
module = torch.export.load(pt2, extra_files=extra).module()
labels, prep = json.loads(extra["labels.json"]), json.loads(extra["preprocessing.json"])
mean = torch.tensor(prep["mean"]).view(1, -1, 1, 1)
std = torch.tensor(prep["std"]).view(1, -1, 1, 1)

def classify(paths):
    x = torch.from_numpy(np.stack([model_input(read_any(p, prep["stack"]), prep) for p in paths])).float() / 255
    with torch.no_grad():
        probs = torch.softmax(module((x - mean) / std), 1)
    return [(labels[int(row.argmax())], float(row.max())) for row in probs]

print(json.dumps({"batch": classify(images), "single": [classify([p])[0] for p in images]}))
"""


def images_for(kind: str, folder: Path) -> list[Path]:
    folder.mkdir()
    if kind == "lab":  # 16-bit 4-channel arrays, as a lab saves them
        rng = np.random.default_rng(5)
        paths = [folder / f"cell{i}.npy" for i in range(5)]
        for i, path in enumerate(paths):
            np.save(path, rng.integers(0, 4096, (4, 20 + 3 * i, 24)).astype(np.uint16))
        return paths
    return [corpus.rgb(folder / f"photo{i}.png", size=(30 + 7 * i, 40 - 3 * i)) for i in range(5)]


def fresh_python(script: str, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-W", "always::FutureWarning", "-W", "always::DeprecationWarning",
                           "-c", script, *args], capture_output=True, text=True, timeout=300, env=env)


@pytest.mark.parametrize("arch", ["resnet18", "timm:resnet10t", "smallcnn", "lab"])
def test_a_fresh_python_gives_tlgui_predicts_top_class_without_a_deprecation_warning(arch, tmp_path, capsys):
    needs(arch)
    if arch == "lab":
        model_pt = lab_model(tmp_path / "model.pt")
    else:
        model_pt = write_model(tmp_path / "model.pt", CLASSES, channels=3, crop=32, resize=36, arch=arch)
    images = images_for(arch, tmp_path / "images")
    out = tmp_path / "export.pt2"
    assert cli(["export", str(model_pt), "--format", "pt2", "--out", str(out)]) == 0
    assert "checked: torch.export.load: max |difference|" in capsys.readouterr().out
    table = tmp_path / "predictions.csv"
    assert cli(["predict", str(model_pt), *map(str, images), "--csv", str(table), "--device", "cpu", "--quiet"]) == 0
    with open(table, newline="", encoding="utf-8") as f:
        tlgui_says = {row["path"]: (row["label"], float(row["probability"])) for row in csv.DictReader(f)}
    assert len(tlgui_says) == 5

    proc = fresh_python(FRESH, str(out), *map(str, images))
    assert proc.returncode == 0, proc.stderr
    assert "deprecat" not in proc.stderr.lower(), proc.stderr
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    for kind in ("batch", "single"):  # 5 images at once, then one at a time
        for path, (label, probability) in zip(images, report[kind], strict=True):
            assert label == tlgui_says[str(path)][0], (kind, path)
            assert probability == pytest.approx(tlgui_says[str(path)][1], abs=1e-4)


def test_the_deprecation_check_would_catch_torchscript(tmp_path):
    # the check above is not blind: the same interpreter settings show torch.jit.load's notice
    model_pt = write_model(tmp_path / "model.pt", CLASSES, channels=3, crop=24)
    export_model(model_pt, "torchscript", tmp_path / "m.ts")
    proc = fresh_python("import sys, torch; torch.jit.load(sys.argv[1])", str(tmp_path / "m.ts"))
    assert proc.returncode == 0, proc.stderr
    assert "deprecat" in proc.stderr.lower()


class DataDependent(nn.Module):
    """A model torch.export cannot take: which way it goes depends on the values it gets."""

    def __init__(self, inner: nn.Module):
        super().__init__()
        self.inner = inner

    def forward(self, x):
        if x.abs().sum() >= 0:  # always true, so tracing (TorchScript) is still faithful
            return self.inner(x)
        return -self.inner(x)


@pytest.mark.filterwarnings("ignore::torch.jit.TracerWarning")
def test_a_model_torch_export_cannot_take_is_one_line_and_other_formats_still_work(tmp_path, capsys, monkeypatch):
    model_pt = write_model(tmp_path / "model.pt", CLASSES, channels=3, crop=24)
    real = export_module.model_from_checkpoint
    monkeypatch.setattr(export_module, "model_from_checkpoint", lambda ckpt, device: DataDependent(real(ckpt, device)))
    one_line_error(capsys, ["export", str(model_pt), "--format", "pt2", "--out", str(tmp_path / "m.pt2")],
                   "smallcnn cannot be exported with torch.export (.pt2)",
                   "ONNX and TorchScript exports may still work")
    assert not (tmp_path / "m.pt2").exists() and not list(tmp_path.glob(".m.pt2.*"))
    assert cli(["export", str(model_pt), "--format", "torchscript", "--out", str(tmp_path / "m.ts")]) == 0
    # the bundle carries TorchScript alone and says why; its predict.py uses it without complaint
    result = export_model(model_pt, "bundle", tmp_path / "bundle")
    names = {p.name for p in (tmp_path / "bundle").iterdir()}
    assert "model.ts" in names and "model.pt2" not in names
    assert any(c.startswith("model.pt2 left out: smallcnn cannot be exported with torch.export") for c in result.checks)
    assert "could not be exported with torch.export" in (tmp_path / "bundle" / "README.md").read_text(encoding="utf-8")
    run = bundle_predict(tmp_path / "bundle", images_for("rgb", tmp_path / "images"))
    assert run.returncode == 0 and len(run.stdout.splitlines()) == 5, run.stderr
    assert run.stderr == ""


def test_a_pt2_file_must_be_named_pt2(tmp_path):
    model_pt = write_model(tmp_path / "model.pt", CLASSES, channels=3, crop=24)
    with pytest.raises(ExportError, match=r"must end in \.pt2.*choose model\.pt2"):
        export_model(model_pt, "pt2", tmp_path / "model.ts")
    assert not (tmp_path / "model.ts").exists()


def test_the_cli_offers_every_core_format_and_calls_torchscript_deprecated():
    from tlgui.cli import build_parser
    from tlgui.cli.export import FORMATS as CLI_FORMATS

    assert CLI_FORMATS == FORMATS and FORMATS[0] == "pt2"
    help_text = build_parser()._subparsers._group_actions[0].choices["export"].format_help()
    assert "deprecated by PyTorch" in help_text and "pt2" in help_text


# -- the bundle -------------------------------------------------------------------------------------------------

def bundle_predict(folder: Path, images: list[Path], *, jit_forbidden: bool = False) -> subprocess.CompletedProcess:
    """The bundle's predict.py in a fresh Python (with torch.jit.load made unusable when asked)."""
    script = ("import runpy, sys, torch\n"
              + ("del torch.jit.load\n" if jit_forbidden else "")
              + "sys.argv = sys.argv[1:]\nrunpy.run_path(sys.argv[0], run_name='__main__')\n")
    return fresh_python(script, str(folder / "predict.py"), *map(str, images))


@pytest.fixture(scope="module")
def bundled(tmp_path_factory):
    root = tmp_path_factory.mktemp("pt2bundle")
    model_pt = write_model(root / "model.pt", CLASSES, channels=3, crop=24, resize=28)
    result = export_model(model_pt, "bundle", root / "bundle")
    images = images_for("rgb", root / "images")
    return model_pt, root / "bundle", images, result


def labels_of(stdout: str) -> dict[str, str]:
    return {parts[0]: parts[1] for parts in (line.split("\t") for line in stdout.splitlines())}


def test_the_bundle_predicts_from_pt2_without_torchscript(bundled):
    model_pt, folder, images, result = bundled
    assert {"model.pt2", "model.ts"} <= {Path(f).name for f in result.files}
    assert [c.split(":")[0] for c in result.checks] == ["torch.export.load", "torch.jit.load"]
    readme = (folder / "README.md").read_text(encoding="utf-8")
    assert "loads `model.pt2` with `torch.export.load`" in readme and "falls back to\n" not in readme
    assert "falls back to `model.ts`" in readme and f"torch {torch.__version__.split('+')[0]}" in readme
    run = bundle_predict(folder, images, jit_forbidden=True)  # TorchScript is never touched
    assert run.returncode == 0, run.stderr
    assert run.stderr == ""  # no deprecation notice, nothing else
    from tlgui.core.results.predict import predict_paths

    expected = {p.path: p.label for p in predict_paths(model_pt, images, device="cpu").predictions}
    assert labels_of(run.stdout) == expected


def test_the_bundle_falls_back_to_torchscript_where_torch_cannot_read_the_pt2(bundled, tmp_path):
    import shutil

    _, folder, images, _ = bundled
    copy = tmp_path / "bundle"
    shutil.copytree(folder, copy)
    expected = labels_of(bundle_predict(folder, images).stdout)
    (copy / "model.pt2").write_bytes(b"written by a torch this one does not know")
    run = bundle_predict(copy, images)
    assert run.returncode == 0, run.stderr
    assert labels_of(run.stdout) == expected
    note = run.stderr.strip()
    assert len(note.splitlines()) == 1 and "model.pt2 cannot be used with torch" in note, note
    assert note.endswith("using model.ts (TorchScript) instead") and "deprecat" not in note.lower()


def test_a_bundle_without_torchscript_still_predicts(tmp_path, monkeypatch):
    def no_torchscript(model, ckpt, path):
        raise ExportError("this PyTorch has no TorchScript")

    monkeypatch.setitem(export_module.BUNDLE_MODELS, "model.ts", no_torchscript)
    model_pt = write_model(tmp_path / "model.pt", CLASSES, channels=3, crop=24)
    result = export_model(model_pt, "bundle", tmp_path / "bundle")
    assert not (tmp_path / "bundle" / "model.ts").exists()
    assert "model.ts left out: this PyTorch has no TorchScript" in result.checks
    assert "There is no TorchScript copy" in (tmp_path / "bundle" / "README.md").read_text(encoding="utf-8")
    run = bundle_predict(tmp_path / "bundle", images_for("rgb", tmp_path / "images"), jit_forbidden=True)
    assert run.returncode == 0 and len(run.stdout.splitlines()) == 5, run.stderr
