"""'Show where it looked' on Predict and on the Results page's galleries: the pictures are
redrawn with the model's heatmap (computed in the background), and back."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtWidgets import QCheckBox

from tlgui.ui.pages.predict_panel import PredictPanel
from tlgui.ui.pages.results_panel import ResultsPanel


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    from tlgui.core.base.config import TrainConfig
    from tlgui.core.training.loop import train

    out = tmp_path_factory.mktemp("heat") / "run"
    train(TrainConfig(data="demo:target", model="smallcnn", epochs=1, device="cpu", out=str(out)))
    return out


def _images(widget_icons):
    return [icon.pixmap(48, 48).toImage() for icon in widget_icons]


def test_predict_shows_where_it_looked(qtbot, run_dir, tmp_path):
    from tlgui.core.data.catalog import open_source

    images = open_source("demo:target", "test")
    for i in range(3):
        images.load(i * 7).save(tmp_path / f"p{i}.png")
    panel = PredictPanel()
    qtbot.addWidget(panel)
    panel.show()
    panel.set_model(str(run_dir / "model.pt"))
    panel.add_paths([str(tmp_path)])
    qtbot.waitUntil(lambda: panel.icon_count() == 3 and not panel.busy(), timeout=30000)
    qtbot.waitUntil(lambda: not panel._thumbs.busy(), timeout=30000)
    plain = [panel.icon_image(r) for r in range(3)]
    toggle = panel.findChild(QCheckBox, "predictHeatmapToggle")
    qtbot.mouseClick(toggle, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: all(panel.icon_image(r) != plain[r] for r in range(3)), timeout=60000)
    qtbot.mouseClick(toggle, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: all(panel.icon_image(r) == plain[r] for r in range(3)), timeout=60000)
    panel.close()
    assert panel.wait_idle(20000)


def test_results_galleries_show_where_it_looked_and_lead_to_check_labels(qtbot, run_dir):
    panel = ResultsPanel()
    qtbot.addWidget(panel)
    panel.resize(1100, 720)
    panel.show()
    with qtbot.waitSignal(panel.evaluation_ready, timeout=60000):
        panel.show_run(str(run_dir))
    gallery = panel.top_losses
    count = gallery.count()
    assert count > 0
    qtbot.waitUntil(lambda: gallery.loaded_count() == count and not gallery.busy(), timeout=30000)
    plain = _images(gallery.item(r).icon() for r in range(count))
    panel.tabs.setCurrentIndex(2)
    toggle = panel.findChild(QCheckBox, "topLossesGallery_heatmaps")
    qtbot.mouseClick(toggle, Qt.MouseButton.LeftButton, pos=QPoint(8, toggle.height() // 2))  # on its box
    assert toggle.isChecked() and gallery.heatmaps and gallery.model_path == str(run_dir / "model.pt")
    qtbot.waitUntil(lambda: gallery.loaded_count() == count and not gallery.busy(), timeout=60000)
    assert _images(gallery.item(r).icon() for r in range(count)) != plain
    # the confusion-cell gallery has its own toggle, and both lead to Check labels
    panel.show_cell(0, 1)
    assert panel.findChild(QCheckBox, "resultsGallery_heatmaps") is not None
    assert panel.check_labels_button.isEnabled() and panel.check_cell_button.isEnabled()
    with qtbot.waitSignal(panel.check_labels_requested) as asked:  # the whole run's labels
        qtbot.mouseClick(panel.check_labels_button, Qt.MouseButton.LeftButton)
    assert asked.args == [str(run_dir)]
    with qtbot.waitSignal(panel.check_cell_labels_requested) as asked:  # the chosen cell's suspects
        qtbot.mouseClick(panel.check_cell_button, Qt.MouseButton.LeftButton)
    classes = panel.evaluation.classes
    assert asked.args == [str(run_dir), classes[0], classes[1]]
    panel.close()
    assert panel.wait_idle(20000)
