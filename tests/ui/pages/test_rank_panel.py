"""The "Which model?" page: a background rank, a sortable table, a bar chart with spread, Stop, Train this."""

from __future__ import annotations

import os

import pytest
import torch
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from tests.core.learnable import image_folder
from tlgui.core.models.zoo import SmallCNN
from tlgui.ui.pages.rank_panel import COLUMNS, RankPanel
from tlgui.workers import registry


@pytest.fixture
def candidates(tmp_path):
    """An informative random smallcnn and one with every convolution zeroed (features carry nothing)."""
    torch.manual_seed(0)
    model = SmallCNN(3, 1)
    good, dead = tmp_path / "good.pt", tmp_path / "dead.pt"
    torch.save(model.state_dict(), good)
    torch.save({k: (torch.zeros_like(v) if k.startswith("features") and v.dim() == 4 else v)
                for k, v in model.state_dict().items()}, dead)
    return str(good), str(dead)


@pytest.fixture
def panel(qtbot, tmp_path, candidates):
    widget = RankPanel()
    qtbot.addWidget(widget)
    widget.resize(1100, 700)
    widget.show()
    widget.models = f"smallcnn={candidates[1]},smallcnn={candidates[0]},nosuch"
    widget.folds_spin.setValue(3)
    yield widget
    widget.shutdown()
    widget.close()
    assert not any(t.isRunning() for t in registry.live_threads())


def _rank(qtbot, panel, data):
    panel.set_context(str(data), device="cpu")
    assert panel.run_button.isEnabled()
    with qtbot.waitSignal(panel.running_changed, timeout=120000, check_params_cb=lambda running: not running):
        qtbot.mouseClick(panel.run_button, Qt.MouseButton.LeftButton)


def test_rank_fills_table_chart_and_train_this(qtbot, panel, tmp_path, candidates):
    good, dead = candidates
    assert not panel.run_button.isEnabled()  # no data yet
    _rank(qtbot, panel, image_folder(tmp_path / "data", per_class=15, size=16))
    assert panel.result is not None and panel.result.status == "completed" and not panel.last_error
    table = panel.table
    assert table.rowCount() == 3 and table.columnCount() == len(COLUMNS)
    assert table.item(0, 1).toolTip() == good and table.item(2, 0).text() == "nosuch"
    assert "failed: unknown model" in table.item(2, len(COLUMNS) - 1).text()  # listed with its reason
    assert "random or unrelated" in table.item(1, len(COLUMNS) - 1).text()
    # sortable by each column: ascending accuracy puts the dead backbone above the good one
    table.sortItems(2, Qt.SortOrder.AscendingOrder)
    scored = [table.item(r, 1).toolTip() for r in range(3) if table.item(r, 2).text()]
    assert scored == [dead, good]
    table.sortItems(6, Qt.SortOrder.DescendingOrder)  # ms per image
    table.sortItems(2, Qt.SortOrder.DescendingOrder)
    # the chart: one bar per scored backbone with its spread
    assert list(panel.bars.opts["height"]) == pytest.approx([100 * c.accuracy for c in panel.result.candidates[:2]])
    assert len(panel.error_bars.opts["height"]) == 2
    assert "Recommended" in panel.advice_label.text() and "head" in panel.advice_label.text()
    # Train this: the best row is selected; the signal carries model, weights and strategy
    assert panel.train_button.isEnabled()
    with qtbot.waitSignal(panel.train_requested) as sent:
        qtbot.mouseClick(panel.train_button, Qt.MouseButton.LeftButton)
    assert sent.args == ["smallcnn", good, "head"]
    QApplication.processEvents()  # the layout takes the new texts' sizes, as it does between frames
    panel.grab().save(os.path.join(os.environ.get("TLGUI_SCREENSHOTS", str(tmp_path)), "rank_panel.png"))


