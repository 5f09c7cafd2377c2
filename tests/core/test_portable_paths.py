"""Paths that read back on Windows, macOS and Linux, and paths too long for Windows (issue 28, A.2)."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from tlgui.core.base import files
from tlgui.core.base.errors import RunDirError
from tlgui.core.data.corrections import apply_corrections, read_corrections, write_corrections
from tlgui.core.data.sources import ImageSet
from tlgui.core.results.run_split import SplitRow, indices_of, read_split, write_split
from tlgui.core.results.runs import RunDir
from tlgui.workers.training import MAX_LABEL, new_run_dir


def _images(root) -> ImageSet:
    paths = []
    for name in ("cat", "dog"):
        (root / name).mkdir(parents=True)
        for i in range(2):
            path = root / name / f"{i}.png"
            path.write_bytes(b"")
            paths.append(str(path))
    return ImageSet(name=str(root), paths=paths, labels=np.array([0, 0, 1, 1]), classes=["cat", "dog"])


def test_csv_paths_use_forward_slashes_written_on_windows():
    assert files.csv_path(r"C:\Users\Zoé\Données\cat\1.png", sep="\\") == "C:/Users/Zoé/Données/cat/1.png"
    assert files.csv_path("/Users/zoe/cat/1.png", sep="/") == "/Users/zoe/cat/1.png"
    assert files.path_key(r"C:\data\cat\1.png") == files.path_key("C:/data/cat/1.png")


def test_a_split_written_with_backslashes_reads_back_here(tmp_path):
    images = _images(tmp_path / "Données")
    rows = [SplitRow(p.replace("/", "\\"), label, subset)  # as a Windows program may write them
            for p, label, subset in zip(images.paths, ["cat", "cat", "dog", "dog"], ["train", "val"] * 2, strict=True)]
    write_split(tmp_path / "run", rows)
    stored = read_split(tmp_path / "run")
    found, missing = indices_of(images, str(tmp_path), stored, "train")
    assert missing == [] and found.tolist() == [0, 2]


def test_corrections_written_on_windows_with_relative_paths_apply_here(tmp_path):
    images = _images(tmp_path / "Données")
    csv_file = tmp_path / "Données" / "corrections.csv"
    csv_file.write_text("path,label\ncat\\1.png,dog\ndog\\0.png,exclude\n", encoding="utf-8")
    problems = apply_corrections(read_corrections(csv_file), [(images, str(tmp_path))])
    assert problems == []
    assert images.labels.tolist() == [0, 1, 1] and len(images.paths) == 3


def test_corrections_tlgui_writes_read_back(tmp_path):
    images = _images(tmp_path / "細胞 1")
    target = write_corrections(tmp_path / "home" / "labels.csv", {images.paths[0]: "dog"})
    assert target.read_text(encoding="utf-8").splitlines()[1] == f"{images.paths[0]},dog"
    apply_corrections(read_corrections(target), [(images, str(tmp_path))])
    assert images.labels.tolist() == [1, 0, 1, 1]


@pytest.fixture
def windows_without_long_paths(monkeypatch):
    monkeypatch.setattr(sys, "platform", "win32")
    monkeypatch.setattr(files, "windows_long_paths_enabled", lambda: False)


def test_a_run_folder_too_long_for_windows_is_refused_in_one_line(windows_without_long_paths, tmp_path):
    long_folder = tmp_path / ("sous-dossier très long " * 10) / "run"
    with pytest.raises(RunDirError) as caught:
        RunDir(long_folder).check(overwrite=False)
    message = str(caught.value)
    assert "\n" not in message and "characters long" in message
    assert "Windows allows at most 259 characters in a path" in message and "choose a shorter folder" in message
    RunDir(tmp_path / "run").check(overwrite=False)  # a short one is fine


def test_long_paths_are_fine_where_windows_allows_them_or_elsewhere(monkeypatch, tmp_path):
    folder = tmp_path / ("x" * 250)
    assert files.path_too_long(folder) is None  # not Windows
    monkeypatch.setattr(sys, "platform", "win32")
    monkeypatch.setattr(files, "windows_long_paths_enabled", lambda: True)
    assert files.path_too_long(folder) is None


def test_run_folders_tlgui_names_stay_short(tmp_path):
    run = new_run_dir(tmp_path, "timm:" + "very_long_model_name_" * 8)
    assert len(run.name) <= len("20260101-120000-") + MAX_LABEL
    assert len(str(run)) - len(str(tmp_path)) + files.RUN_FILE_RESERVE < files.WINDOWS_MAX_PATH - 100


def test_export_to_a_folder_too_long_for_windows_is_one_line(windows_without_long_paths, tmp_path, capsys):
    from tlgui.cli import main

    model = tmp_path / "model.pt"
    model.write_bytes(b"not read: the folder is refused first")
    out = tmp_path.joinpath(*["dossier très long"] * 16)  # each name is fine; the whole path is not
    code = main(["export", str(model), "--format", "bundle", "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "Windows allows at most 259 characters" in err, err


def test_a_name_longer_than_the_system_allows_is_one_line(tmp_path, capsys):
    from tlgui.cli import main

    code = main(["export", str(tmp_path / "model.pt"), "--format", "bundle", "--out", str(tmp_path / ("é" * 240))])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1, err
    assert err.startswith("tlgui: error: the path ") and "is too long for this system" in err
