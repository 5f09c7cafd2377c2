"""The predict panel: drops, background prediction, top-k, unreadable files, CSV."""

from __future__ import annotations

import csv

import pytest
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QApplication, QFileDialog

from tlgui.core.results.predict import predict_paths
from tlgui.ui.pages.predict_panel import PredictPanel


@pytest.fixture(scope="module")
def model_path(tmp_path_factory):
    from tlgui.core.base.config import TrainConfig
    from tlgui.core.training.loop import train

    out = tmp_path_factory.mktemp("predict") / "run"
    train(TrainConfig(data="demo:target", model="smallcnn", epochs=1, device="cpu", out=str(out)))
    return out / "model.pt"


@pytest.fixture
def pictures(tmp_path):
    from tlgui.core.data.catalog import open_source

    images = open_source("demo:target", "test")
    folder = tmp_path / "pics"
    (folder / "more").mkdir(parents=True)
    for i in range(0, 60, 10):
        target = folder / ("more" if i >= 30 else "") / f"shape{i:02d}.png"
        images.load(i).save(target)
    (folder / "broken.png").write_bytes(b"not a picture")
    return folder


@pytest.fixture
def panel(qtbot, model_path):
    widget = PredictPanel()
    qtbot.addWidget(widget)
    widget.resize(800, 560)
    widget.show()
    widget.set_model(str(model_path))
    yield widget
    widget.close()
    assert widget.wait_idle(20000)


def drop(panel, paths):
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    centre = panel.table.geometry().center()
    enter = QDragEnterEvent(centre, Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                            Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(panel, enter)
    assert enter.isAccepted()
    event = QDropEvent(QPointF(centre), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                       Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(panel, event)


def test_empty_state_and_no_model(qtbot):
    widget = PredictPanel()
    qtbot.addWidget(widget)
    assert not widget.add_files_button.isEnabled()
    widget.add_paths(["/nowhere.png"])
    assert "Choose a model first" in widget.status.text()


def test_dropped_files_get_the_same_labels_as_predict_paths(qtbot, panel, model_path, pictures):
    files = sorted(str(p) for p in pictures.glob("shape*.png"))
    with qtbot.waitSignal(panel.predictions_ready, timeout=30000):
        drop(panel, [*files, pictures / "broken.png", pictures / "more"])
    expected = predict_paths(model_path, [*files, pictures / "broken.png", pictures / "more"], top_k=3)
    assert panel.labels() == {p.path: p.label for p in expected.predictions}
    assert panel.table.rowCount() == 6
    for row, p in enumerate(expected.predictions):
        assert panel.shown_top(row) == [label for label, _ in p.top]
        assert panel.table.item(row, 1).text() == p.path.rsplit("/", 1)[-1]
    assert [path for path, _ in panel.unreadable] == [str(pictures / "broken.png")]
    assert panel.unreadable_list.isVisible() and "not an image" in panel.unreadable_list.item(0).text()
    qtbot.waitUntil(lambda: panel.icon_count() == 6, timeout=20000)


def test_top_k_spin_and_csv(qtbot, panel, pictures, tmp_path, monkeypatch):
    with qtbot.waitSignal(panel.predictions_ready, timeout=30000):
        panel.add_paths([str(pictures)])
    panel.k_spin.setValue(5)
    assert len(panel.shown_top(0)) == 5
    panel.k_spin.setValue(1)
    assert panel.shown_top(0) == [panel.predictions[0].label]
    out = tmp_path / "preds.csv"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(out), ""))
    qtbot.mouseClick(panel.save_button, Qt.MouseButton.LeftButton)
    rows = list(csv.reader(out.open()))
    assert rows[0] == ["path", "label", "probability", "top1", "p1"]
    assert len(rows) == 1 + 6
    qtbot.mouseClick(panel.clear_button, Qt.MouseButton.LeftButton)
    assert panel.table.rowCount() == 0 and not panel.unreadable_list.isVisible()


def test_bad_model_file_is_a_message(qtbot, panel, tmp_path, pictures):
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"junk")
    panel.set_model(str(bad))
    panel.add_paths([str(pictures)])
    qtbot.waitUntil(lambda: bool(panel.last_error), timeout=20000)
    assert "Could not classify" in panel.status.text() and "Traceback" not in panel.status.text()
    qtbot.waitUntil(lambda: not panel.busy(), timeout=20000)


def test_drops_while_busy_are_queued(qtbot, panel, pictures):
    files = sorted(str(p) for p in pictures.glob("shape*.png"))
    panel.add_paths(files[:2])
    panel.add_paths(files[2:])
    qtbot.waitUntil(lambda: not panel.busy() and panel.table.rowCount() == 3, timeout=30000)
    assert set(panel.labels()) == set(files)
    # every dropped file has its row, named by the file: the queued drop was not lost or doubled
    assert sorted(panel.table.item(r, 1).toolTip() for r in range(3)) == files
