"""The data panel opens a kind of data that a plug-in registered with one line, and says which
kind of data it opened."""

from __future__ import annotations

import os

import pytest
from PySide6.QtWidgets import QApplication

from tests.core import kind_plugin
from tlgui.core.data.catalog import register_kind, unregister_kind
from tlgui.core.data.kinds import image_folder
from tlgui.ui.pages.train.dataset_panel import DatasetPanel


@pytest.fixture
def npy_kind(tmp_path):
    kind = kind_plugin.load_kind(tmp_path)
    register_kind(kind)
    yield kind
    unregister_kind(kind)


@pytest.fixture
def panel(qtbot):
    widget = DatasetPanel()
    qtbot.addWidget(widget)
    widget.resize(560, 640)
    with qtbot.waitSignal(widget.dataset_loaded, timeout=20000):
        widget.show()
    return widget


def test_the_panel_opens_a_registered_kind(qtbot, panel, npy_kind, tmp_path):
    data = kind_plugin.make_stacks(tmp_path / "stacks", {"ring": 6, "spot": 4, "bar": 5})
    with qtbot.waitSignal(panel.dataset_loaded, timeout=20000) as blocker:
        panel.load_folder(str(data))
    summary = blocker.args[0]
    assert summary.classes == ("bar", "ring", "spot") and summary.counts == (5, 6, 4)
    assert summary.source == npy_kind.DESCRIPTION and summary.channels == 1
    shown = panel.status.text().replace("\u200b", "")  # long paths get break points (laptop screens)
    assert f"<b>15</b> grayscale images in <b>3</b> classes from <code>{data}</code>, {npy_kind.DESCRIPTION}" in shown
    assert not panel.error_label.isVisible()
    qtbot.waitUntil(lambda: panel.thumbnail_count() == 14, timeout=10000)  # up to 5 per class
    assert panel.thumbnail_classes() == ["bar", "ring", "spot"]
    if os.environ.get("TLGUI_SHOT"):
        QApplication.processEvents()
        panel.grab().save(os.environ["TLGUI_SHOT"])


def test_the_panel_names_the_kind_of_every_source(qtbot, panel, tmp_path):
    assert "built-in demo (shapes drawn on the fly, no files)" in panel.status.text()  # the default data
    folder = tmp_path / "empty-stacks"
    folder.mkdir()
    (folder / "a.npy").write_bytes(b"")
    panel.load_folder(str(folder))
    qtbot.waitUntil(lambda: panel.error_label.isVisible(), timeout=20000)
    # without the plug-in this is an image folder without class folders, and the panel says so
    assert "holds no class sub-folders with images" in panel.error_label.text()
    assert image_folder.DESCRIPTION not in panel.status.text()  # still the demo's line
