"""My models: finished runs listed with their facts; damaged files listed, never a crash."""

from __future__ import annotations

import json
import os
import pickle
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from tlgui.cli import main
from tlgui.core.base.files import atomic_save
from tlgui.core.library.my_models import find_model_files, list_my_models, read_model_info
from tlgui.core.models.checkpoint import make_checkpoint
from tlgui.core.models.zoo import SmallCNN
from tlgui.paths import models_dir, runs_dir


def save_model(folder, classes=("a", "b"), data="folder:x", val_accuracy=0.5, summary=None, created=None):
    ckpt = make_checkpoint(
        SmallCNN(len(classes), 1), "smallcnn", list(classes), 1, "fc", {"resize": 28},
        {"data": data, "weights": "none", "val_accuracy": val_accuracy},
    )
    if created:
        ckpt["created"] = created
    atomic_save(ckpt, folder / "model.pt")
    if summary is not None:
        (folder / "summary.json").write_text(json.dumps(summary))
    return folder / "model.pt"


def test_lists_runs_and_library_models_with_their_facts(tmp_path):
    save_model(runs_dir() / "run-1", ("cat", "dog"), "photos", 0.7,
               {"status": "completed", "final_val_accuracy": 0.81, "best_val_accuracy": 0.83},
               created="2024-01-02T03:04:05+00:00")
    save_model(runs_dir() / "run-2", ("x", "y", "z"), "demo:source", 0.42, None, created="2024-05-01T00:00:00+00:00")
    save_model(models_dir() / "demo-source", created="2023-01-01T00:00:00+00:00")
    (runs_dir() / "not-a-run").mkdir()
    models = list_my_models()
    assert [m.name for m in models] == ["run-2", "run-1", "demo-source"]  # newest first
    run1 = models[1]
    assert run1.ok and run1.architecture == "smallcnn" and run1.source_data == "photos"
    assert run1.classes == ("cat", "dog") and run1.num_classes == 2
    assert run1.accuracy == pytest.approx(0.81)  # summary.json first
    assert run1.best_accuracy == pytest.approx(0.83) and run1.status == "completed"
    assert run1.date == "2024-01-02T03:04:05+00:00"
    assert models[0].accuracy == pytest.approx(0.42)  # no summary: the checkpoint's own figure
    assert json.loads(json.dumps(run1.to_dict()))["classes"] == ["cat", "dog"]


def test_extra_folders_single_runs_and_no_duplicates(tmp_path):
    save_model(tmp_path / "elsewhere" / "r1")
    save_model(tmp_path / "single")
    save_model(runs_dir() / "r0")
    files = find_model_files([tmp_path / "elsewhere", tmp_path / "single", runs_dir(), tmp_path / "missing"])
    assert sorted(p.parent.name for p in files) == ["r0", "r1", "single"]


