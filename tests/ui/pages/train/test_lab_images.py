"""The data panel with lab images (16-bit, 4-channel TIFFs): what it says about them, thumbnails
shown as Fiji shows them with a channel toggle, and the channel, intensity and stack choices
that end up in the TrainConfig the Train page builds."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QPushButton

from tests.ui.lab_images import image_pixels, write_lab_folder
from tlgui.core.base.config import ConfigError
from tlgui.ui.base.errors import find_error_dialogs
from tlgui.ui.pages.train.dataset_panel import DatasetPanel


@pytest.fixture
def panel(qtbot):
    widget = DatasetPanel()
    qtbot.addWidget(widget)
    widget.resize(560, 820)
    with qtbot.waitSignal(widget.dataset_loaded, timeout=20000):
        widget.show()
    yield widget
    widget.close()
    assert widget.wait_idle(20000)


def _load(qtbot, panel, root):
    with qtbot.waitSignal(panel.dataset_loaded, timeout=20000):
        panel.load_folder(str(root))


def _thumb(panel) -> np.ndarray:
    label = panel.thumbnails.findChildren(QLabel, "datasetThumbnail")[0]
    return image_pixels(label.pixmap().toImage())


def test_data_panel_states_the_kind_of_lab_images_and_shows_them(qtbot, panel, tmp_path):
    root = write_lab_folder(tmp_path / "cells")
    _load(qtbot, panel, root)
    kind = panel.findChild(QLabel, "data_kind_label")
    assert kind.isVisible() and kind.text() == "4 channels, 16-bit (12-bit values), 12 images"
    assert "4-channel images" in panel.status.text()
    qtbot.waitUntil(lambda: panel.thumbnail_count() == 10, timeout=20000)  # 5 per class
    toggle = panel.findChild(type(panel.channel_toggle), "channel_toggle")
    assert toggle.isVisible() and [b.text() for b in toggle.buttons] == ["C1", "C2", "C3", "C4"]
    assert panel.image_values.isVisible()  # the choices that only lab images need
    assert panel.image_choices() == {"channels": "all", "intensity": "auto", "stack": "middle"}


def test_channel_toggle_rerenders_the_thumbnails(qtbot, panel, tmp_path):
    _load(qtbot, panel, write_lab_folder(tmp_path / "cells"))
    qtbot.waitUntil(lambda: panel.thumbnail_count() == 10, timeout=20000)
    before = _thumb(panel)
    assert before[..., 0].max() == 255  # channel 1 in red, auto-contrasted
    qtbot.mouseClick(panel.findChild(QPushButton, "channel_toggle_1"), Qt.MouseButton.LeftButton)
    after = _thumb(panel)
    assert not np.array_equal(before, after)
    assert after[..., 0].astype(int).sum() < before[..., 0].astype(int).sum()  # less red
    qtbot.mouseClick(panel.findChild(QPushButton, "channel_toggle_1"), Qt.MouseButton.LeftButton)
    assert np.array_equal(_thumb(panel), before)
    assert panel.image_choices()["channels"] == "all"  # display only: the model's channels unchanged


def test_photo_data_keeps_the_plain_view(qtbot, panel, tmp_path):
    rng = np.random.default_rng(0)
    for name in ("cat", "dog"):
        (tmp_path / "pets" / name).mkdir(parents=True)
        for i in range(3):
            pixels = rng.integers(0, 256, (20, 20, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(tmp_path / "pets" / name / f"{i}.png")
    _load(qtbot, panel, tmp_path / "pets")
    assert not panel.kind_label.isVisible()  # the summary line says it: no second line for 8-bit pictures
    assert "<b>6</b> colour images" in panel.status.text()
    qtbot.waitUntil(lambda: panel.thumbnail_count() == 6, timeout=20000)
    assert not panel.channel_toggle.isVisible() and not panel.image_values.isVisible()
    assert panel.image_choices() == {"channels": "all", "intensity": "auto", "stack": "middle"}


def test_choices_are_checked_and_restored(qtbot, panel, tmp_path):
    _load(qtbot, panel, write_lab_folder(tmp_path / "cells"))
    box = panel.image_values
    box.channels_edit.clear()
    qtbot.keyClicks(box.channels_edit, "1,5")
    qtbot.keyClick(box.channels_edit, Qt.Key.Key_Return)
    assert box.error_label.isVisible()
    assert box.error_label.text() == "Channels 1,5: the images have 4 channels."
    with pytest.raises(ConfigError, match="the images have 4 channels"):
        panel.image_choices()
    panel.set_image_choices({"channels": "2", "intensity": "fixed:10,300", "stack": "max"})
    assert not box.error_label.isVisible()
    assert box.intensity_combo.currentData() == "fixed" and box.intensity_low.isVisible()
    assert (box.intensity_low.value(), box.intensity_high.value()) == (10, 300)
    assert panel.image_choices() == {"channels": "2", "intensity": "fixed:10,300", "stack": "max"}
    box.intensity_high.setValue(5)
    assert "must be above" in box.error_label.text()


def test_choices_flow_into_the_train_config(qtbot, main_window, tmp_path):
    window = main_window
    panel = window.dataset_panel
    _load(qtbot, panel, write_lab_folder(tmp_path / "cells"))
    combo = window.findChild(type(panel.image_values.intensity_combo), "intensity_combo")
    combo.setCurrentIndex(combo.findData("fixed"))
    window.findChild(type(panel.image_values.intensity_low), "intensity_low").setValue(100)
    window.findChild(type(panel.image_values.intensity_high), "intensity_high").setValue(4000)
    edit = window.findChild(type(panel.image_values.channels_edit), "channels_edit")
    edit.clear()
    qtbot.keyClicks(edit, "1,2,4")
    stack = window.findChild(type(combo), "stack_combo")
    stack.setCurrentIndex(stack.findData("max"))
    config = window.build_config()
    assert (config.channels, config.intensity, config.stack) == ("1,2,4", "fixed:100,4000", "max")
    assert config.data == str(tmp_path / "cells")
    # remembered for the next session (settings.json), restored into the panel
    from tlgui.ui.pages.train.panels import restore_choices
    from tlgui.ui.shell import window_state

    window_state.remember(window)
    assert window.settings.image_values == {"channels": "1,2,4", "intensity": "fixed:100,4000", "stack": "max"}
    panel.set_image_choices({"channels": "all", "intensity": "auto", "stack": "middle"})
    restore_choices(window, window.settings)
    qtbot.waitUntil(lambda: not panel.is_loading(), timeout=20_000)
    assert panel.image_choices() == {"channels": "1,2,4", "intensity": "fixed:100,4000", "stack": "max"}


def test_a_bad_channels_value_says_why_and_starts_nothing(qtbot, main_window, tmp_path):
    from tlgui import paths

    window = main_window
    panel = window.dataset_panel
    _load(qtbot, panel, write_lab_folder(tmp_path / "cells"))
    edit = panel.image_values.channels_edit
    edit.clear()
    qtbot.keyClicks(edit, "red")
    qtbot.keyClick(edit, Qt.Key.Key_Return)
    assert panel.image_values.error_label.isVisible()
    runs_before = sorted(paths.runs_dir().glob("*")) if paths.runs_dir().exists() else []
    with pytest.raises(ConfigError):
        window.build_config()
    qtbot.mouseClick(window.training_panel.train_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: bool(find_error_dialogs()), timeout=5000)
    dialog = find_error_dialogs()[0]
    assert "Channels: 'red'" in dialog.text() and "Traceback" not in dialog.text()
    assert not dialog.detailedText()  # a sentence, no traceback behind it
    assert not window.controller.is_running()
    assert (sorted(paths.runs_dir().glob("*")) if paths.runs_dir().exists() else []) == runs_before
    dialog.done(0)
