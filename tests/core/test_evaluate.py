"""Evaluation of a saved model: figures, rows mapped to the right files even when some
images fail to decode, top losses, CSV export, stop flag, and the CLI's JSON keys."""

import csv
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from tests.core import corpus
from tests.core.learnable import image_folder
from tlgui.cli import main as cli
from tlgui.core.base.files import atomic_save
from tlgui.core.base.preprocessing import Preprocessing
from tlgui.core.data.catalog import open_source
from tlgui.core.data.sources import ImageSet
from tlgui.core.models.checkpoint import make_checkpoint
from tlgui.core.models.zoo import build_model, find_head_path
from tlgui.core.results.evaluate import _kept_indices, evaluate_model

CLASSES = ["diagonal", "horizontal", "vertical"]


def write_model(path: Path, classes=CLASSES, channels: int = 1, crop: int = 20, resize: int | None = None,
                arch: str = "smallcnn", seed: int = 0) -> Path:
    """A randomly initialised model.pt whose predictions vary from image to image."""
    torch.manual_seed(seed)
    model = build_model(arch, len(classes), channels)
    with torch.no_grad():  # spread the BatchNorm statistics so random outputs differ a lot
        for module in model.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.running_mean.uniform_(-0.5, 0.5)
                module.running_var.uniform_(0.2, 2.0)
    if channels == 1:
        mean, std = [0.5], [0.5]
    else:
        mean, std = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]
    prep = Preprocessing(resize=resize or crop, crop=crop, channels=channels, mean=mean, std=std)
    atomic_save(make_checkpoint(model, arch, classes, channels, find_head_path(model), prep.to_dict()), path)
    return path


def train_model(data: Path, out: Path, epochs: int = 2) -> Path:
    """A smallcnn trained briefly on ``data``: its predictions differ between images."""
    from tlgui.core.base.config import TrainConfig
    from tlgui.core.training.loop import train

    config = TrainConfig(data=str(data), model="smallcnn", epochs=epochs, batch_size=8, lr=3e-3,
                         image_size=20, device="cpu", seed=0, out=str(out))
    result = train(config)
    assert result.status == "completed"
    return out / "model.pt"


def folder_with_bad_images(root: Path) -> tuple[Path, list[Path]]:
    """Three learnable classes of 8 images (16 px) plus two PNGs that pass the header
    check but fail to decode, placed mid-class and first in a class."""
    image_folder(root, classes=CLASSES, per_class=8, size=16)
    bad = [
        corpus.truncated_png(root / "horizontal" / "003b.png"),
        corpus.truncated_png(root / "vertical" / "000a.png"),
    ]
    return root, bad


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("evaluate")
    root, bad = folder_with_bad_images(tmp / "data")
    return train_model(root, tmp / "run"), root, bad


def test_rows_map_to_their_files_despite_decode_failures(setup):
    model, root, bad = setup
    result = evaluate_model(str(model), str(root), device="cpu")
    assert result.n == len(result.targets) == len(result.descriptions) == 24
    assert sorted(p for p, _ in result.skipped) == sorted(str(p) for p in bad)
    assert all(str(p) not in result.descriptions for p in bad)
    assert len(set(result.descriptions)) == 24
    for description, target in zip(result.descriptions, result.targets, strict=True):
        assert Path(description).parent.name == result.classes[target]
    # the confusion matrix counts exactly the argmax of the probability rows
    cm = np.zeros((3, 3), dtype=int)
    np.add.at(cm, (result.targets, result.predictions), 1)
    np.testing.assert_array_equal(cm, result.confusion)
    assert len(set(result.predictions.tolist())) > 1, "the test model should not predict one class only"