def test_stop_keeps_what_was_ranked(qtbot, panel, tmp_path):
    data = image_folder(tmp_path / "data", per_class=10, size=16)
    panel.set_context(str(data), device="cpu")

    def stop_after_first(event):
        if event.done is not None:
            panel.stop()

    original = panel._on_progress
    panel._on_progress = lambda event: (original(event), stop_after_first(event))
    with qtbot.waitSignal(panel.running_changed, timeout=120000, check_params_cb=lambda running: not running):
        qtbot.mouseClick(panel.run_button, Qt.MouseButton.LeftButton)
    assert panel.result.status == "stopped" and 1 <= len(panel.result.candidates) < 3
    assert "stopped" in panel.advice_label.text()


def test_bad_data_is_one_sentence(qtbot, panel, tmp_path):
    _rank(qtbot, panel, tmp_path / "nowhere")
    assert panel.error_label.isVisible() and "Could not rank" in panel.error_label.text()
    assert "Traceback" not in panel.error_label.text() and panel.run_button.isEnabled()


def test_a_finished_rank_is_shown_again_and_each_row_trains_with_its_own_strategy(qtbot, panel, tmp_path,
                                                                                    candidates):
    good, dead = candidates
    data = image_folder(tmp_path / "data", per_class=15, size=16)
    _rank(qtbot, panel, data)
    ranked = [(c.model, c.weights, c.accuracy) for c in panel.result.candidates]
    # a new page (a restart) with the same data choice shows the kept rank, without ranking again
    again = RankPanel()
    qtbot.addWidget(again)
    again.models = panel.models
    again.set_context(str(data), device="cpu")
    assert not again.is_running()
    kept = [(c.model, c.weights, c.accuracy) for c in again.result.candidates]
    assert [k[:2] for k in kept] == [r[:2] for r in ranked]
    assert [k[2] for k in kept] == [pytest.approx(r[2], abs=1e-4) if r[2] is not None else None for r in ranked]
    assert again.table.rowCount() == 3 and "Ranked on" in again.progress_label.text()
    assert "Recommended" in again.advice_label.text()
    # the dead backbone's row: its own advice (its features are near chance: train from scratch)
    row = next(r for r in range(again.table.rowCount()) if again.table.item(r, 1).toolTip() == dead)
    again.table.selectRow(row)
    with qtbot.waitSignal(again.train_requested) as sent:
        qtbot.mouseClick(again.train_button, Qt.MouseButton.LeftButton)
    assert sent.args == ["smallcnn", "none", "scratch"]
    if os.environ.get("TLGUI_SCREENSHOTS"):
        again.resize(1100, 700)
        again.show()
        QApplication.processEvents()
        again.grab().save(os.path.join(os.environ["TLGUI_SCREENSHOTS"], "rank_kept.png"))
    # another data choice has no kept rank: the table is emptied, not left showing the other data's
    again.set_context(str(image_folder(tmp_path / "other", per_class=5, size=16)), device="cpu")
    assert again.result is None and again.table.rowCount() == 0 and not again.advice_label.text()
    again.shutdown()


def test_every_bar_keeps_a_label_however_long_its_weights_path(qtbot, panel, tmp_path):
    from PySide6.QtGui import QFontMetrics

    from tlgui.core.workflows.rank_results import CandidateResult

    long_run = str(tmp_path / "runs" / "20261207-195802-smallcnn-with-a-long-name" / "model.pt")
    candidates = [CandidateResult("smallcnn", "demo:source", accuracy=0.91, accuracy_std=0.03),
                  CandidateResult("smallcnn", long_run, accuracy=0.9, accuracy_std=0.02),
                  CandidateResult("timm:resnet10t", "default", accuracy=0.8, accuracy_std=0.02)]
    panel._draw_chart(candidates)
    axis = panel.chart.getPlotItem().getAxis("bottom")
    labels = [text for _x, text in axis._tickLevels[0]]
    metrics = QFontMetrics(axis.style.get("tickFont") or panel.chart.font())
    share = (panel.chart.getPlotItem().vb.width() or panel.chart.width()) / 3
    assert all(text and metrics.horizontalAdvance(text) <= share for text in labels)  # the axis drops none
    for text, full in zip(labels, ["demo:source", "20261207-195802-smallcnn-with-a-long-name/model.pt",
                                   "resnet10t default"], strict=True):
        assert text == full if metrics.horizontalAdvance(full) <= share - 8 else "…" in text
