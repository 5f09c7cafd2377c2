"""The data panel warns about class folders that would be one folder on Windows and macOS."""

from __future__ import annotations

import os

import numpy as np
import pytest
from PIL import Image

from tlgui.ui.pages.train.dataset_panel import DatasetPanel


def test_class_folders_differing_only_in_case_are_named(qtbot, tmp_path):
    rng = np.random.default_rng(0)
    for name in ("Cat", "cat", "dog"):
        (tmp_path / "data" / name).mkdir(parents=True)
        for i in range(2):
            Image.fromarray(rng.integers(0, 256, (8, 8), dtype=np.uint8)).save(tmp_path / "data" / name / f"{i}.png")
    if len(os.listdir(tmp_path / "data")) < 3:
        pytest.skip("this file system folds case, so Cat and cat cannot both exist")
    panel = DatasetPanel()
    qtbot.addWidget(panel)
    with qtbot.waitSignal(panel.dataset_loaded, timeout=20000):
        panel.show()
    with qtbot.waitSignal(panel.dataset_loaded, timeout=20000) as blocker:
        panel.load_folder(str(tmp_path / "data"))
    assert blocker.args[0].classes == ("Cat", "cat", "dog")
    assert panel.warnings_label.isVisible()
    assert "Class folders 'Cat' and 'cat' differ only in case" in panel.warnings_label.text()
