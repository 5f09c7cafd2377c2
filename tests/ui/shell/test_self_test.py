"""``tlgui --self-test``: the real window trains the demo, reports its figures and a screenshot."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from PySide6.QtGui import QImage

from tests.ui.shell.test_main_window import close_error_dialogs
from tlgui import paths
from tlgui.core.base.errors import TrainingError


def test_self_test_command(qtbot, fake_demo_source, monkeypatch, capsys, tmp_path):
    import signal
    import threading

    import tlgui.app as app_mod

    monkeypatch.setattr(sys, "excepthook", sys.excepthook)
    monkeypatch.setattr(threading, "excepthook", threading.excepthook)
    monkeypatch.setattr(app_mod, "_bridge", None)
    monkeypatch.setattr(app_mod, "SELF_TEST_EPOCHS", 1)
    previous = signal.getsignal(signal.SIGINT)
    shot = tmp_path / "shot.png"
    try:
        code = app_mod.run_gui(self_test=True, screenshot=str(shot))
    finally:
        signal.signal(signal.SIGINT, previous)
    line = capsys.readouterr().out.strip().splitlines()[-1]
    report = json.loads(line)
    assert code == 0, report
    assert report["ok"] is True and report["epochs"] == 1
    # the figures are the run's own, not made up: summary.json of the run it trained
    run = Path(report["run_dir"])
    assert run.parent == paths.runs_dir()
    summary = json.loads((run / "summary.json").read_text())
    config = json.loads((run / "config.json").read_text())
    assert report["val_accuracy"] == summary["final_val_accuracy"] and summary["epochs_completed"] == 1
    batches = -(-summary["train_images"] // config["batch_size"])
    assert report["plot_points"] == batches  # one loss point per batch reached the plot
    # UI timings are measured (the ticks ran), reported, never compared with a speed
    assert report["ticks"] > 1 and report["p99_ui_stall_ms"] <= report["max_ui_stall_ms"]
    assert isinstance(report["first_paint_ms"], float)
    # the screenshot is a picture of the window, not an empty or blank file
    assert report["screenshot"] == str(shot)
    image = QImage(str(shot))
    assert not image.isNull() and image.width() >= 1000 and image.height() >= 650
    step = 7  # a sample of pixels: a real window has text, plots and widgets in many colours
    colours = {image.pixel(x, y) for x in range(0, image.width(), step) for y in range(0, image.height(), step)}
    assert len(colours) > 20, len(colours)
    assert not paths.settings_file().exists()  # the self-test leaves settings alone


def test_self_test_fails_with_exit_code_1(qtbot, fake_demo_source, monkeypatch, capsys):
    import signal
    import threading

    import tlgui.app as app_mod
    import tlgui.core.training.loop as core_training

    def broken_train(config, on_event=None, control=None):
        raise TrainingError("the loss became nan at epoch 1, batch 1: training diverged")

    monkeypatch.setattr(core_training, "train", broken_train)
    monkeypatch.setattr(sys, "excepthook", sys.excepthook)
    monkeypatch.setattr(threading, "excepthook", threading.excepthook)
    monkeypatch.setattr(app_mod, "_bridge", None)
    previous = signal.getsignal(signal.SIGINT)
    try:
        code = app_mod.run_gui(self_test=True)
    finally:
        signal.signal(signal.SIGINT, previous)
        close_error_dialogs()
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert code == 1
    assert report["ok"] is False and report["status"] == "failed"
    assert "diverged" in report["error"]
