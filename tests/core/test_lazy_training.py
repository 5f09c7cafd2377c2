"""The path for data sets too big for memory: a DataLoader over LazyImageDataset."""

import json

import pytest

import tlgui.core.training.prepare as prepare_mod
from tlgui.core.base.config import TrainConfig
from tlgui.core.training.loop import train

from .learnable import image_folder


@pytest.fixture
def lazy(monkeypatch):
    monkeypatch.setattr(prepare_mod, "fits_in_memory", lambda *a, **k: False)


def test_lazy_path_trains_and_skips_a_file_that_breaks_mid_epoch(lazy, tmp_path):
    data = image_folder(tmp_path / "data", per_class=12)
    # passes the cheap header check at open time, fails when decoded during the epoch
    good = (data / "vertical" / "000.png").read_bytes()
    (data / "vertical" / "broken.png").write_bytes(good[: len(good) // 2])
    result = train(TrainConfig(data=str(data), model="smallcnn", epochs=3, batch_size=8, lr=3e-3,
                               out=str(tmp_path / "run")))
    assert result.status == "completed"
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["train_images"] + summary["val_images"] == 37
    assert summary["best_val_accuracy"] >= 0.6
    assert any(s["path"].endswith("broken.png") for s in summary["skipped_files"])


def test_lazy_validation_data_with_classes_in_another_order(lazy, tmp_path):
    train_dir = image_folder(tmp_path / "train", classes=("horizontal", "vertical", "dots"), per_class=10)
    val_dir = image_folder(tmp_path / "val", classes=("vertical", "horizontal"), per_class=6, seed=9)
    result = train(TrainConfig(data=str(train_dir), val_data=str(val_dir), model="smallcnn", epochs=4,
                               batch_size=8, lr=3e-3, out=str(tmp_path / "run")))
    # labels of the validation set are mapped by class name, not by position
    assert result.summary["classes"] == ["dots", "horizontal", "vertical"]
    assert result.summary["val_images"] == 12
    assert result.summary["best_val_accuracy"] >= 0.75


def test_dataloader_workers_use_spawn(lazy, tmp_path):
    data = image_folder(tmp_path / "data", per_class=6)
    result = train(TrainConfig(data=str(data), model="smallcnn", epochs=1, batch_size=8, num_workers=1,
                               out=str(tmp_path / "run")))
    assert result.status == "completed"
