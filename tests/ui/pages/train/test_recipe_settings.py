"""Issue 21 in the window: Find (the LR range test) fills the rate, the recipe's settings reach
the TrainConfig, and the layer tree shows each layer's rate multiple (LR ×)."""

from __future__ import annotations

import os

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QPushButton

from tlgui.ui.pages.train.panels import build_config
from tlgui.ui.widgets.layer_model import COLUMNS


def _row_text(window, path: str, column: int) -> str:
    model = window.layer_panel.tree_model()
    item = model.item(path)
    index = model.createIndex(item.row, column, item.index_id)
    return model.data(index, Qt.ItemDataRole.DisplayRole)


def test_find_fills_the_rate_and_shows_the_curve(qtbot, main_window, tmp_path):
    w = main_window
    w.training_panel.batch_size.setValue(16)
    button = w.findChild(QPushButton, "findLrButton")
    assert button is not None and button.isEnabled()
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    finder = w.training_panel.lr_finder
    qtbot.waitUntil(lambda: finder.finding is not None, timeout=180000)
    qtbot.waitUntil(button.isEnabled, timeout=10000)
    pick = finder.finding.pick
    assert w.training_panel.learning_rate() == float(f"{pick:.2g}")
    assert finder.plot is not None and finder.plot.isVisible()
    assert "Learning rate found" in finder.label.text()
    assert finder.dialog.isVisible() and len(finder.dialog.plot.getPlotItem().listDataItems()) == 2
    assert finder.finding.rule == "steepest, at most min/10" and len(finder.finding.lrs) > 10
    if os.environ.get("TLGUI_SCREENSHOT"):
        w.grab().save(os.environ["TLGUI_SCREENSHOT"])
        finder.dialog.grab().save(os.environ["TLGUI_SCREENSHOT"].replace(".png", "-dialog.png"))
    finder.dialog.close()
    # nothing was written: no run folder for a Find
    from tlgui import paths

    assert not any(paths.runs_dir().glob("*")) if paths.runs_dir().exists() else True


def test_recipe_settings_reach_the_config_and_the_layer_tree(qtbot, main_window):
    w = main_window
    tp = w.training_panel
    assert COLUMNS[-1] == "LR ×"
    assert _row_text(w, "fc", 4) == "1" and _row_text(w, "features.0", 4) == "1"
    tp.layer_lr_decay.setValue(0.5)  # the demo's smallcnn: 3 blocks and the head
    assert _row_text(w, "fc", 4) == "1"
    assert _row_text(w, "features.0", 4) == "0.125"
    assert _row_text(w, "features.2", 4) == "0.5"
    assert _row_text(w, "features", 4) == "0.125–0.5"
    tp.head_epochs.setValue(2)
    tp.epochs.setValue(4)
    tp.class_weights.setCurrentIndex(tp.class_weights.findData("balanced"))
    tp.lr.setCurrentText("find")
    assert build_config(w, out="").augment == "auto"  # chosen from the data when the run starts
    tp.augment.setCurrentIndex(tp.augment.findData("flip-rotate"))
    config = build_config(w, out="")
    assert (config.head_epochs, config.layer_lr_decay, config.class_weights, config.lr) == (2, 0.5, "balanced", "auto")
    assert config.augment == "flip-rotate"
    # remembered and restored
    tp.set_values(tp.values())
    assert tp.lr.currentText() == "find" and tp.head_epochs.value() == 2
    assert tp.augment.currentText() == "Flips and quarter turns"
    tp.set_values({})
    assert (tp.head_epochs.value(), tp.layer_lr_decay.value(), tp.class_weights.currentData()) == (0, 1.0, "none")
    assert tp.augment.currentData() == "auto"
    assert _row_text(w, "features.0", 4) == "1"


def test_a_bad_setting_gets_one_sentence_from_find(qtbot, main_window):
    w = main_window
    w.training_panel.epochs.setValue(2)
    w.training_panel.head_epochs.setValue(2)  # not below the epochs
    qtbot.mouseClick(w.findChild(QPushButton, "findLrButton"), Qt.MouseButton.LeftButton)
    label = w.training_panel.lr_finder.label
    assert label.isVisible() and "--head-epochs" in label.text()
    assert not w.training_panel.lr_finder.busy()


def test_training_with_find_chosen_runs_the_finder_first_and_says_what_it_picked(qtbot, main_window):
    import json
    from pathlib import Path

    w = main_window
    tp = w.training_panel
    tp.epochs.setValue(1)
    tp.lr.setCurrentText("find")
    with qtbot.waitSignal(w.run_finished, timeout=300000) as finished:
        qtbot.mouseClick(tp.train_button, Qt.MouseButton.LeftButton)
    result = finished.args[0]
    assert result.status == "completed", result
    run = Path(result.run_dir)
    config = json.loads((run / "config.json").read_text())
    summary = json.loads((run / "summary.json").read_text())
    assert config["lr"] == "auto" and isinstance(config["lr_found"], float)  # rerunning the config finds again
    assert summary["lr_found"] == config["lr_found"]
    assert all(group["lr"] == summary["lr_found"] for group in summary["param_groups"])  # the pick trained
    shown = tp.result_label.text()
    assert f"Learning rate found: {summary['lr_found']:.2g}" in shown
    assert "Balanced accuracy:" in shown and "Recall per class:" in shown
