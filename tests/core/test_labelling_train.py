"""Labels made with tlgui label train a model (``tlgui train --data FILE.csv``), a trained run's
backbone gives the features (``--run``), and lab TIFF stacks are read with the Image values settings."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from tlgui.cli import main
from tlgui.core.models.zoo import SmallCNN
from tlgui.core.workflows.label_store import LabelStore
from tlgui.core.workflows.labelling import next_to_label

from .test_labelling_queue import make_folder

tifffile = pytest.importorskip("tifffile")


def test_train_on_the_labels_file_then_label_next_with_the_run(tmp_path, capsys):
    truth = make_folder(tmp_path / "imgs", per_class=10)
    store = LabelStore(tmp_path / "labels.csv", tmp_path / "imgs")
    store.add_many([(p, c, "red", 0.4, "random") for p, c in truth.items()])  # with tlgui's extra columns
    run = tmp_path / "run"
    assert main(["train", "--data", str(store.csv_path), "--model", "smallcnn", "--weights", "none", "--epochs", "1",
                 "--device", "cpu", "--out", str(run)]) == 0
    summary = json.loads((run / "summary.json").read_text(encoding="utf-8"))
    assert sorted(summary["classes"]) == ["blue", "green", "red"]
    capsys.readouterr()
    store.remove(next(iter(truth)))
    assert main(["label", "next", "--data", str(tmp_path / "imgs"), "--labels", str(store.csv_path), "--run",
                 str(run), "--n", "1", "--device", "cpu", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert [s["path"] for s in out["next"]] == [next(iter(truth))]  # the one image left
    assert out["labelled"] == 29
    assert main(["label", "next", "--data", str(tmp_path / "imgs"), "--run", str(tmp_path), "--json"]) == 2
    assert "not a tlgui run folder" in capsys.readouterr().err


def test_lab_tiff_stacks_are_read_with_the_image_values_settings(tmp_path):
    rng = np.random.default_rng(0)
    root = tmp_path / "stacks"
    for i in range(16):
        image = rng.integers(0, 600, (3, 16, 16)).astype(np.uint16)
        if i % 2:
            image[1, 4:12, 4:12] += 3000  # the class lives in channel 2
        (root / f"well{i % 4}").mkdir(parents=True, exist_ok=True)
        tifffile.imwrite(root / f"well{i % 4}" / f"{i}.tif", image, photometric="minisblack")
    torch.manual_seed(0)
    weights = tmp_path / "two_channel.pt"
    torch.save(SmallCNN(2, 1).state_dict(), weights)
    settings = {"device": "cpu", "channels": "2,3", "intensity": "dataset", "stack": "max"}
    queue = next_to_label(root, tmp_path / "labels.csv", model="smallcnn", weights=str(weights), n=4,
                          feature_settings=settings)
    assert queue.total == 16 and not queue.skipped and len(queue.next) == 4
    again = next_to_label(root, tmp_path / "labels.csv", model="smallcnn", weights=str(weights), n=4,
                          feature_settings=settings)
    assert again.features_reused
    other = next_to_label(root, tmp_path / "labels.csv", model="smallcnn", weights=str(weights), n=4,
                          feature_settings=dict(settings, intensity="image"))
    assert not other.features_reused  # other image settings are other features
