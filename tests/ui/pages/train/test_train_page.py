"""Issue 32: the Train page is a class that owns its panels. Before PyTorch has loaded it shows
"Loading PyTorch…" where the data, model and layer panels go; install_panels puts them there,
applies the remembered choices and wires them; the page reads its choices back into settings and a
TrainConfig, and locks them while a run goes on."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QCoreApplication, QEvent
from PySide6.QtWidgets import QLabel, QSplitter, QTabWidget, QWidget

from tlgui.settings import Settings, default_training
from tlgui.ui.pages.train.layout import LOADING_TEXT
from tlgui.ui.pages.train.page import TrainPage


def _loading_labels(page: TrainPage) -> list[QLabel]:
    return [label for label in page.findChildren(QLabel) if label.text() == LOADING_TEXT]


def _page(qtbot) -> TrainPage:
    page = TrainPage(default_training())
    qtbot.addWidget(page)
    return page


def test_the_frame_before_pytorch_has_loaded(qtbot):
    page = _page(qtbot)
    assert page.objectName() == "trainPage"
    for cls, name in ((QTabWidget, "leftTabs"), (QSplitter, "topSplitter"), (QSplitter, "mainSplitter"),
                      (QWidget, "plotsHolder"), (QWidget, "trainingPanel")):
        assert page.findChild(cls, name) is not None, name
    assert [s.objectName() for s in page.splitters()] == ["topSplitter", "mainSplitter"]
    assert [page.left_tabs.tabText(i) for i in range(page.left_tabs.count())] == ["1. Data", "2. Model"]
    assert page.training_panel.settings_box.title() == "4. Train"
    assert len(_loading_labels(page)) == 2  # the data tab and the layer box
    assert not page.has_panels() and page.plots is None
    with pytest.raises(RuntimeError, match="still loading"):
        page.build_config(out="")
    with pytest.raises(RuntimeError, match="still loading"):
        page.built_panels()
    s = Settings()
    page.remember_choices(s)  # only the training panel's values exist yet
    assert s.training == page.training_panel.values() and s.model == Settings().model


def test_install_panels_replaces_the_placeholders_and_wires_the_panels(qtbot, fake_demo_source, tmp_path):
    page = _page(qtbot)
    plots = page.build_plots()
    assert page.build_plots() is plots and plots.parent() is page.plots_holder
    settings = Settings()
    page.install_panels(settings)
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    assert _loading_labels(page) == []
    panels = page.built_panels()
    assert page.left_tabs.widget(0) is panels.dataset and page.left_tabs.widget(1) is panels.model
    assert panels.layers.parent() is page.layer_box
    qtbot.waitUntil(lambda: panels.dataset.summary() is not None, timeout=20000)
    assert panels.model.choice().architecture == settings.model

    # the plan's summary goes out for the status bar
    with qtbot.waitSignal(page.plan_described) as blocker:
        panels.layers.head_button.click()
    assert blocker.args[0] == panels.layers.summary_text()

    # the LR finder reads the page's config (no run folder); corrections follow their data set
    config = page.training_panel.lr_finder.config_source()
    assert config.model == settings.model and config.data == settings.data and config.out == ""
    fixes = tmp_path / "fixes.csv"
    fixes.write_text("path,label\n", encoding="utf-8")
    page.corrections = (settings.data, str(fixes))  # applied only while that data set is chosen
    assert page.build_config(out="").corrections == str(fixes)
    page.corrections = ("another data set", str(fixes))
    assert page.build_config(out="").corrections is None

    page.set_locked(True)
    assert panels.layers.is_locked() and not panels.dataset.source.isEnabled()
    assert not page.training_panel.settings_box.isEnabled()
    page.set_locked(False)
    assert not panels.layers.is_locked() and panels.dataset.source.isEnabled()
    assert page.training_panel.settings_box.isEnabled()

    remembered = Settings(model="none-yet", data="none-yet")
    page.remember_choices(remembered)
    assert (remembered.model, remembered.data) == (settings.model, settings.data)
    assert remembered.freeze == panels.layers.plan().to_spec()
    page.shutdown()
    assert not plots.timer.isActive()
