import csv
import json
import threading

import pytest
import torch

from tlgui.cli import main as cli
from tlgui.core.base.config import TrainConfig
from tlgui.core.base.errors import TrainingError
from tlgui.core.base.events import BatchStats, EpochStats, Message, RunStarted, Stage
from tlgui.core.training.control import TrainControl
from tlgui.core.training.loop import train

from .learnable import image_folder

SUMMARY_KEYS = {"status", "final_val_accuracy", "best_val_accuracy", "epochs_completed", "train_seconds",
                "images_per_second", "trainable_params", "frozen_params", "classes"}


@pytest.fixture
def data(tmp_path):
    return image_folder(tmp_path / "data", per_class=12)


def config(data, out, **kw):
    base = dict(data=str(data), model="smallcnn", out=str(out), epochs=2, batch_size=8, seed=3)
    base.update(kw)
    return TrainConfig(**base)


def test_run_directory_contract_and_event_order(data, tmp_path):
    events = []
    result = train(config(data, tmp_path / "run"), events.append)
    run = tmp_path / "run"
    assert result.status == "completed" and result.run_dir == str(run.resolve())
    for name in ("config.json", "metrics.csv", "summary.json", "model.pt", "checkpoints/last.pt",
                 "checkpoints/best.pt"):
        assert (run / name).is_file(), name
    summary = json.loads((run / "summary.json").read_text())
    assert SUMMARY_KEYS <= set(summary)
    assert summary["classes"] == ["diagonal", "horizontal", "vertical"]
    assert summary["epochs_completed"] == 2 and summary["status"] == "completed"
    rows = list(csv.DictReader((run / "metrics.csv").open()))
    assert list(rows[0]) == ["epoch", "phase", "loss", "accuracy", "lr", "seconds"]
    assert [(r["epoch"], r["phase"]) for r in rows] == [("1", "train"), ("1", "val"), ("2", "train"), ("2", "val")]
    kinds = [type(e) for e in events]
    assert kinds.index(RunStarted) > kinds.index(Stage)
    assert kinds.index(RunStarted) < kinds.index(BatchStats) < kinds.index(EpochStats)
    epochs = [e for e in events if isinstance(e, EpochStats)]
    assert [e.epoch for e in epochs] == [1, 2]
    batches = [e for e in events if isinstance(e, BatchStats)]
    assert all(isinstance(b.loss, float) and isinstance(b.lr, float) for b in batches)
    assert len(batches) == 2 * batches[0].batches
    ckpt = torch.load(run / "model.pt", weights_only=True)
    assert ckpt["architecture"] == "smallcnn" and ckpt["classes"] == summary["classes"]
    assert ckpt["preprocessing"]["channels"] == 1
    # the config is fully resolved: lr filled in, paths absolute
    saved = json.loads((run / "config.json").read_text())
    assert saved["lr"] == 1e-3 and saved["out"] == str(run.resolve())


def test_learns_an_easy_task(data, tmp_path):
    result = train(config(data, tmp_path / "run", epochs=6, lr=3e-3))
    assert result.summary["best_val_accuracy"] >= 0.8


def test_seeded_runs_are_deterministic_on_cpu(data, tmp_path):
    a = train(config(data, tmp_path / "a")).summary
    b = train(config(data, tmp_path / "b")).summary
    assert a["history"] == b["history"]
    sa = torch.load(tmp_path / "a" / "model.pt", weights_only=True)["state_dict"]
    sb = torch.load(tmp_path / "b" / "model.pt", weights_only=True)["state_dict"]
    assert all(torch.equal(sa[k], sb[k]) for k in sa)


def test_stop_ends_within_one_batch_and_keeps_a_model(data, tmp_path):
    control = TrainControl()
    batches = []

    def on_event(event):
        if isinstance(event, BatchStats):
            batches.append(event)
            if len(batches) == 2:
                control.stop()

    result = train(config(data, tmp_path / "run", epochs=5), on_event, control)
    assert result.status == "stopped"
    assert len(batches) == 2
    assert (tmp_path / "run" / "model.pt").is_file()
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["status"] == "stopped" and summary["epochs_completed"] == 0


