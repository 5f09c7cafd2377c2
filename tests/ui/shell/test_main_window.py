"""The main window end to end: demo set-up, Train / Pause / Stop, errors, closing, settings."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import torch
from PySide6.QtCore import QCoreApplication, Qt
from PySide6.QtWidgets import QMessageBox, QProgressBar, QPushButton, QTreeView, QWidget

from tests.fakes import holding_control_class
from tlgui import paths
from tlgui.core.base.errors import TrainingError
from tlgui.core.models.zoo import build_model
from tlgui.ui.base.errors import find_error_dialogs
from tlgui.workers import registry

OBJECT_NAMES = {
    "modelPanel": QWidget,
    "datasetPanel": QWidget,
    "layerTree": QTreeView,
    "trainingPanel": QWidget,
    "trainButton": QPushButton,
    "pauseButton": QPushButton,
    "stopButton": QPushButton,
    "progressBar": QProgressBar,
    "lossPlot": QWidget,
    "accuracyPlot": QWidget,
}


def widget(window, name, kind=QWidget):
    found = window.findChild(kind, name)
    assert found is not None, name
    return found


def click(qtbot, window, name):
    button = widget(window, name, QPushButton)
    assert button.isEnabled(), f"{name} is disabled"
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)


def set_epochs(window, n: int) -> None:
    window.training_panel.epochs.setValue(n)


def wait_for_batches(qtbot, window, n: int = 1) -> None:
    qtbot.waitUntil(lambda: len(window.plots.series["train_loss_raw"]) >= n, timeout=30000)


def running_threads() -> list:
    return [t for t in registry.live_threads() if t.isRunning()]


def close_error_dialogs() -> None:
    for box in find_error_dialogs():
        box.close()


def test_training_panel_values_devices_and_progress(qtbot):
    from tlgui.ui.pages.train.training_panel import (
        IDLE,
        PAUSED,
        RUNNING,
        TrainingPanel,
        format_duration,
    )

    panel = TrainingPanel()
    qtbot.addWidget(panel)
    assert [panel.device.itemData(i) for i in range(panel.device.count())] == ["auto"]
    assert panel.device.currentText() == "CPU"
    panel.set_devices("NVIDIA H200")
    labels = [panel.device.itemText(i) for i in range(panel.device.count())]
    assert any("NVIDIA H200" in text for text in labels)
    panel.set_values({"epochs": 5, "batch_size": 16, "lr": 0.003, "optimizer": "sgd",
                      "schedule": "onecycle", "seed": 7, "device": "cuda", "precision": "fp32",
                      "image_size": 64})
    assert panel.values() == {"epochs": 5, "batch_size": 16, "lr": 0.003, "optimizer": "sgd",
                              "schedule": "onecycle", "seed": 7, "device": "cuda", "precision": "fp32",
                              "image_size": 64, "head_epochs": 0, "layer_lr_decay": 1.0, "class_weights": "none",
                              "augment": "auto"}
    panel.set_values({"epochs": "many", "optimizer": "rmsprop", "lr": -1})  # tolerated
    assert panel.values()["epochs"] == 12 and panel.values()["optimizer"] == "adam"
    assert panel.values()["lr"] is None  # "auto"
    panel.set_ready(True)
    assert panel.train_button.isEnabled() and not panel.stop_button.isEnabled()
    panel.set_state(RUNNING)
    assert not panel.train_button.isEnabled() and panel.stop_button.isEnabled()
    panel.update_progress(2, 4, 5, 10, elapsed=15.0)
    assert panel.progress.value() == 375
    assert "Epoch 2 of 4" in panel.progress_label.text() and "25 s left" in panel.progress_label.text()
    panel.set_state(PAUSED)
    assert panel.pause_button.text() == "Resume"
    panel.set_state(IDLE)
    assert format_duration(3725) == "1 h 02 min" and format_duration(float("nan")) == "--"


def test_error_sentences():
    from tlgui.ui.base.errors import sentence

    assert sentence("the loss became nan") == "The loss became nan"
    assert sentence("model.pt holds a vgg11 model") == "model.pt holds a vgg11 model"
    assert sentence("resnet18: no such layer") == "resnet18: no such layer"
    assert sentence("/data/x.png: unreadable") == "/data/x.png: unreadable"


def test_window_builds_with_the_demo_loaded(main_window):
    w = main_window
    for name, kind in OBJECT_NAMES.items():
        widget(w, name, kind)
    assert w.model_panel.choice().architecture == "smallcnn"
    assert w.model_panel.choice().weights == "demo:source"
    assert w.dataset_panel.choice().data == "demo:target"
    summary = w.dataset_panel.summary()
    assert len(summary.classes) == 6
    assert w.layer_panel.plan().mode == "none"
    tree = widget(w, "layerTree", QTreeView)
    # the tree shows the demo model's own top-level modules, every parameter counted
    model = tree.model()
    rows = [model.items()[model.index(r, 0).internalId()].node for r in range(model.rowCount())]
    assert [n.name for n in rows] == ["features", "pool", "dropout", "fc"]
    built = build_model("smallcnn", 6, in_channels=1)
    assert sum(n.total_params for n in rows) == sum(p.numel() for p in built.parameters())
    assert widget(w, "trainButton", QPushButton).isEnabled()
    assert not widget(w, "stopButton", QPushButton).isEnabled()
    assert not widget(w, "pauseButton", QPushButton).isEnabled()
    # the default size, or the screen's room where that is smaller (offscreen's is 800x800)
    room = w.screen().availableGeometry()
    assert room.contains(w.geometry()), (room, w.geometry())
    assert min(1000, room.width() - 40) <= w.width() <= 1600 and min(650, room.height() - 60) <= w.height() <= 1000
    assert "CPU" in w.device_label.text()


def test_train_runs_to_the_end(qtbot, main_window):
    w = main_window
    set_epochs(w, 1)
    with qtbot.waitSignal(w.run_finished, timeout=60000) as blocker:
        click(qtbot, w, "trainButton")
        # while running: Stop on, Train off, panels read-only
        assert widget(w, "stopButton", QPushButton).isEnabled()
        assert not widget(w, "trainButton", QPushButton).isEnabled()
        assert w.layer_panel.is_locked()
        assert not w.training_panel.epochs.isEnabled()
        assert w.controller.is_running()
    result = blocker.args[0]
    assert result.status == "completed", result
    run = Path(result.run_dir)
    assert run.parent == paths.runs_dir()
    summary = json.loads((run / "summary.json").read_text())
    assert summary["epochs_completed"] == 1
    config = json.loads((run / "config.json").read_text())
    assert config["weights"] == "demo:source" and config["freeze"] == "none"
    # the plots got their points
    x, y = w.plots.curve_data("train_loss_raw")
    batch = config["batch_size"]
    assert x.size == summary["train_images"] // batch + (summary["train_images"] % batch > 0)
    assert w.plots.curve_data("train_loss_smooth")[0].size == x.size
    assert w.plots.curve_data("val_acc")[0].size == 1
    assert w.plots.curve_data("val_loss")[0].size == 1
    # idle again
    assert widget(w, "trainButton", QPushButton).isEnabled()
    assert not widget(w, "stopButton", QPushButton).isEnabled()
    assert not w.layer_panel.is_locked() and w.training_panel.epochs.isEnabled()
    assert w.training_panel.progress.value() == 1000
    assert run.name in w.run_label.text()
    assert w.training_panel.result_box.isVisible()
    shown = f"{100 * summary['final_val_accuracy']:.1f} %"  # the run's own figure, in both places
    assert f"Validation accuracy: {shown}" in w.training_panel.result_label.text()
    assert run.name in w.training_panel.result_label.text()
    assert f"validation accuracy {shown}" in w.statusBar().currentMessage()
    assert not running_threads() or all(t is not w.controller.thread for t in running_threads())


def test_pause_then_resume_continues(qtbot, main_window, monkeypatch):
    import tlgui.core.training.control as control_module

    holding = holding_control_class()
    monkeypatch.setattr(control_module, "TrainControl", holding)  # the controller makes its control
    w = main_window
    set_epochs(w, 40)
    click(qtbot, w, "trainButton")
    wait_for_batches(qtbot, w, 2)
    click(qtbot, w, "pauseButton")
    assert widget(w, "pauseButton", QPushButton).text() == "Resume"
    assert w.controller.is_paused()
    (control,) = holding.made
    qtbot.waitUntil(control.holding.is_set, timeout=30000)  # the loop itself is held
    QCoreApplication.processEvents()  # signals posted before it was held land now
    held = len(w.plots.series["train_loss_raw"])
    QCoreApplication.processEvents()
    assert len(w.plots.series["train_loss_raw"]) == held and control.holding.is_set()
    assert w.controller.is_running()
    click(qtbot, w, "pauseButton")  # Resume
    assert widget(w, "pauseButton", QPushButton).text() == "Pause"
    wait_for_batches(qtbot, w, held + 3)
    xs = w.plots.series["train_loss_raw"].x
    assert (xs[1:] > xs[:-1]).all()  # continued where it left off, no restart
    with qtbot.waitSignal(w.run_finished, timeout=20000) as blocker:
        click(qtbot, w, "stopButton")
    assert blocker.args[0].status == "stopped"


def test_stop_ends_promptly_and_keeps_a_model(qtbot, main_window):
    w = main_window
    set_epochs(w, 200)
    click(qtbot, w, "trainButton")
    wait_for_batches(qtbot, w, 3)
    with qtbot.waitSignal(w.run_finished, timeout=60000) as blocker:
        click(qtbot, w, "stopButton")
        assert not widget(w, "pauseButton", QPushButton).isEnabled()
    result = blocker.args[0]
    assert result.status == "stopped"
    assert result.summary["epochs_completed"] < 200  # it ended on the Stop, not by running out
    model = Path(result.run_dir) / "model.pt"
    assert model.is_file()
    checkpoint = torch.load(model, weights_only=True)
    assert checkpoint["architecture"] == "smallcnn" and len(checkpoint["classes"]) == 6
    assert json.loads((Path(result.run_dir) / "summary.json").read_text())["status"] == "stopped"
    assert widget(w, "trainButton", QPushButton).isEnabled()
    assert "Stopped" in w.training_panel.progress_label.text()


def test_closing_during_training_stops_cleanly(qtbot, main_window):
    w = main_window
    set_epochs(w, 200)
    click(qtbot, w, "trainButton")
    wait_for_batches(qtbot, w, 2)
    thread = w.controller.thread
    assert thread.isRunning()
    results = []
    w.run_finished.connect(results.append)
    assert w.close()
    assert not w.isVisible()
    assert not w.controller.is_running()
    assert not running_threads()
    # the run ended as "stopped", with its model, and nothing new can start
    (result,) = results
    assert result.status == "stopped" and (Path(result.run_dir) / "model.pt").is_file()
    assert not widget(w, "trainButton", QPushButton).isEnabled()
    w.start_training()
    assert not w.controller.is_running()


def test_closing_asks_and_no_keeps_training(qtbot, main_window, monkeypatch):
    w = main_window
    w.auto_confirm_close = False
    asked = []

    def answer_no(*args, **kwargs):
        asked.append(args[1] if len(args) > 1 else "")
        return QMessageBox.StandardButton.No

    monkeypatch.setattr(QMessageBox, "question", staticmethod(answer_no))
    set_epochs(w, 200)
    click(qtbot, w, "trainButton")
    wait_for_batches(qtbot, w, 1)
    assert not w.close()
    assert asked and w.isVisible() and w.controller.is_running()
    with qtbot.waitSignal(w.run_finished, timeout=10000):
        click(qtbot, w, "stopButton")


def test_a_worker_error_shows_a_message_and_reenables_train(qtbot, main_window, monkeypatch):
    import tlgui.core.training.loop as core_training

    def broken_train(config, on_event=None, control=None):
        raise TrainingError("the loss became nan at epoch 1, batch 3: training diverged")

    monkeypatch.setattr(core_training, "train", broken_train)
    w = main_window
    with qtbot.waitSignal(w.run_finished, timeout=10000) as blocker:
        click(qtbot, w, "trainButton")
    assert blocker.args[0].status == "failed"
    dialogs = find_error_dialogs()
    assert len(dialogs) == 1
    box = dialogs[0]
    assert box.text() == "The loss became nan at epoch 1, batch 3: training diverged"
    assert "Traceback" not in box.text()
    assert "Traceback" in box.detailedText()
    assert widget(w, "trainButton", QPushButton).isEnabled()
    assert not w.layer_panel.is_locked()
    assert "diverged" in w.training_panel.progress_label.text()
    close_error_dialogs()


def test_bad_weights_file_is_reported(qtbot, main_window, tmp_path):
    w = main_window
    missing = tmp_path / "missing.pth"
    w.model_panel.set_weights_file(str(missing))
    set_epochs(w, 1)
    with qtbot.waitSignal(w.run_finished, timeout=30000) as blocker:
        click(qtbot, w, "trainButton")
    assert blocker.args[0].status == "failed"
    (box,) = find_error_dialogs()
    assert "missing.pth" in box.text() and "Traceback" not in box.text()
    assert widget(w, "trainButton", QPushButton).isEnabled()
    close_error_dialogs()


def test_bad_learning_rate_does_not_start(qtbot, main_window):
    w = main_window
    w.training_panel.lr.setCurrentText("fast please")
    click(qtbot, w, "trainButton")
    assert not w.controller.is_running()
    (box,) = find_error_dialogs()
    assert "learning rate" in box.text()
    assert widget(w, "trainButton", QPushButton).isEnabled()
    close_error_dialogs()


def test_settings_are_remembered(qtbot, main_window):
    from tlgui.ui.shell.main_window import MainWindow

    w = main_window
    set_epochs(w, 7)
    w.training_panel.optimizer.setCurrentIndex(w.training_panel.optimizer.findData("sgd"))
    w.layer_panel.head_button.click()
    assert w.layer_panel.plan().mode == "backbone"
    w.resize(1100, 720)
    assert w.close()
    saved = json.loads(paths.settings_file().read_text())
    assert saved["training"]["epochs"] == 7 and saved["freeze"] == "backbone"

    again = MainWindow()
    qtbot.addWidget(again)
    again.show()
    qtbot.waitUntil(again.is_ready, timeout=20000)
    try:
        assert again.training_panel.values()["epochs"] == 7
        assert again.training_panel.values()["optimizer"] == "sgd"
        assert again.layer_panel.plan().mode == "backbone"
        # restored (the offscreen screen is small, so Qt may nudge it to fit)
        assert again.settings.geometry == saved["geometry"] != ""
        # Qt fits a restored window onto the screen (offscreen's is 800x800 by default)
        screen = again.screen().availableGeometry()
        assert abs(again.width() - min(1100, screen.width())) < 80, again.size()
        assert abs(again.height() - min(720, screen.height())) < 80, again.size()
    finally:
        again.auto_confirm_close = True
        again.close()
        again.dataset_panel.wait_idle()
        again.model_panel.wait_idle()


def test_corrupt_settings_still_open_the_demo(qtbot, fake_demo_source):
    from tlgui.settings import SettingsWarning
    from tlgui.ui.shell.main_window import MainWindow

    path = paths.settings_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text('{"schema_version": 2, "model": ')
    with pytest.warns(SettingsWarning):
        w = MainWindow()
    qtbot.addWidget(w)
    w.show()
    qtbot.waitUntil(w.is_ready, timeout=20000)
    assert w.model_panel.choice().architecture == "smallcnn"
    w.close()
    w.dataset_panel.wait_idle()
    w.model_panel.wait_idle()


def test_panels_are_built_after_a_background_import(qtbot, fake_demo_source, monkeypatch):
    """The window paints before PyTorch is imported and says so; panels come later."""
    import tlgui.ui.shell.main_window as mw

    monkeypatch.setattr(mw, "heavy_loaded", lambda: False)
    w = mw.MainWindow()
    qtbot.addWidget(w)
    assert w.model_panel is None and not w.is_ready()
    assert "PyTorch" in w.training_panel.progress.format()
    assert not widget(w, "trainButton", QPushButton).isEnabled()
    with qtbot.waitSignal(w.panels_built, timeout=20000):
        w.show()
    assert w.is_ready() and w.findChild(QTreeView, "layerTree") is not None
    w.close()
    w.dataset_panel.wait_idle()
    w.model_panel.wait_idle()


def test_exception_hook_shows_a_dialog(qtbot, monkeypatch):
    import threading

    import tlgui.app as app_mod

    monkeypatch.setattr(sys, "excepthook", sys.excepthook)
    monkeypatch.setattr(threading, "excepthook", threading.excepthook)
    monkeypatch.setattr(app_mod, "_bridge", None)
    bridge = app_mod.install_exception_hook()
    try:
        raise ValueError("a bug in a slot")
    except ValueError:
        sys.excepthook(*sys.exc_info())
    qtbot.waitUntil(lambda: len(find_error_dialogs()) == 1, timeout=20000)
    (box,) = find_error_dialogs()
    assert "a bug in a slot" in box.text() and "still running" in box.text()
    assert "Traceback" in box.detailedText()
    assert bridge.count == 1
    close_error_dialogs()


def test_help_copies_a_system_report_to_the_clipboard(qtbot, main_window):
    from PySide6.QtGui import QAction, QGuiApplication

    QGuiApplication.clipboard().setText("")
    action = main_window.findChild(QAction, "copySystemReportAction")
    assert action is not None and action.isEnabled()
    action.trigger()
    qtbot.waitUntil(lambda: "torch" in QGuiApplication.clipboard().text(), timeout=60_000)
    text = QGuiApplication.clipboard().text()
    for needed in ("tlgui", "python", "torch", "device", "threads", "offscreen"):
        assert needed in text.lower(), needed
    assert "copied to the clipboard" in main_window.statusBar().currentMessage()
