"""The runs panel: lists runs, overlays curves, shows differing settings, emits requests."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFileDialog

from tlgui.ui.pages.runs.panel import COLUMNS, RunsPanel
from tlgui.ui.pages.runs.run_info import config_diff


def _train(out, **overrides):
    from tlgui.core.base.config import TrainConfig
    from tlgui.core.training.loop import train

    settings = dict(data="demo:target", model="smallcnn", epochs=2, device="cpu", out=str(out))
    settings.update(overrides)
    return train(TrainConfig(**settings))


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    a = _train(root / "run-a", seed=0)
    b = _train(root / "run-b", seed=1, lr=3e-3, epochs=3)
    return root, a, b


@pytest.fixture
def panel(qtbot, two_runs, monkeypatch):
    import tlgui.paths

    root, _a, _b = two_runs
    monkeypatch.setattr(tlgui.paths, "runs_dir", lambda: root)
    widget = RunsPanel()
    qtbot.addWidget(widget)
    widget.resize(1000, 700)
    widget.show()
    return widget


def _row_of(panel, name):
    for row in range(panel.table.rowCount()):
        if panel.table.item(row, 0).text() == name:
            return row
    raise AssertionError(name)


def test_lists_runs_with_their_figures(panel, two_runs):
    _root, a, b = two_runs
    assert panel.table.rowCount() == 2
    row = _row_of(panel, "run-b")
    best = panel.table.item(row, COLUMNS.index("Best val.")).text()
    assert best == f"{100 * b.summary['best_val_accuracy']:.1f} %"
    assert panel.table.item(row, COLUMNS.index("Epochs")).text() == "3/3"
    assert panel.table.item(row, COLUMNS.index("Status")).text() == "completed"
    assert panel.table.isSortingEnabled()


def test_selecting_two_runs_overlays_curves_and_diffs_settings(qtbot, panel, two_runs):
    _root, a, b = two_runs
    panel.table.selectRow(_row_of(panel, "run-a"))
    qtbot.mouseClick(panel.table.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.ControlModifier,
                     panel.table.visualRect(panel.table.model().index(_row_of(panel, "run-b"), 1)).center())
    assert {r.name for r in panel.selected_runs()} == {"run-a", "run-b"}
    curves = [item for item in panel.accuracy_plot.getPlotItem().listDataItems()]
    assert len(curves) == 2
    by_name = {c.name(): c for c in curves}
    x, y = by_name["run-b"].getData()
    assert list(x) == [1, 2, 3]
    assert y[-1] == pytest.approx(100 * b.summary["final_val_accuracy"])
    assert len(panel.legend.items) == 2
    # only the differing keys, never the output folder
    keys = [panel.diff_table.verticalHeaderItem(r).text() for r in range(panel.diff_table.rowCount())]
    assert keys == ["epochs", "lr", "seed"]
    assert config_diff([{"a": 1, "out": "x"}, {"a": 1, "out": "y"}]) == []
    assert not panel.evaluate_button.isEnabled()  # one run at a time


def test_buttons_emit_requests_and_export_opens_dialog(qtbot, panel, two_runs):
    _root, a, _b = two_runs
    panel.table.selectRow(_row_of(panel, "run-a"))
    with qtbot.waitSignal(panel.evaluate_requested) as evaluate:
        qtbot.mouseClick(panel.evaluate_button, Qt.MouseButton.LeftButton)
    assert evaluate.args == [a.run_dir]
    with qtbot.waitSignal(panel.use_weights_requested) as weights:
        qtbot.mouseClick(panel.weights_button, Qt.MouseButton.LeftButton)
    assert weights.args == ["smallcnn", str(Path(a.run_dir) / "model.pt")]
    qtbot.mouseClick(panel.export_button, Qt.MouseButton.LeftButton)
    assert panel.export_dialog is not None and panel.export_dialog.isVisible()
    assert panel.export_dialog.model_path.endswith("model.pt")
    panel.export_dialog.close()


def test_add_run_and_open_folder(qtbot, panel, tmp_path, monkeypatch):
    outside = tmp_path / "elsewhere"
    _train(outside, epochs=1)
    panel.add_run(str(outside))
    assert panel.table.rowCount() == 3
    assert [r.name for r in panel.selected_runs()] == ["elsewhere"]
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *a, **k: str(tmp_path))
    qtbot.mouseClick(panel.open_button, Qt.MouseButton.LeftButton)
    assert "not a tlgui run folder" in panel.hint.text()
    assert panel.table.rowCount() == 3


def test_a_run_trained_on_several_processes_is_listed_like_any_other(qtbot, two_runs, tmp_path, monkeypatch):
    # a run folder as torchrun's rank 0 writes it differs only in summary.json's world_size
    # (tests/core/test_distributed.py checks that on a real 2-process run)
    import json
    import shutil

    import tlgui.paths

    _root, a, _b = two_runs
    root = tmp_path / "runs"
    shutil.copytree(a.run_dir, root / "on-two")
    summary = json.loads((root / "on-two" / "summary.json").read_text())
    summary["world_size"] = 2
    (root / "on-two" / "summary.json").write_text(json.dumps(summary))
    shutil.copytree(a.run_dir, root / "on-one")
    monkeypatch.setattr(tlgui.paths, "runs_dir", lambda: root)
    widget = RunsPanel()
    qtbot.addWidget(widget)
    row = _row_of(widget, "on-two")
    cells = [widget.table.item(row, c).text() for c in range(len(COLUMNS))]
    one = [widget.table.item(_row_of(widget, "on-one"), c).text() for c in range(len(COLUMNS))]
    assert cells[1:] == one[1:] and cells[COLUMNS.index("Status")] == "completed"
    assert widget.table.item(row, 0).toolTip().endswith("trained on 2 processes (torchrun)")
    assert "processes" not in widget.table.item(_row_of(widget, "on-one"), 0).toolTip()
    widget.table.selectRow(row)
    assert [r.name for r in widget.selected_runs()] == ["on-two"]
    assert widget.evaluate_button.isEnabled() and widget.export_button.isEnabled()
    assert len(widget.accuracy_plot.getPlotItem().listDataItems()) == 1


def test_empty_state(qtbot, monkeypatch, tmp_path):
    import tlgui.paths

    monkeypatch.setattr(tlgui.paths, "runs_dir", lambda: tmp_path / "none")
    widget = RunsPanel()
    qtbot.addWidget(widget)
    assert widget.table.rowCount() == 0
    assert not widget.evaluate_button.isEnabled()
