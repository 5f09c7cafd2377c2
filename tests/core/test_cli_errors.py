"""Every bad input of the issue: exit code 2, one clear line naming the culprit, nothing overwritten."""

import json
import os
import pickle

import pytest
import torch
from PIL import Image

from tlgui.cli import main as cli

from .learnable import image_folder


def run_cli(capsys, *args):
    code = cli(["train", *map(str, args)])
    captured = capsys.readouterr()
    return code, captured.err.strip(), captured.out


def train_args(data, out, *extra):
    return ["--data", data, "--model", "smallcnn", "--epochs", "1", "--out", out, *extra]


def assert_one_line_error(code, err, *needles):
    assert code == 2, err
    lines = [line for line in err.splitlines() if line.startswith("tlgui: error:")]
    assert len(lines) == 1, err
    assert "Traceback" not in err
    for needle in needles:
        assert needle in lines[0], lines[0]


@pytest.fixture
def data(tmp_path):
    return image_folder(tmp_path / "data", per_class=6)


def test_missing_data_folder(tmp_path, capsys):
    missing = tmp_path / "nope"
    code, err, _ = run_cli(capsys, *train_args(missing, tmp_path / "out"))
    assert_one_line_error(code, err, str(missing))
    assert not (tmp_path / "out" / "config.json").exists()


def test_empty_data_folder(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    code, err, _ = run_cli(capsys, *train_args(tmp_path / "empty", tmp_path / "out"))
    assert_one_line_error(code, err, "empty")


def test_one_class_only(tmp_path, capsys):
    data = image_folder(tmp_path / "one", classes=("vertical",), per_class=4)
    code, err, _ = run_cli(capsys, *train_args(data, tmp_path / "out"))
    assert_one_line_error(code, err, "vertical")


def test_empty_class_folder_is_ignored_with_warning(data, tmp_path, capsys):
    (data / "ghost").mkdir()
    code, err, out = run_cli(capsys, *train_args(data, tmp_path / "out"))
    assert code == 0, err
    assert "ghost" in out
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert "ghost" not in summary["classes"]


def test_every_image_unreadable(tmp_path, capsys):
    for cls in ("a", "b"):
        (tmp_path / "bad" / cls).mkdir(parents=True)
        for i in range(3):
            (tmp_path / "bad" / cls / f"{i}.png").write_bytes(b"not really a png")
    code, err, _ = run_cli(capsys, *train_args(tmp_path / "bad", tmp_path / "out"))
    assert_one_line_error(code, err, "bad")


def test_unknown_model_suggests(data, tmp_path, capsys):
    code, err, _ = run_cli(capsys, "--data", data, "--model", "resnet1", "--out", tmp_path / "o")
    assert_one_line_error(code, err, "resnet1", "resnet18")


def test_freeze_path_absent_lists_close_ones(data, tmp_path, capsys):
    code, err, _ = run_cli(capsys, *train_args(data, tmp_path / "out", "--freeze", "upto:feature.1"))
    assert_one_line_error(code, err, "feature.1", "features.1")


def test_weight_file_that_is_not_a_checkpoint(data, tmp_path, capsys):
    junk = tmp_path / "junk.pt"
    junk.write_bytes(os.urandom(2048))
    code, err, _ = run_cli(capsys, *train_args(data, tmp_path / "out", "--weights", junk))
    assert_one_line_error(code, err, "junk.pt", "not a PyTorch weight file")


class _Evil:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_pickle_with_code_is_refused_and_nothing_runs(data, tmp_path, capsys):
    marker = tmp_path / "PWNED"
    evil = tmp_path / "evil.pt"
    with open(evil, "wb") as handle:
        pickle.dump({"state_dict": _Evil(str(marker))}, handle)
    code, err, _ = run_cli(capsys, *train_args(data, tmp_path / "out", "--weights", evil))
    assert_one_line_error(code, err, "evil.pt", "refused")
    assert not marker.exists()
    # torch.save's zip format with a code-carrying object too
    evil_zip = tmp_path / "evil_zip.pt"
    torch.save({"w": _Evil(str(marker))}, evil_zip)
    assert not marker.exists() or marker.unlink() is None  # saving does not call __reduce__'s result
    code, err, _ = run_cli(capsys, *train_args(data, tmp_path / "out2", "--weights", evil_zip))
    assert_one_line_error(code, err, "refused")
    assert not marker.exists()


def test_weights_whose_shapes_do_not_fit_name_the_keys(data, tmp_path, capsys):
    from tlgui.core.models.zoo import build_model

    # (a first convolution for other input channels is adapted, as timm does: see test_lab_images)
    state = build_model("smallcnn", 3, in_channels=1).state_dict()
    state["features.1.0.weight"] = torch.zeros(64, 16, 3, 3)  # a second block of another width
    path = tmp_path / "other_smallcnn.pth"
    torch.save(state, path)
    code, err, _ = run_cli(capsys, *train_args(data, tmp_path / "out", "--weights", path))
    assert_one_line_error(code, err, "features.1.0.weight", "do not fit")


def test_weights_for_another_architecture_name_missing_layers(data, tmp_path, capsys):
    path = tmp_path / "other.pth"
    torch.save({"encoder.weight": torch.zeros(3, 3)}, path)
    code, err, _ = run_cli(capsys, *train_args(data, tmp_path / "out", "--weights", path))
    assert_one_line_error(code, err, "lack layers", "features.0.0.weight")


def test_output_folder_not_writable(data, tmp_path, capsys):
    blocker = tmp_path / "a_file"
    blocker.write_text("x")
    code, err, _ = run_cli(capsys, *train_args(data, blocker / "run"))
    assert_one_line_error(code, err, str(blocker / "run"))


def test_finished_run_refused_without_overwrite(data, tmp_path, capsys):
    out = tmp_path / "run"
    assert run_cli(capsys, *train_args(data, out))[0] == 0
    files = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}
    code, err, _ = run_cli(capsys, *train_args(data, out))
    assert_one_line_error(code, err, str(out.resolve()), "--overwrite")
    assert {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()} == files


