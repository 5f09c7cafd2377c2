"""The "Which model?" page in the window: reached from the transfer check's advisor, "Train this" fills the
Train page."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QTabWidget

from tests.ui.lab_images import write_lab_folder
from tlgui.core.models.layers import FreezePlan
from tlgui.ui.shell.workspace import PAGE_TITLES


def test_rank_page_fills_the_train_page(qtbot, main_window, fake_demo_source):
    ws = main_window.workspace
    tabs = main_window.findChild(QTabWidget, "pageTabs")
    assert tabs.tabText(tabs.indexOf(ws.rank_panel)) == "Which model?" and "Which model?" in PAGE_TITLES
    # the advisor on the transfer-check page links to it
    tabs.setCurrentWidget(ws.compare_panel)
    ws.compare_panel.rank_link.linkActivated.emit("rank")
    assert tabs.currentWidget() is ws.rank_panel
    panel = ws.rank_panel
    assert panel.context is not None and panel.context["data"] == main_window.dataset_panel.choice().data
    panel.models = "smallcnn=demo:source"
    panel.folds_spin.setValue(2)
    with qtbot.waitSignal(panel.running_changed, timeout=120000, check_params_cb=lambda running: not running):
        qtbot.mouseClick(panel.run_button, Qt.MouseButton.LeftButton)
    assert panel.result is not None and panel.result.candidates[0].ok, panel.last_error
    main_window.layer_panel.set_plan(FreezePlan("none", []))  # so "Train this" must change it
    strategy = panel.result.recommendation["strategy"]
    assert strategy == "head", panel.result.recommendation  # 30 shapes per class, random features still separate them
    qtbot.mouseClick(panel.train_button, Qt.MouseButton.LeftButton)
    assert tabs.currentIndex() == 0
    choice = main_window.model_panel.choice()
    expected_weights = "none" if strategy == "scratch" else "demo:source"
    assert (choice.architecture, choice.weights) == ("smallcnn", expected_weights)
    expected_mode = "backbone" if strategy == "head" else "none"
    qtbot.waitUntil(lambda: main_window.layer_panel.plan().mode == expected_mode, timeout=20000)


def test_rank_page_uses_the_train_pages_image_values(qtbot, main_window, monkeypatch, tmp_path):
    """Channels, intensity and stack of the data panel reach the rank, so the head-only run made
    with them on the Train page reuses the rank's features."""
    import dataclasses

    from tlgui.core.base.errors import TlguiError
    from tlgui.core.workflows.rank import RankConfig
    from tlgui.ui.pages import rank_panel

    defaults = {f.name: f.default for f in dataclasses.fields(RankConfig)}
    ws = main_window.workspace
    ws.rank_panel.set_context("somewhere", image_values={})  # no image values chosen: RankConfig's own defaults
    config = ws.rank_panel._config()
    assert [getattr(config, key) for key in rank_panel.IMAGE_KEYS] == [defaults[key] for key in rank_panel.IMAGE_KEYS]
    assert "(" not in ws.rank_panel.context_label.text()
    ws.rank_panel.set_context("somewhere", image_values={"stack": "max", "channels": defaults["channels"]})
    assert ws.rank_panel.context_label.text().endswith("(stack max)")
    tabs = main_window.findChild(QTabWidget, "pageTabs")
    choices = {"channels": "1", "intensity": "image", "stack": "max"}
    with qtbot.waitSignal(main_window.dataset_panel.dataset_loaded, timeout=20000):  # 16-bit, 4-channel TIFFs
        main_window.dataset_panel.load_folder(str(write_lab_folder(tmp_path / "cells")))
    main_window.dataset_panel.set_image_choices(choices)
    tabs.setCurrentWidget(ws.rank_panel)
    panel = ws.rank_panel
    assert {key: panel.context[key] for key in choices} == choices
    assert "intensity image" in panel.context_label.text()
    seen = []

    def recording(config, stop, job):
        seen.append(config)
        raise TlguiError("recorded")

    monkeypatch.setattr(rank_panel, "_rank_job", recording)
    with qtbot.waitSignal(panel.running_changed, timeout=20000, check_params_cb=lambda running: not running):
        qtbot.mouseClick(panel.run_button, Qt.MouseButton.LeftButton)
    assert [(c.data, c.channels, c.intensity, c.stack) for c in seen] == [
        (str(tmp_path / "cells"), "1", "image", "max")]
    # a value the data panel refuses: the page says so instead of ranking with something else
    tabs.setCurrentWidget(ws.compare_panel)
    main_window.dataset_panel.image_values.channels_edit.setText("0")
    tabs.setCurrentWidget(ws.rank_panel)
    assert panel.context is None and not panel.run_button.isEnabled()
    assert "Image values on the Train page" in panel.context_label.text()
    assert "Channels: '0'" in panel.context_label.text()


def test_clear_image_cache_clears_the_stored_features_too(qtbot, main_window, monkeypatch):
    import torch
    from PySide6.QtGui import QAction
    from PySide6.QtWidgets import QMessageBox

    from tlgui.core.training.feature_store import save_features, store_dir

    x, y = torch.zeros(3, 4), torch.zeros(3, dtype=torch.long)
    assert save_features("k" * 40, x, y, x, y, 0.1)
    action = main_window.findChild(QAction, "clearImageCacheAction")
    asked = []
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: asked.append(a) or QMessageBox.StandardButton.No)
    action.trigger()
    assert "1 stored feature set(s)" in asked[0][2] and str(store_dir()) in asked[0][2]
    assert list(store_dir().glob("*.pt"))  # "No" keeps them
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.StandardButton.Yes)
    action.trigger()
    assert not store_dir().exists() or not list(store_dir().glob("*.pt"))
    assert "1 feature set(s)" in main_window.statusBar().currentMessage()
