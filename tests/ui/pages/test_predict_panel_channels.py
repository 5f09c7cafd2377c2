"""Predict with lab images: 16-bit, 4-channel TIFFs get thumbnails shown as Fiji shows them and a
channel toggle that re-renders them (display only)."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QPushButton

from tests.ui.lab_images import image_pixels, write_lab_folder
from tlgui.ui.pages.predict_panel import PredictPanel


@pytest.fixture(scope="module")
def lab_run(tmp_path_factory):
    from tlgui.core.base.config import TrainConfig
    from tlgui.core.training.loop import train

    root = write_lab_folder(tmp_path_factory.mktemp("lab") / "cells", per_class=4)
    out = root.parent / "run"
    train(TrainConfig(data=str(root), model="smallcnn", epochs=1, batch_size=4, device="cpu", out=str(out)))
    return root, out / "model.pt"


def test_predict_shows_tiffs_with_a_channel_toggle(qtbot, lab_run):
    root, model = lab_run
    panel = PredictPanel()
    qtbot.addWidget(panel)
    panel.resize(800, 560)
    panel.show()
    panel.set_model(str(model))
    assert not panel.channel_toggle.isVisible()
    files = sorted(str(p) for p in root.rglob("*.tif"))[:3]
    panel.add_paths(files)
    qtbot.waitUntil(lambda: panel.icon_count() == 3, timeout=60000)
    assert panel.channel_toggle.isVisible() and panel.channel_toggle.channel_count() == 4
    before = image_pixels(panel.icon_image(0))
    assert before[..., 0].max() == 255
    qtbot.mouseClick(panel.findChild(QPushButton, "channel_toggle_1"), Qt.MouseButton.LeftButton)
    after = image_pixels(panel.icon_image(0))
    assert not np.array_equal(before, after)
    assert after[..., 0].astype(int).sum() < before[..., 0].astype(int).sum()
    panel.clear()
    assert not panel.channel_toggle.isVisible()
    panel.close()
    assert panel.wait_idle(20000)
