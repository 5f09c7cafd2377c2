"""``tlgui compare`` on the built-in demo with all three strategies: compare.json and
compare.png are written and describe every strategy.

The fast test pretrains the demo source model briefly (a subset, one epoch) so it stays
well under a minute; the slow one uses the real source model and checks that fine-tuning
beats training from scratch, which is the point of the demo.
"""

import json

import pytest
from PIL import Image

from tlgui.cli import main as cli
from tlgui.core.models.zoo import build_model
from tlgui.core.workflows.compare import STRATEGIES


def quick_demo_source_model(images: int = 1000) -> None:
    """Put a briefly pretrained source model where ``--weights demo:source`` looks for it."""
    from tlgui.core.base.config import TrainConfig
    from tlgui.core.training.loop import train
    from tlgui.core.workflows.demo import demo_source_dir

    config = TrainConfig(
        data="demo:source", val_data="demo:source", model="smallcnn", epochs=1, batch_size=64, lr=2e-3,
        schedule="onecycle", max_train_images=images, seed=0, device="cpu", out=str(demo_source_dir()),
    )
    assert train(config).status == "completed"


def run_compare(out, epochs: int, capsys) -> dict:
    code = cli([
        "compare", "--data", "demo:target", "--val-data", "demo:target", "--model", "smallcnn",
        "--weights", "demo:source", "--epochs", str(epochs), "--batch-size", "32", "--lr", "2e-3",
        "--device", "cpu", "--out", str(out),
    ])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    return json.loads((out / "compare.json").read_text()), captured.out


def check_artifacts(out, report: dict, epochs: int) -> None:
    assert report["status"] == "completed"
    assert list(report["strategies"]) == list(STRATEGIES)
    for name in STRATEGIES:
        s = report["strategies"][name]
        for key in ("best_val_accuracy", "final_val_accuracy", "seconds"):
            assert isinstance(s[key], float), (name, key)
        assert len(s["val_accuracy_per_epoch"]) == epochs
        assert s["final_val_accuracy"] == pytest.approx(s["val_accuracy_per_epoch"][-1])
        assert s["best_val_accuracy"] == pytest.approx(max(s["val_accuracy_per_epoch"]))
        assert (out / name / "model.pt").is_file() and (out / name / "summary.json").is_file()
        # the contract: each strategy also keyed by its name at the top level
        for key in ("best_val_accuracy", "final_val_accuracy", "seconds"):
            assert report[name][key] == s[key], (name, key)
    # head only: everything but the classifier is frozen, to the parameter
    model = build_model("smallcnn", 6, in_channels=1)
    backbone = sum(p.numel() for n, p in model.named_parameters() if not n.startswith("fc."))
    assert report["strategies"]["head"]["frozen_params"] == backbone
    assert report["strategies"]["scratch"]["weights"] == "none"
    assert report["strategies"]["finetune"]["freeze"] == "none"
    assert "over training from scratch" in report["verdict"]
    assert "training the head alone gave" in report["verdict"]
    assert set(report["gains_over_scratch"]) == {"head", "finetune"}
    with Image.open(out / "compare.png") as image:
        assert image.format == "PNG" and image.size == (900, 560)


def test_compare_on_the_demo(tmp_path, capsys):
    quick_demo_source_model()
    report, stdout = run_compare(tmp_path / "cmp", 2, capsys)
    check_artifacts(tmp_path / "cmp", report, 2)
    assert report["verdict"] in stdout


# The claim that fine-tuning beats scratch with the demo's real settings is checked by
# tests/e2e/test_demo_transfer.py (tlgui demo, default settings).
