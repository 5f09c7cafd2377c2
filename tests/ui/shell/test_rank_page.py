"""The "Which model?" page in the window: reached from the transfer check's advisor, "Train this" fills the Train page."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QTabWidget

from tlgui.core.models.layers import FreezePlan
from tlgui.ui.shell.workspace import PAGE_TITLES


def test_rank_page_fills_the_train_page(qtbot, main_window, fake_demo_source):
    ws = main_window.workspace
    tabs = main_window.findChild(QTabWidget, "pageTabs")
    assert tabs.tabText(tabs.indexOf(ws.rank_panel)) == "Which model?" == PAGE_TITLES[-1]
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