def test_damaged_files_are_listed_with_a_reason(tmp_path):
    save_model(runs_dir() / "good")
    for name, content in [("junk", b"not a model at all"), ("empty", b"")]:
        (runs_dir() / name).mkdir()
        (runs_dir() / name / "model.pt").write_bytes(content)
    (runs_dir() / "plain").mkdir()
    torch.save(SmallCNN(2, 1).state_dict(), runs_dir() / "plain" / "model.pt")
    (runs_dir() / "cut").mkdir()
    whole = (runs_dir() / "good" / "model.pt").read_bytes()
    (runs_dir() / "cut" / "model.pt").write_bytes(whole[: len(whole) // 2])
    (runs_dir() / "pickled").mkdir()
    marker = tmp_path / "ran.txt"
    with open(runs_dir() / "pickled" / "model.pt", "wb") as handle:
        pickle.dump({"format": "tlgui.model", "x": Payload(str(marker))}, handle, protocol=2)
    models = {m.name: m for m in list_my_models()}
    assert models["good"].ok
    problems = {name: m.problem for name, m in models.items() if not m.ok}
    assert set(problems) == {"junk", "empty", "plain", "cut", "pickled"}
    assert "not a PyTorch weight file" in problems["junk"]
    assert "empty" in problems["empty"]
    assert "not a tlgui model file" in problems["plain"]
    assert "code" in problems["pickled"] and not marker.exists()
    assert all("\n" not in p for p in problems.values())


class Payload:
    def __init__(self, marker: str):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_reads_header_without_loading_tensors(tmp_path, monkeypatch):
    path = save_model(runs_dir() / "r")
    seen = []
    real = torch.load

    def spy(*args, **kwargs):
        seen.append(kwargs)
        return real(*args, **kwargs)

    monkeypatch.setattr(torch, "load", spy)
    assert read_model_info(path).ok
    assert seen == [{"map_location": "cpu", "weights_only": True, "mmap": True}]


# ------------------------------------------------------------------ the mission's workflow


def write_images(root, classes, per_class=12, seed=0):
    """Tiny 28x28 grayscale image folders: one class-specific pattern plus noise per class."""
    rng = np.random.default_rng(seed)
    for index, name in enumerate(classes):
        folder = root / name
        folder.mkdir(parents=True)
        pattern = np.zeros((28, 28), np.float32)
        pattern[:, 4 * index : 4 * index + 6] = 200  # a bar whose place tells the class
        for i in range(per_class):
            noisy = np.clip(pattern + rng.normal(0, 25, pattern.shape), 0, 255).astype(np.uint8)
            Image.fromarray(noisy, "L").save(folder / f"{i}.png")
    return root


def test_train_list_then_transfer_to_a_new_class_set(tmp_path, capsys):
    """Train on one set (think MNIST), find it in My models, fine-tune it on another
    (think Fashion-MNIST): the head is new, the backbone comes from the first run."""
    from tlgui.core.base.config import TrainConfig
    from tlgui.core.base.events import Message
    from tlgui.core.training.loop import train

    source = write_images(tmp_path / "digits", ["zero", "one", "two"])
    target = write_images(tmp_path / "fashion", ["shirt", "shoe"], seed=1)
    first = train(TrainConfig(data=str(source), model="smallcnn", epochs=1, batch_size=8, device="cpu",
                              out=str(runs_dir() / "digits-smallcnn")))
    assert first.status == "completed"

    [mine] = list_my_models()
    assert (mine.name, mine.architecture, mine.classes) == ("digits-smallcnn", "smallcnn", ("one", "two", "zero"))
    assert mine.source_data == str(source) and mine.ok
    assert mine.accuracy == pytest.approx(first.summary["final_val_accuracy"])
    # the date shown is when model.pt was written, in UTC
    stamp = Path(mine.path).stat().st_mtime
    assert mine.date == datetime.fromtimestamp(stamp, timezone.utc).isoformat(timespec="seconds")
    assert main(["weights", "models", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)["models"]
    assert [m["path"] for m in listed] == [mine.path]

    events = []
    second = train(
        TrainConfig(data=str(target), model="smallcnn", weights=mine.path, epochs=1, batch_size=8, device="cpu",
                    out=str(tmp_path / "fashion-run")),
        events.append,
    )
    assert second.status == "completed"
    notes = [e.text for e in events if isinstance(e, Message)]
    assert any("fresh classifier head" in n for n in notes), notes
    assert any("treating it as a new task" in n for n in notes), notes
    # the new run is found when its folder is given, and knows where it started from
    runs = {m.name: m for m in list_my_models([tmp_path])}
    assert runs["fashion-run"].weights == mine.path
    assert runs["fashion-run"].classes == ("shirt", "shoe")


@pytest.mark.slow
@pytest.mark.skipif(not os.path.isdir("/usr/share/datasets/fashion-mnist"), reason="Fashion-MNIST not installed")
def test_real_fashion_mnist_transfer_smoke(tmp_path):
    """With the real data installed: a synthetic-source model transfers onto Fashion-MNIST."""
    from tlgui.core.base.config import TrainConfig
    from tlgui.core.training.loop import train

    source = write_images(tmp_path / "digits", ["zero", "one", "two"])
    first = train(TrainConfig(data=str(source), model="smallcnn", epochs=1, batch_size=8, device="cpu",
                              out=str(runs_dir() / "src")))
    result = train(TrainConfig(data="/usr/share/datasets/fashion-mnist", model="smallcnn",
                               weights=str(first.run_dir) + "/model.pt", epochs=1, batch_size=64, device="cpu",
                               max_train_images=600, out=str(tmp_path / "fm")))
    assert result.status == "completed"
    assert {m.name for m in list_my_models([tmp_path])} >= {"src", "fm"}