def test_kept_indices_by_index_by_path_and_duplicates():
    images = ImageSet("t", ["a", "b"], np.array([0, 0, 1, 1, 1]), paths=["p0", "p1", "p2", "p1", "p4"])
    idx = np.arange(5)
    # failures named by path (what decode_to_tensor returns today)
    np.testing.assert_array_equal(_kept_indices(images, idx, [("p2", "corrupt")], 4), [0, 1, 3, 4])
    # a file listed twice that failed twice is removed twice; once -> only its first listing
    np.testing.assert_array_equal(_kept_indices(images, idx, [("p1", "x"), ("p1", "x")], 3), [0, 2, 4])
    np.testing.assert_array_equal(_kept_indices(images, idx, [("p1", "x")], 4), [0, 2, 3, 4])
    # failures named by index
    np.testing.assert_array_equal(_kept_indices(images, idx, [(1, "x"), (4, "y")], 3), [0, 2, 3])
    # decoding stopped early: rows are a prefix
    np.testing.assert_array_equal(_kept_indices(images, idx, [("p0", "x")], 2), [1, 2])


def test_top_losses_and_csv_export(setup, tmp_path):
    model, root, _ = setup
    result = evaluate_model(str(model), str(root), device="cpu")
    losses = result.top_losses(5)
    assert losses, "a random model gets some images wrong"
    assert [t.probability for t in losses] == sorted((t.probability for t in losses), reverse=True)
    for t in losses:
        assert t.true != t.predicted
        assert Path(t.path).parent.name == t.true
        row = result.descriptions.index(t.path)
        assert result.classes[result.predictions[row]] == t.predicted
        assert result.probabilities[row].max() == pytest.approx(t.probability)

    files = result.write_csv(tmp_path / "csv")
    assert sorted(p.name for p in files) == ["confusion.csv", "per_class.csv", "predictions.csv", "top_losses.csv"]
    per_class = list(csv.DictReader(open(tmp_path / "csv" / "per_class.csv", newline="")))
    assert [r["class"] for r in per_class] == CLASSES
    assert sum(int(r["support"]) for r in per_class) == 24
    predictions = list(csv.DictReader(open(tmp_path / "csv" / "predictions.csv", newline="")))
    assert len(predictions) == 24
    for r in predictions:
        assert Path(r["path"]).parent.name == r["true"]


def test_progress_and_stop(setup):
    model, root, _ = setup
    calls = []
    evaluate_model(str(model), str(root), device="cpu", progress=lambda d, n: calls.append((d, n)))
    assert calls and calls[-1][0] == calls[-1][1] and len(calls) <= 45
    stopped = evaluate_model(str(model), str(root), device="cpu", should_stop=lambda: True)
    assert stopped.stopped and stopped.n == 0


def test_in_memory_source_descriptions(tmp_path):
    model = write_model(tmp_path / "m.pt", classes=open_source("demo:target").classes, crop=28)
    result = evaluate_model(str(model), "demo:target", split="test", device="cpu")
    assert result.n == len(result.descriptions)
    assert result.descriptions[0].endswith("#0") and result.descriptions[-1].endswith(f"#{result.n - 1}")


def test_cli_json_keys_and_csv(setup, tmp_path, capsys):
    model, root, _ = setup
    code = cli(["evaluate", str(model), "--data", str(root), "--device", "cpu", "--json",
                "--csv", str(tmp_path / "out")])
    assert code == 0
    report = json.loads(capsys.readouterr().out)
    for key in ("accuracy", "per_class", "confusion", "classes", "n", "precision", "recall", "f1", "balanced_accuracy"):
        assert key in report
    assert report["classes"] == CLASSES and report["n"] == 24
    assert set(report["f1"]) == set(CLASSES)
    assert sum(map(sum, report["confusion"])) == 24
    assert (tmp_path / "out" / "confusion.csv").is_file()

    code = cli(["evaluate", str(model), "--data", str(root), "--device", "cpu", "--top-losses", "2"])
    out = capsys.readouterr()
    assert code == 0 and "most confidently wrong" in out.out and "skipped 2" in out.err


def test_cli_missing_model(tmp_path, capsys):
    code = cli(["evaluate", str(tmp_path / "nope.pt"), "--data", "demo:target"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and err.startswith("tlgui: error:") and "nope.pt" in err and len(err.splitlines()) == 1