class _WatchedControl(TrainControl):
    """Says when the loop is waiting at a batch boundary while paused."""

    def __init__(self):
        super().__init__()
        self.waiting = threading.Event()

    def wait_if_paused(self):
        if self.paused:
            self.waiting.set()
        super().wait_if_paused()


def test_pause_holds_then_resume_continues(data, tmp_path):
    control = _WatchedControl()
    batches = []

    def on_event(event):
        if isinstance(event, BatchStats):
            batches.append(event.batch)
            if len(batches) == 1:
                control.pause()

    results = []
    worker = threading.Thread(target=lambda: results.append(
        train(config(data, tmp_path / "run", epochs=1), on_event, control)))
    worker.start()
    assert control.waiting.wait(120)  # the loop reached the next batch and is held there
    assert batches == [1] and worker.is_alive()  # nothing ran while paused
    control.resume()
    worker.join(120)
    assert results and results[0].status == "completed"
    # went on from batch 2 to the epoch's last, none lost or repeated
    assert batches == list(range(1, -(-results[0].summary["train_images"] // 8) + 1))
    assert len(batches) >= 2


def test_non_finite_loss_is_a_plain_error(data, tmp_path, monkeypatch):
    monkeypatch.setattr(torch.nn.CrossEntropyLoss, "forward", lambda self, a, b: (a * float("nan")).sum())
    with pytest.raises(TrainingError, match="lower learning rate"):
        train(config(data, tmp_path / "run"))


def test_rerun_saved_config_and_overwrite(data, tmp_path, capsys):
    run = tmp_path / "run"
    assert cli(["train", "--data", str(data), "--model", "smallcnn", "--epochs", "1", "--out", str(run)]) == 0
    out = capsys.readouterr().out
    assert "epoch 1/1" in out and "completed" in out
    before = (run / "model.pt").read_bytes()
    # a finished run is refused, and left as it was
    assert cli(["train", str(run / "config.json")]) == 2
    assert "already holds a finished run" in capsys.readouterr().err
    assert (run / "model.pt").read_bytes() == before
    assert cli(["train", str(run / "config.json"), "--overwrite"]) == 0
    assert json.loads((run / "summary.json").read_text())["status"] == "completed"
    # rerun into another folder with an override
    assert cli(["train", str(run / "config.json"), "--out", str(tmp_path / "again"), "--epochs", "2"]) == 0
    assert json.loads((tmp_path / "again" / "summary.json").read_text())["epochs_completed"] == 2


def test_checkpoint_round_trip_through_evaluate(data, tmp_path, capsys):
    train(config(data, tmp_path / "run", epochs=4, lr=3e-3))
    assert cli(["evaluate", str(tmp_path / "run" / "model.pt"), "--data", str(data), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["n"] == 36 and report["classes"] == ["diagonal", "horizontal", "vertical"]
    assert sum(map(sum, report["confusion"])) == 36
    assert report["accuracy"] == pytest.approx(sum(report["confusion"][i][i] for i in range(3)) / 36)
    assert set(report["per_class"]) == set(report["classes"])


def test_continue_training_keeps_head_new_classes_get_fresh_head(data, tmp_path):
    train(config(data, tmp_path / "first", epochs=1))
    model = str(tmp_path / "first" / "model.pt")
    messages = []
    train(config(data, tmp_path / "same", weights=model, epochs=1), lambda e: messages.append(e))
    texts = [m.text for m in messages if isinstance(m, Message)]
    assert any("including its classifier head" in t for t in texts)

    other = image_folder(tmp_path / "other", classes=("dots", "vertical"), per_class=10)
    messages.clear()
    result = train(config(other, tmp_path / "new", weights=model, epochs=1), messages.append)
    texts = [m.text for m in messages if isinstance(m, Message)]
    assert any("fresh classifier head" in t for t in texts) and any("new task" in t for t in texts)
    first = torch.load(model, weights_only=True)["state_dict"]
    # the backbone started from the source model: with everything frozen but the head it stays equal
    result = train(config(other, tmp_path / "head", weights=model, freeze="backbone", epochs=1))
    head_run = torch.load(tmp_path / "head" / "model.pt", weights_only=True)["state_dict"]
    assert torch.equal(first["features.0.0.weight"], head_run["features.0.0.weight"])
    assert result.summary["trainable_params"] == 128 * 2 + 2


def test_default_weights_from_local_hub_cache(tmp_path, monkeypatch):
    from tlgui.core.library.local import hub_checkpoints_dir
    from tlgui.core.models.zoo import build_model

    torch.manual_seed(7)
    reference = build_model("resnet18", 1000).state_dict()
    hub_checkpoints_dir().mkdir(parents=True)
    torch.save(reference, hub_checkpoints_dir() / "resnet18-f37072fd.pth")
    # random weights, not the published file
    monkeypatch.setattr("tlgui.core.library.integrity.verify_hash_prefix", lambda path: None)
    data = image_folder(tmp_path / "rgb", per_class=6, size=24, mode="RGB")
    events = []
    result = train(TrainConfig(data=str(data), model="resnet18", weights="default", freeze="backbone",
                               image_size=32, epochs=1, batch_size=6, out=str(tmp_path / "run")), events.append)
    assert any(isinstance(e, Message) and "IMAGENET1K_V1" in e.text for e in events)
    state = torch.load(tmp_path / "run" / "model.pt", weights_only=True)["state_dict"]
    assert torch.equal(state["layer4.1.conv2.weight"], reference["layer4.1.conv2.weight"])
    assert state["fc.weight"].shape == (3, 512)
    assert result.summary["trainable_params"] == 512 * 3 + 3


def test_damaged_default_weights_are_refused(tmp_path, capsys):
    from tlgui.core.library.local import hub_checkpoints_dir

    hub_checkpoints_dir().mkdir(parents=True)
    (hub_checkpoints_dir() / "resnet18-f37072fd.pth").write_bytes(b"truncated download")
    data = image_folder(tmp_path / "rgb", per_class=4, size=24, mode="RGB")
    code = cli(["train", "--data", str(data), "--model", "resnet18", "--weights", "default",
                "--out", str(tmp_path / "r")])
    assert code == 2
    assert "checksum does not match" in capsys.readouterr().err


def test_missing_default_weights_name_file_and_folder(tmp_path, capsys):
    data = image_folder(tmp_path / "rgb", per_class=4, size=24, mode="RGB")
    code = cli(["train", "--data", str(data), "--model", "resnet18", "--weights", "default",
                "--out", str(tmp_path / "r")])
    err = capsys.readouterr().err
    assert code == 2 and "resnet18-f37072fd.pth" in err and "hub" in err


def test_run_files_are_readable_by_others(data, tmp_path):
    import os
    import stat

    old = os.umask(0o022)
    try:
        train(config(data, tmp_path / "run", epochs=1))
    finally:
        os.umask(old)
    for name in ("model.pt", "summary.json", "config.json", "checkpoints/last.pt"):
        mode = stat.S_IMODE(os.stat(tmp_path / "run" / name).st_mode)
        assert mode == 0o644, (name, oct(mode))


def test_same_seed_same_run_whether_or_not_the_demo_source_was_just_pretrained(tmp_path, monkeypatch):
    import tlgui.core.data.demo_images as demo_images
    import tlgui.core.workflows.demo as demo

    monkeypatch.setattr(demo, "DEMO_SOURCE_EPOCHS", 1)
    monkeypatch.setattr(demo_images, "_COUNTS", {"source": (20, 5), "target": (12, 10)})
    cfg = dict(data="demo:target", val_data="demo:target", model="smallcnn", weights="demo:source",
               epochs=1, batch_size=8, seed=5)
    first = train(TrainConfig(out=str(tmp_path / "a"), **cfg)).summary  # pretrains the source first
    second = train(TrainConfig(out=str(tmp_path / "b"), **cfg)).summary  # source model cached
    assert first["history"] == second["history"]
