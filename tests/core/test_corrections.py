"""Label corrections: a CSV applied when the data is opened, honoured by train, split.csv,
evaluate and resume, never touching the user's files."""

import csv
import json
import os

import pytest

from tlgui.cli import main as cli
from tlgui.core.base.config import TrainConfig
from tlgui.core.data.catalog import open_source
from tlgui.core.data.corrections import apply_corrections, read_corrections, write_corrections
from tlgui.core.training.loop import train

from .learnable import image_folder
from .test_resume import stop_after_epoch


@pytest.fixture
def data(tmp_path):
    return image_folder(tmp_path / "data", per_class=12)


def _listing(root):
    return sorted((p, os.path.getsize(os.path.join(d, p)), os.path.getmtime(os.path.join(d, p)))
                  for d, _dirs, files in os.walk(root) for p in files)


def _fix_file(data, tmp_path, extra=()):
    rows = {str(data / "horizontal" / "000.png"): "vertical", str(data / "diagonal" / "001.png"): "exclude"}
    rows.update(dict(extra))
    return write_corrections(tmp_path / "fixes.csv", rows)


def test_bad_rows_are_reported_one_line_each_and_the_rest_applied(data, tmp_path):
    fixes = _fix_file(data, tmp_path, [(str(tmp_path / "elsewhere.png"), "diagonal"),
                                       (str(data / "vertical" / "002.png"), "no-such-class")])
    images = open_source(str(data))
    problems = apply_corrections(read_corrections(fixes), [(images, str(data))])
    assert len(problems) == 2
    assert any("elsewhere.png is not in the data set" in p for p in problems)
    assert any("'no-such-class'" in p and "002.png" in p for p in problems)
    paths = [os.path.abspath(p) for p in images.paths]
    assert str(data / "diagonal" / "001.png") not in paths and len(images) == 35
    moved = paths.index(str(data / "horizontal" / "000.png"))
    assert images.classes[images.labels[moved]] == "vertical"


def test_a_missing_or_malformed_corrections_file_is_one_line_exit_2(data, tmp_path, capsys):
    out = str(tmp_path / "run")
    assert cli(["train", "--data", str(data), "--model", "smallcnn", "--out", out, "--epochs", "1",
                "--corrections", str(tmp_path / "nope.csv")]) == 2
    assert "corrections file not found" in capsys.readouterr().err
    (tmp_path / "bad.csv").write_text("file,class\na,b\n")
    assert cli(["train", "--data", str(data), "--model", "smallcnn", "--out", out, "--epochs", "1",
                "--corrections", str(tmp_path / "bad.csv")]) == 2
    assert "header path,label" in capsys.readouterr().err


def test_train_records_corrections_split_shows_them_and_evaluate_uses_them(data, tmp_path, capsys):
    before = _listing(data)
    fixes = _fix_file(data, tmp_path, [(str(tmp_path / "elsewhere.png"), "diagonal")])
    out = tmp_path / "run"
    assert cli(["train", "--data", str(data), "--model", "smallcnn", "--out", str(out), "--epochs", "1",
                "--batch-size", "8", "--corrections", str(fixes)]) == 0
    printed = capsys.readouterr().out
    assert "elsewhere.png is not in the data set" in printed and "1 relabelled, 1 excluded" in printed
    config = json.loads((out / "config.json").read_text())
    assert config["corrections"] == str(fixes)
    assert len(config["corrections_sha256"]) == 64
    rows = {r["path"]: r["label"] for r in csv.DictReader((out / "split.csv").open())}
    rows = {os.path.abspath(k): v for k, v in rows.items()}
    assert rows[str(data / "horizontal" / "000.png")] == "vertical"
    assert str(data / "diagonal" / "001.png") not in rows and len(rows) == 35
    assert _listing(data) == before  # nothing moved, renamed or deleted
    assert cli(["evaluate", str(out), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["n"] == sum(1 for r in csv.DictReader((out / "split.csv").open()) if r["subset"] == "val")


def test_resume_and_evaluate_use_the_corrections_the_run_trained_with(data, tmp_path, capsys):
    fixes = _fix_file(data, tmp_path)
    config = TrainConfig(data=str(data), model="smallcnn", out=str(tmp_path / "part"), epochs=2, batch_size=8,
                         corrections=str(fixes))
    on_event, control = stop_after_epoch(1)
    assert train(config, on_event, control).status == "stopped"
    # the stored split holds corrected labels: without the corrections, resume would find
    # "changed class" images; with them it continues
    assert cli(["train", str(tmp_path / "part" / "config.json"), "--resume"]) == 0
    assert json.loads((tmp_path / "part" / "summary.json").read_text())["status"] == "completed"
    assert (tmp_path / "part" / "corrections.csv").read_bytes() == fixes.read_bytes()  # the run's own copy
    capsys.readouterr()
    # the user's file changes later (more review): the run evaluates with the copy it trained with
    fixes.write_text(fixes.read_text() + f"{data / 'vertical' / '003.png'},diagonal\n")
    assert cli(["evaluate", str(tmp_path / "part"), "--json"]) == 0
    capsys.readouterr()
    (tmp_path / "part" / "corrections.csv").unlink()
    assert cli(["evaluate", str(tmp_path / "part")]) == 2
    assert "has changed since this run recorded it" in capsys.readouterr().err


def test_evaluate_a_model_file_with_corrections(data, tmp_path, capsys):
    out = tmp_path / "run"
    train(TrainConfig(data=str(data), model="smallcnn", out=str(out), epochs=1, batch_size=8))
    fixes = _fix_file(data, tmp_path)
    assert cli(["evaluate", str(out / "model.pt"), "--data", str(data), "--json", "--corrections", str(fixes)]) == 0
    assert json.loads(capsys.readouterr().out)["n"] == 35
