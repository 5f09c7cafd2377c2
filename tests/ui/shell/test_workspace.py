"""The pages after "Train" and the menus: a finished run flows into Results, Predict and Runs."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QPushButton, QTabWidget

from tlgui.ui.shell.workspace import PAGE_TITLES


def pages(window) -> QTabWidget:
    tabs = window.findChild(QTabWidget, "pageTabs")
    assert tabs is not None
    return tabs


def train_once(qtbot, window):
    window.training_panel.epochs.setValue(1)
    with qtbot.waitSignal(window.run_finished, timeout=60000) as finished:
        qtbot.mouseClick(window.findChild(QPushButton, "trainButton"), Qt.MouseButton.LeftButton)
    return finished.args[0]


def test_pages_and_menus_exist(main_window):
    tabs = pages(main_window)
    assert [tabs.tabText(i) for i in range(tabs.count())] == list(PAGE_TITLES)
    ws = main_window.workspace
    for panel, name in ((ws.results_panel, "resultsPanel"), (ws.predict_panel, "predictPanel"),
                        (ws.runs_panel, "runsPanel"), (ws.compare_panel, "comparePanel")):
        assert panel is not None and panel.objectName() == name
    actions = {a.objectName(): a for a in main_window.findChildren(QAction) if a.objectName()}
    for name in ("weightsLibraryAction", "myModelsAction", "builtinDatasetsAction", "healthCheckAction",
                 "openRunAction"):
        assert actions[name].isEnabled(), name


def test_finished_run_flows_into_results_predict_and_runs(qtbot, main_window):
    ws = main_window.workspace
    result = train_once(qtbot, main_window)
    assert result.status == "completed"
    run_dir = str(Path(result.run_dir).resolve())
    # the results page evaluates the run's own validation set, in the background
    qtbot.waitUntil(lambda: ws.results_panel.evaluation is not None, timeout=30000)
    assert ws.results_panel.evaluation.accuracy == pytest_approx(result.summary["final_val_accuracy"])
    assert ws.predict_panel.model_path == str(Path(result.run_dir) / "model.pt")
    assert run_dir in {str(r.path.resolve()) for r in ws.runs_panel.runs}
    # "use as starting weights" from the runs page switches the model panel and page
    pages(main_window).setCurrentWidget(ws.runs_panel)
    ws.runs_panel.use_weights_requested.emit("smallcnn", str(Path(run_dir) / "model.pt"))
    assert main_window.model_panel.choice().weights == str(Path(run_dir) / "model.pt")
    assert pages(main_window).currentIndex() == 0


def pytest_approx(value):
    import pytest

    return pytest.approx(value, abs=1e-6)


def test_transfer_check_running_blocks_train(qtbot, main_window):
    ws = main_window.workspace
    train = main_window.findChild(QPushButton, "trainButton")
    assert train.isEnabled()
    ws.compare_panel.running_changed.emit(True)
    assert not train.isEnabled()
    ws.compare_panel.running_changed.emit(False)
    assert train.isEnabled()


def test_compare_page_gets_current_choices(qtbot, main_window):
    ws = main_window.workspace
    main_window.training_panel.epochs.setValue(3)
    pages(main_window).setCurrentWidget(ws.compare_panel)
    context = ws.compare_panel.context
    assert context["epochs"] == 3
    assert context["data"] == "demo:target" and context["model"] == "smallcnn"
    assert context["weights"] == "demo:source"


def test_menu_opens_weights_library_and_my_models(qtbot, main_window):
    from tlgui.ui.dialogs.my_models_dialog import MyModelsDialog
    from tlgui.ui.dialogs.weights_dialog import WeightsLibraryDialog

    actions = {a.objectName(): a for a in main_window.findChildren(QAction) if a.objectName()}
    actions["weightsLibraryAction"].trigger()
    dialog = main_window.findChild(WeightsLibraryDialog, "weightsLibraryDialog")
    assert dialog is not None and dialog.isVisible()
    dialog.weights_chosen.emit("resnet18", "default")
    assert main_window.model_panel.choice().architecture == "resnet18"
    dialog.done(0)
    actions["myModelsAction"].trigger()
    models = main_window.findChild(MyModelsDialog, "myModelsDialog")
    assert models is not None and models.isVisible()
    models.done(0)



def test_stop_then_resume_from_the_runs_page(qtbot, main_window):
    import json

    from PySide6.QtWidgets import QPushButton as Button

    ws = main_window.workspace
    main_window.training_panel.epochs.setValue(4)
    stopped = []

    def stop_after_first_epoch(epoch_stats):
        if epoch_stats.epoch == 1 and not stopped:
            stopped.append(True)
            qtbot.mouseClick(main_window.findChild(Button, "stopButton"), Qt.MouseButton.LeftButton)

    main_window.controller.epoch_finished.connect(stop_after_first_epoch)
    with qtbot.waitSignal(main_window.run_finished, timeout=60000) as first:
        qtbot.mouseClick(main_window.findChild(Button, "trainButton"), Qt.MouseButton.LeftButton)
    main_window.controller.epoch_finished.disconnect(stop_after_first_epoch)
    result = first.args[0]
    assert result.status == "stopped"
    # the Stop reaches the worker after epoch 1's signal: one or more whole epochs are kept
    kept = json.loads((Path(result.run_dir) / "summary.json").read_text())["epochs_completed"]
    assert 1 <= kept < 4

    pages(main_window).setCurrentWidget(ws.runs_panel)
    ws.runs_panel.select_runs([result.run_dir])
    resume = ws.runs_panel.findChild(Button, "resumeRunButton")
    assert resume.isEnabled()
    with qtbot.waitSignal(main_window.run_finished, timeout=60000) as second:
        qtbot.mouseClick(resume, Qt.MouseButton.LeftButton)
        # the curves start with the epochs done before the stop, from metrics.csv
        assert 1 in list(main_window.plots.series["val_acc"].x)
    assert pages(main_window).currentIndex() == 0
    assert list(main_window.plots.series["val_acc"].x) == [1, 2, 3, 4]
    assert second.args[0].status == "completed"
    summary = json.loads((Path(result.run_dir) / "summary.json").read_text())
    assert summary["epochs_completed"] == 4 and summary["resumed_from_epoch"] == kept
    ws.runs_panel.select_runs([result.run_dir])
    assert not resume.isEnabled()  # finished now


def test_compare_context_carries_split_device_and_optimizer(qtbot, main_window):
    ws = main_window.workspace
    optimizer = main_window.training_panel.optimizer
    optimizer.setCurrentIndex(optimizer.findData("sgd"))
    pages(main_window).setCurrentWidget(ws.compare_panel)
    context = ws.compare_panel.context
    # the tests see no GPU (conftest), so the panel offers "CPU" = auto, and that is carried
    assert context["optimizer"] == "sgd"
    assert context["device"] == main_window.training_panel.device.currentData() == "auto"
    assert context["val_split"] == main_window.dataset_panel.choice().val_split


def test_image_size_reaches_the_run_and_the_transfer_check(qtbot, main_window):
    from tlgui.ui.base.errors import find_error_dialogs

    panel = main_window.training_panel
    assert main_window.build_config().image_size is None  # auto: what the weights expect
    panel.image_size.setCurrentText("32")
    assert main_window.build_config().image_size == 32
    pages(main_window).setCurrentWidget(main_window.workspace.compare_panel)
    assert main_window.workspace.compare_panel.context["image_size"] == 32
    pages(main_window).setCurrentIndex(0)
    panel.image_size.setCurrentText("tiny")
    qtbot.mouseClick(main_window.findChild(QPushButton, "trainButton"), Qt.MouseButton.LeftButton)
    dialogs = find_error_dialogs()
    assert dialogs and "image size" in dialogs[0].text()
    for box in dialogs:
        box.close()
    assert not main_window.controller.is_running()
