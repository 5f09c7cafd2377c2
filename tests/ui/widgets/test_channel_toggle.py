"""The channel toggle and the gallery: lab images shown as Fiji shows them, channels hidden on click."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QVBoxLayout, QWidget

from tests.ui.lab_images import image_pixels, write_lab_folder
from tlgui.core.data.sources import load_image_file
from tlgui.ui.widgets.channel_toggle import ChannelToggle
from tlgui.ui.widgets.gallery import Gallery, GalleryItem


class FileLookup:
    def load(self, description: str):
        return load_image_file(description)


def _shown(qtbot, *widgets) -> QWidget:
    """``widgets`` in a shown window, as a page lays them out (so a hidden toggle stays hidden)."""
    window = QWidget()
    layout = QVBoxLayout(window)
    for widget in widgets:
        layout.addWidget(widget)
    qtbot.addWidget(window)
    window.show()
    return window


@pytest.fixture
def toggle(qtbot):
    widget = ChannelToggle()
    window = _shown(qtbot, widget)
    yield widget
    window.close()


def test_toggle_offers_a_coloured_button_per_channel_and_reports_clicks(qtbot, toggle):
    assert toggle.objectName() == "channel_toggle" and not toggle.isVisible()  # nothing to toggle yet
    toggle.set_channels(4)
    assert toggle.isVisible()
    names = [b.objectName() for b in toggle.buttons]
    assert names == ["channel_toggle_1", "channel_toggle_2", "channel_toggle_3", "channel_toggle_4"]
    assert [b.text() for b in toggle.buttons] == ["C1", "C2", "C3", "C4"]
    assert all(b.isChecked() for b in toggle.buttons)
    # Fiji's order: red, green, blue, gray
    assert "background-color: rgb(255,0,0)" in toggle.buttons[0].styleSheet()
    assert "background-color: rgb(0,255,0)" in toggle.buttons[1].styleSheet()
    assert "background-color: rgb(255,255,255)" in toggle.buttons[3].styleSheet()
    with qtbot.waitSignal(toggle.changed) as blocker:
        qtbot.mouseClick(toggle.findChild(type(toggle.buttons[0]), "channel_toggle_2"), Qt.MouseButton.LeftButton)
    assert blocker.args[0] == [True, False, True, True]
    toggle.grow_to(5)  # more channels arrive: the choice made so far stays
    assert toggle.visible_channels() == [True, False, True, True, True]
    toggle.set_channels(0)
    assert not toggle.isVisible() and toggle.channel_count() == 0


def _gallery(qtbot):
    gallery = Gallery("testGallery", side=64)
    toggle = ChannelToggle()
    gallery.channels_found.connect(toggle.set_channels)
    toggle.changed.connect(gallery.set_visible_channels)
    window = _shown(qtbot, toggle, gallery)
    return gallery, toggle, window


def _icon(gallery, row: int) -> np.ndarray:
    return image_pixels(gallery.item(row).icon().pixmap(64, 64).toImage())


def test_gallery_shows_16bit_tiffs_and_the_toggle_rerenders_them(qtbot, tmp_path):
    root = write_lab_folder(tmp_path / "cells", per_class=2)
    files = sorted(str(p) for p in root.rglob("*.tif"))
    gallery, toggle, _window = _gallery(qtbot)
    gallery.set_items([GalleryItem(f, f"#{i}") for i, f in enumerate(files)], FileLookup())
    qtbot.waitUntil(lambda: gallery.loaded_count() == len(files), timeout=20000)
    assert gallery.channel_count() == 4
    assert toggle.isVisible() and toggle.channel_count() == 4
    before = _icon(gallery, 0)
    assert before[..., 0].max() == 255 and before[..., 1].max() == 255  # auto-contrast: each channel at full scale
    qtbot.mouseClick(toggle.buttons[0], Qt.MouseButton.LeftButton)  # hide C1 (red)
    hidden = _icon(gallery, 0)
    assert not np.array_equal(before, hidden)
    assert hidden[..., 0].astype(int).sum() < before[..., 0].astype(int).sum()
    for button in toggle.buttons[1:]:
        qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    assert _icon(gallery, 0).max() == 0  # every channel hidden: black
    for button in toggle.buttons:
        qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    assert np.array_equal(_icon(gallery, 0), before)
    gallery.clear_items("empty")
    assert not toggle.isVisible()  # nothing left to toggle
    gallery.shutdown()


def test_gallery_shows_8bit_pictures_as_they_are_without_a_toggle(qtbot, tmp_path):
    picture = np.zeros((32, 32, 3), np.uint8)
    picture[:, :16] = (200, 30, 10)
    Image.fromarray(picture).save(tmp_path / "a.png")
    gallery, toggle, _window = _gallery(qtbot)
    gallery.set_items([GalleryItem(str(tmp_path / "a.png"), "a")], FileLookup())
    qtbot.waitUntil(lambda: gallery.loaded_count() == 1, timeout=20000)
    assert gallery.channel_count() == 0 and not toggle.isVisible()
    shown = _icon(gallery, 0)
    assert tuple(shown[shown.shape[0] // 2, 2]) == (200, 30, 10)  # no stretching of a photo
    gallery.shutdown()
