"""``predict_paths`` and ``tlgui predict``: folders walked, junk skipped, unreadable files
reported, CSV layout, and agreement with ``tlgui evaluate`` on the same images."""

import csv
import threading
from pathlib import Path

import pytest

from tests.core import corpus
from tests.core.test_evaluate import folder_with_bad_images, train_model, write_model
from tlgui.cli import main as cli
from tlgui.core.base.errors import DataError
from tlgui.core.results.evaluate import evaluate_model
from tlgui.core.results.predict import (
    Predictor,
    collect_image_files,
    predict_paths,
    write_predictions_csv,
)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("predict")
    root, bad = folder_with_bad_images(tmp / "data")
    return train_model(root, tmp / "run"), root, bad


def test_predict_csv_agrees_with_evaluate(trained, tmp_path, capsys):
    model, root, bad = trained
    out = tmp_path / "pred.csv"
    code = cli(["predict", str(model), str(root), "--csv", str(out), "--top-k", "2", "--device", "cpu"])
    captured = capsys.readouterr()
    assert code == 0
    for path in bad:  # unreadable images are reported, not fatal
        assert f"cannot read {path}" in captured.err
    rows = list(csv.DictReader(open(out, newline="")))
    assert list(rows[0]) == ["path", "label", "probability", "top1", "p1", "top2", "p2"]
    by_path = {r["path"]: r for r in rows}
    assert len(by_path) == 24

    evaluation = evaluate_model(str(model), str(root), device="cpu")
    predicted = evaluation.predictions
    assert len(set(predicted.tolist())) > 1
    for i, path in enumerate(evaluation.descriptions):
        row = by_path[path]
        assert row["label"] == evaluation.classes[predicted[i]], path
        assert float(row["probability"]) == pytest.approx(float(evaluation.probabilities[i].max()), abs=1e-5)
        assert row["top1"] == row["label"] and float(row["p1"]) >= float(row["p2"])
    # stdout: one tab-separated line per image
    lines = [line.split("\t") for line in captured.out.splitlines()]
    assert len(lines) == 24 and all(len(parts) == 3 for parts in lines)
    assert {parts[0]: parts[1] for parts in lines} == {p: r["label"] for p, r in by_path.items()}


def test_collect_skips_hidden_and_non_images_but_tries_named_files(tmp_path):
    files = corpus.odd_folder(tmp_path / "odd")
    found, problems = collect_image_files([tmp_path / "odd", files["cat_rgb"], tmp_path / "missing.png"])
    names = {Path(p).name for p in found}
    assert "secret.png" not in names and "thumb.png" not in names  # hidden folders
    assert "notes.txt" not in names and "readme.txt" not in names and ".DS_Store" not in names
    assert {"l.png", "rgb.png", "rgba.png", "p.gif", "cmyk.jpg", "sixteen.png", "fake.jpg", "truncated.png"} <= names
    assert len(found) == len(set(found))  # rgb.png named twice, listed once
    assert problems == [(str(tmp_path / "missing.png"), "file not found")]
    explicit, _ = collect_image_files([tmp_path / "odd" / "cats" / "notes.txt"])
    assert explicit == [str(tmp_path / "odd" / "cats" / "notes.txt")]


def test_odd_modes_are_predicted_and_junk_reported(tmp_path):
    corpus.odd_folder(tmp_path / "odd")
    model = write_model(tmp_path / "m.pt", classes=["cats", "dogs"], channels=3, crop=24, resize=28)
    report = predict_paths(model, [tmp_path / "odd"], top_k=5, device="cpu")
    predicted = {Path(p.path).name for p in report.predictions}
    assert predicted == {"l.png", "rgb.png", "rgba.png", "p.gif", "cmyk.jpg", "sixteen.png", "bilevel.png",
                         "rotated.jpg"}
    reasons = {Path(p).name: r for p, r in report.unreadable}
    assert set(reasons) == {"zero.png", "fake.jpg", "truncated.png"}
    assert reasons["zero.png"] == "empty file (0 bytes)"
    assert report.top_k == 2  # clamped to the number of classes
    for p in report.predictions:
        assert p.top[0] == (p.label, p.probability)
        assert sum(prob for _, prob in p.top) == pytest.approx(1.0, abs=1e-5)
    write_predictions_csv(tmp_path / "out.csv", report)
    with open(tmp_path / "out.csv", newline="") as f:
        header, *rows = list(csv.reader(f))
    assert header == ["path", "label", "probability", "top1", "p1", "top2", "p2"]
    assert [(r[0], r[1]) for r in rows] == [(p.path, p.label) for p in report.predictions]  # one row per image


def test_stop_flag_and_progress(trained):
    model, root, _ = trained
    stop = threading.Event()
    stop.set()
    report = predict_paths(model, [root], should_stop=stop, device="cpu")
    assert report.stopped and report.predictions == []
    calls = []
    predict_paths(model, [root], progress=lambda d, n: calls.append((d, n)), device="cpu")
    assert calls[-1] == (26, 26)


def test_predictor_keeps_model_loaded(trained):
    from PIL import Image

    model, root, _ = trained
    predictor = Predictor.from_file(model, device="cpu")
    image = Image.open(next((root / "vertical").glob("00[1-9].png")))
    one = predictor.predict_image(image, top_k=3, path="x")
    assert one.label in predictor.classes and len(one.top) == 3


def test_no_images_is_an_error(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    model = write_model(tmp_path / "m.pt")
    with pytest.raises(DataError, match="no image files"):
        predict_paths(model, [tmp_path / "empty"])
    code = cli(["predict", str(model), str(tmp_path / "empty")])
    err = capsys.readouterr().err.strip()
    assert code == 2 and err.startswith("tlgui: error:") and len(err.splitlines()) == 1


def test_cli_errors_are_one_line(tmp_path, capsys):
    image = corpus.rgb(tmp_path / "a.png")
    bad_model = tmp_path / "garbage.pt"
    bad_model.write_bytes(b"not a model at all")
    for args, needle in [
        (["predict", str(tmp_path / "none.pt"), str(image)], "none.pt"),
        (["predict", str(bad_model), str(image)], "garbage.pt"),
        (["predict", str(write_model(tmp_path / "m.pt")), str(image), "--top-k", "0"], "--top-k"),
        (["predict", str(tmp_path / "m.pt"), str(image), "--csv", str(tmp_path / "no" / "dir" / "x.csv")], "x.csv"),
        # a folder nobody can write in, not even root: refused before any image is predicted
        (["predict", str(tmp_path / "m.pt"), str(image), "--csv", "/proc/x.csv"], "/proc is not writable"),
    ]:
        code = cli(args)
        err = capsys.readouterr().err.strip()
        assert code == 2, (args, err)
        assert err.startswith("tlgui: error:") and needle in err and len(err.splitlines()) == 1, err


def test_all_unreadable_exits_1(tmp_path, capsys):
    model = write_model(tmp_path / "m.pt")
    bad = corpus.not_an_image(tmp_path / "x.png")
    assert cli(["predict", str(model), str(bad)]) == 1
    assert "cannot read" in capsys.readouterr().err
