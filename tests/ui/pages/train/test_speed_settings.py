"""Issue 8 in the window: the precision choice, clearing the image cache, head-only runs
from the window's defaults getting the L-BFGS head fit."""

from __future__ import annotations

import json
import os
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QComboBox, QMessageBox

from tlgui import paths


def _pick(qtbot, combo: QComboBox, key: str) -> None:
    """Choose an item the way a keyboard user does: focus the combo, press Down until it's there."""
    combo.setFocus()
    for _ in range(combo.count()):
        if combo.currentData() == key:
            return
        qtbot.keyClick(combo, Qt.Key.Key_Down)
    assert combo.currentData() == key, combo.currentText()


def test_precision_choice_goes_into_the_config_and_is_remembered(qtbot, main_window, tmp_path):
    from tlgui.ui.shell.main_window import MainWindow

    w = main_window
    combo = w.findChild(QComboBox, "precisionCombo")
    assert combo is not None and combo.currentData() == "auto"
    assert [combo.itemData(i) for i in range(combo.count())] == ["auto", "fp32", "bf16"]
    _pick(qtbot, combo, "bf16")
    assert w.build_config().precision == "bf16"
    if os.environ.get("TLGUI_SCREENSHOTS"):
        w.training_panel.grab().save(str(Path(os.environ["TLGUI_SCREENSHOTS"]) / "training_panel.png"))
    assert w.close()
    saved = json.loads(paths.settings_file().read_text())
    assert saved["training"]["precision"] == "bf16"

    again = MainWindow()
    qtbot.addWidget(again)
    again.show()
    qtbot.waitUntil(again.is_ready, timeout=20000)
    try:
        assert again.findChild(QComboBox, "precisionCombo").currentData() == "bf16"
        assert again.build_config().precision == "bf16"
    finally:
        again.auto_confirm_close = True
        again.close()
        again.dataset_panel.wait_idle()
        again.model_panel.wait_idle()


def test_unknown_saved_precision_falls_back_to_auto(qtbot):
    from tlgui.ui.pages.train.training_panel import TrainingPanel

    panel = TrainingPanel()
    qtbot.addWidget(panel)
    panel.set_values({"precision": "fp8"})
    assert panel.values()["precision"] == "auto"


def _fill_cache() -> Path:
    from tlgui.core.data.decode_cache import decode_cache_dir

    root = decode_cache_dir()
    (root / "ab").mkdir(parents=True, exist_ok=True)
    (root / "ab" / "entry.npy").write_bytes(b"\0" * 2_000_000)
    return root


def test_clear_image_cache_asks_then_empties_the_cache(qtbot, main_window, monkeypatch):
    w = main_window
    root = _fill_cache()
    action = w.findChild(QAction, "clearImageCacheAction")
    assert action is not None and action.isEnabled()
    asked = []
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: asked.append(a) or QMessageBox.StandardButton.No)
    action.trigger()
    assert asked and "2.0 MB" in asked[0][2]
    assert (root / "ab" / "entry.npy").exists()  # "No" keeps it

    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.StandardButton.Yes)
    action.trigger()
    assert not root.exists() or not any(root.rglob("*"))
    message = w.statusBar().currentMessage()
    assert "cleared" in message and "2.0 MB freed" in message


def test_image_cache_limit_is_asked_for_and_saved(qtbot, main_window, monkeypatch):
    from PySide6.QtWidgets import QInputDialog

    from tlgui.core.data.decode_cache import limit_bytes
    from tlgui.settings import load_settings

    w = main_window
    action = w.findChild(QAction, "imageCacheLimitAction")
    assert action is not None and action.isEnabled()
    asked = []
    monkeypatch.setattr(QInputDialog, "getDouble", lambda *a, **k: asked.append(a) or (0.0, False))
    action.trigger()  # Cancel changes nothing
    assert asked and asked[0][3] == w.settings.image_cache_limit_gb == 4.0
    monkeypatch.setattr(QInputDialog, "getDouble", lambda *a, **k: (1.5, True))
    action.trigger()
    assert w.settings.image_cache_limit_gb == 1.5 and load_settings().image_cache_limit_gb == 1.5
    assert limit_bytes() == int(1.5 * 1024**3)  # what the next run uses
    assert w.statusBar().currentMessage() == "Image cache limit: 1.5 GB"


def test_window_defaults_count_as_defaults_for_the_head_fit():
    from tlgui.core.base.config import TrainConfig
    from tlgui.core.training.head_fit import WINDOW_DEFAULTS, uses_auto_fit
    from tlgui.settings import default_training

    t = default_training()
    assert WINDOW_DEFAULTS == {k: t[k] for k in ("lr", "optimizer", "batch_size")}
    assert uses_auto_fit(TrainConfig(data="x", model="smallcnn", **WINDOW_DEFAULTS))
    assert uses_auto_fit(TrainConfig(data="x", model="smallcnn"))
    assert not uses_auto_fit(TrainConfig(data="x", model="smallcnn", lr=1e-2, optimizer="adam", batch_size=16))
    assert not uses_auto_fit(TrainConfig(data="x", model="smallcnn", lr=3e-3, optimizer="sgd", batch_size=16))


def test_head_only_run_from_the_window_defaults_uses_the_lbfgs_fit(qtbot, main_window):
    w = main_window
    w.training_panel.epochs.setValue(2)
    w.layer_panel.head_button.click()
    assert w.layer_panel.plan().mode == "backbone"
    with qtbot.waitSignal(w.run_finished, timeout=120000) as blocker:
        qtbot.mouseClick(w.training_panel.train_button, Qt.MouseButton.LeftButton)
    result = blocker.args[0]
    assert result.status == "completed", result
    summary = json.loads((Path(result.run_dir) / "summary.json").read_text())
    assert summary["feature_cache"]["used"] is True
    from tlgui.core.training.head_fit import L2_GRID

    assert summary["head_fit"]["method"] == "lbfgs" and summary["head_fit"]["l2"] in L2_GRID  # the one it picked
    assert len(summary["history"]) == 2  # the plots still get one point per epoch