def test_bad_value_and_missing_flags(data, tmp_path, capsys):
    code, err, _ = run_cli(capsys, "--data", data, "--model", "smallcnn", "--out", tmp_path / "o", "--epochs", "0")
    assert_one_line_error(code, err, "--epochs")
    code, err, _ = run_cli(capsys, "--data", data)
    assert_one_line_error(code, err, "--model", "--out")


def test_bad_image_among_good_ones_is_skipped_and_listed(data, tmp_path, capsys):
    (data / "vertical" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    Image.new("CMYK", (16, 16)).save(data / "vertical" / "cmyk.jpg")
    code, err, out = run_cli(capsys, *train_args(data, tmp_path / "out"))
    assert code == 0, err
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert any(s["path"].endswith("broken.png") for s in summary["skipped_files"])
    assert summary["train_images"] + summary["val_images"] == 19


def test_bad_input_with_overwrite_keeps_the_old_run(data, tmp_path, capsys):
    out = tmp_path / "run"
    assert run_cli(capsys, *train_args(data, out))[0] == 0
    files = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}
    code, err, _ = run_cli(capsys, *train_args(tmp_path / "typo", out, "--overwrite"))
    assert_one_line_error(code, err, "typo")
    assert {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()} == files


def test_bad_input_leaves_no_empty_run_folder(tmp_path, capsys):
    code, err, _ = run_cli(capsys, *train_args(tmp_path / "typo", tmp_path / "new_run"))
    assert code == 2
    assert not (tmp_path / "new_run").exists()


def test_unexpected_error_is_one_line_without_traceback(data, tmp_path, capsys, monkeypatch):
    import tlgui.core.training.loop as training

    def broken(*args, **kwargs):
        raise ValueError("something internal")

    monkeypatch.setattr(training, "prepare", broken)
    code, err, _ = run_cli(capsys, *train_args(data, tmp_path / "out"))
    assert code == 1 and "Traceback" not in err
    assert "unexpected error: ValueError: something internal" in err and "TLGUI_DEBUG" in err


def test_cpu_out_of_memory_is_a_plain_message(data, tmp_path, capsys, monkeypatch):
    import tlgui.core.training.loop as training

    def oom(*args, **kwargs):
        raise RuntimeError("[enforce fail at alloc_cpu.cpp:117] DefaultCPUAllocator: can't allocate memory")

    monkeypatch.setattr(training, "augment_batch", oom)
    code, err, _ = run_cli(capsys, *train_args(data, tmp_path / "out"))
    assert_one_line_error(code, err, "ran out of memory", "smaller batch size")
