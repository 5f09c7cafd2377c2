"""The results panel: evaluation in the background, figures, confusion cells, galleries, export."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFileDialog

from tlgui.core.results.metrics import metrics_from_confusion
from tlgui.ui.pages.results_panel import ResultsPanel


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    from tlgui.core.base.config import TrainConfig
    from tlgui.core.training.loop import train

    out = tmp_path_factory.mktemp("results") / "run"
    train(TrainConfig(data="demo:target", model="smallcnn", epochs=2, lr=3e-3, device="cpu", out=str(out)))
    return out


@pytest.fixture
def panel(qtbot):
    widget = ResultsPanel()
    qtbot.addWidget(widget)
    widget.resize(1100, 720)
    widget.show()
    yield widget
    widget.close()
    assert widget.wait_idle(20000)


def _show_run(qtbot, panel, run_dir):
    with qtbot.waitSignal(panel.evaluation_ready, timeout=60000) as blocker:
        panel.show_run(str(run_dir))
    return blocker.args[0]


def test_empty_state_explains_what_to_do(panel):
    assert panel.stack.currentWidget() is panel.empty
    assert "Train a model or open a run" in panel.empty.text()
    assert not panel.save_png_button.isEnabled()


def test_run_evaluation_fills_figures_and_table(qtbot, panel, run_dir):
    ev = _show_run(qtbot, panel, run_dir)
    summary = json.loads((run_dir / "summary.json").read_text())
    assert abs(ev.accuracy - summary["final_val_accuracy"]) <= 1e-6
    assert f"{100 * ev.accuracy:.1f} %" in panel.headline.text()
    expected = metrics_from_confusion(ev.confusion)
    table = panel.table
    assert table.rowCount() == len(ev.classes)
    for row in range(table.rowCount()):
        name = table.item(row, 0).text()
        i = ev.classes.index(name)
        for column, key in ((1, "precision"), (2, "recall"), (3, "f1"), (4, "support")):
            value = table.item(row, column).data(Qt.ItemDataRole.UserRole + 1)
            assert value == pytest.approx(expected[key][i], abs=1e-12)
    assert panel.confusion.classes == ev.classes
    assert np.array_equal(panel.confusion.confusion, ev.confusion)


def test_clicking_a_cell_filters_the_gallery(qtbot, panel, run_dir):
    ev = _show_run(qtbot, panel, run_dir)
    predictions = ev.predictions
    # a cell with mistakes if there is one, and a diagonal cell
    wrong = np.argwhere(ev.confusion * (1 - np.eye(len(ev.classes), dtype=int)) > 0)
    cells = [tuple(wrong[0])] if len(wrong) else []
    cells.append((0, 0))
    for true, predicted in cells:
        rect = panel.confusion.cell_rect(true, predicted)
        qtbot.mouseClick(panel.confusion, Qt.MouseButton.LeftButton, pos=rect.center().toPoint())
        expected = {ev.descriptions[r] for r in range(ev.n) if ev.targets[r] == true and predictions[r] == predicted}
        shown = panel.gallery.descriptions()
        assert len(shown) == len(expected) and set(shown) == expected
        assert panel.confusion.selected() == (true, predicted)
        assert panel.tabs.currentIndex() == 1
        count = len(expected)
        qtbot.waitUntil(lambda count=count: panel.gallery.loaded_count() == count, timeout=20000)


def test_top_losses_and_exports(qtbot, panel, run_dir, tmp_path, monkeypatch):
    ev = _show_run(qtbot, panel, run_dir)
    losses = ev.top_losses(48)
    assert panel.top_losses.descriptions() == [t.path for t in losses]
    qtbot.waitUntil(lambda: panel.top_losses.loaded_count() == len(losses), timeout=20000)

    png = tmp_path / "cm.png"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(png), "PNG image (*.png)"))
    qtbot.mouseClick(panel.save_png_button, Qt.MouseButton.LeftButton)
    with Image.open(png) as image:  # a picture of the matrix, not an empty or one-colour file
        assert image.format == "PNG" and min(image.size) >= 200
        assert len(image.convert("RGB").getcolors(1 << 24)) > 20
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *a, **k: str(tmp_path / "tables"))
    qtbot.mouseClick(panel.save_csv_button, Qt.MouseButton.LeftButton)
    names = sorted(p.name for p in (tmp_path / "tables").iterdir())
    assert names == ["confusion.csv", "per_class.csv", "predictions.csv", "top_losses.csv"]


def test_evaluate_form_and_errors(qtbot, panel, run_dir):
    panel.model_edit.setText(str(run_dir / "model.pt"))
    panel.data_edit.setText("demo:target")
    panel.split_combo.setCurrentText("test")
    with qtbot.waitSignal(panel.evaluation_ready, timeout=60000) as blocker:
        qtbot.mouseClick(panel.evaluate_button, Qt.MouseButton.LeftButton)
    assert blocker.args[0].n == 600
    panel.evaluate(str(run_dir / "missing.pt"), "demo:target", "test")
    qtbot.waitUntil(lambda: bool(panel.last_error), timeout=20000)
    assert "Traceback" not in panel.status.text() and "Could not evaluate" in panel.status.text()
