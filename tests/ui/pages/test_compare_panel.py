"""The compare panel: advice first, three strategies to a verdict, Stop, plain errors."""

from __future__ import annotations

import shutil

import pytest
from PySide6.QtCore import Qt

from tlgui.ui.pages.compare_panel import ComparePanel
from tlgui.workers import registry


@pytest.fixture(scope="module")
def source_model(tmp_path_factory):
    """A briefly pretrained demo source model (as tests/e2e/test_compare_demo.py makes it)."""
    from tlgui.core.base.config import TrainConfig
    from tlgui.core.training.loop import train

    out = tmp_path_factory.mktemp("source") / "demo-source"
    config = TrainConfig(data="demo:source", val_data="demo:source", model="smallcnn", epochs=1, batch_size=64,
                         lr=2e-3, schedule="onecycle", max_train_images=1000, seed=0, device="cpu", out=str(out))
    assert train(config).status == "completed"
    return out / "model.pt"


@pytest.fixture
def panel(qtbot, source_model):
    from tlgui.core.workflows.demo import demo_source_dir

    demo_source_dir().mkdir(parents=True, exist_ok=True)
    shutil.copy(source_model, demo_source_dir() / "model.pt")  # where --weights demo:source looks
    widget = ComparePanel()
    qtbot.addWidget(widget)
    widget.resize(1000, 760)
    widget.show()
    yield widget
    widget.close()
    assert not any(t.isRunning() for t in registry.live_threads())


def _context(panel, epochs=1, data="demo:target", weights="demo:source"):
    panel.set_context(data, "demo:target", "smallcnn", weights, epochs, 0, 32, 2e-3)


def test_advice_before_running(qtbot, panel):
    assert not panel.run_button.isEnabled()  # no context yet
    _context(panel)
    qtbot.waitUntil(lambda: panel.advice is not None, timeout=20000)
    from tlgui.core.data.catalog import open_source
    from tlgui.core.workflows.advisor import advise, summarize_image_set

    # the panel shows the core advisor's own answer for this data and model, every reason
    expected = advise(summarize_image_set(open_source("demo:target", "train")), "smallcnn", "demo:source")
    assert (panel.advice.recommendation, panel.advice.reasons) == (expected.recommendation, expected.reasons)
    assert panel.advice_label.text().count("<li>") == len(expected.reasons) >= 1
    assert "Recommended" in panel.advice_label.text()
    assert panel.run_button.isEnabled() and panel.epochs_spin.value() == 1
    panel.set_locked(True)  # the main window is training
    assert not panel.run_button.isEnabled()
    panel.set_locked(False)
    _context(panel, weights="none")
    assert not panel.run_button.isEnabled() and "nothing to transfer" in panel.run_button.toolTip()
    assert panel.wait_idle(20000)


def test_three_strategies_to_a_verdict(qtbot, panel):
    _context(panel)
    epochs_seen = []
    panel.controller.epoch_finished.connect(lambda name, e: epochs_seen.append(name))
    with qtbot.waitSignal(panel.comparison_finished, timeout=120000) as blocker:
        qtbot.mouseClick(panel.run_button, Qt.MouseButton.LeftButton)
    result = blocker.args[0]
    assert result.status == "completed"
    assert epochs_seen == ["scratch", "head", "finetune"]
    qtbot.waitUntil(lambda: not panel.is_running(), timeout=10000)
    assert panel.table.rowCount() == 3
    assert [panel.table.item(r, 0).text() for r in range(3)] == ["from scratch", "head only", "fine-tune"]
    for row, name in enumerate(("scratch", "head", "finetune")):
        final = result.strategies[name].final_val_accuracy
        assert panel.table.item(row, 2).text() == f"{100 * final:.1f} %"
        x, y = panel.curve_data(name)
        assert list(x) == [1.0] and y[0] == pytest.approx(100 * final)
    assert panel.verdict_label.isVisible() and panel.verdict_label.text() == result.verdict
    assert "over training from scratch" in result.verdict
    assert panel.progress.value() == 1000 and panel.run_button.isEnabled()


def test_stop_ends_promptly_without_threads(qtbot, panel):
    _context(panel, epochs=40)
    panel.epochs_spin.setValue(40)
    with qtbot.waitSignal(panel.controller.progress, timeout=60000):
        qtbot.mouseClick(panel.run_button, Qt.MouseButton.LeftButton)
    assert panel.is_running() and "Strategy 1 of 3" in panel.progress_label.text()
    with qtbot.waitSignal(panel.running_changed, timeout=10000) as blocker:
        qtbot.mouseClick(panel.stop_button, Qt.MouseButton.LeftButton)
    assert blocker.args == [False]
    assert panel.result is not None and panel.result.status == "stopped"
    # whether or not the first strategy finished an epoch, the verdict says the check was cut short
    assert panel.verdict_label.text() == panel.result.verdict
    assert "Stopped early: these figures cover only the epochs that finished." in panel.result.verdict
    assert not any(t.isRunning() for t in registry.live_threads() if t.objectName() == "tlgui-compare")


def test_errors_are_plain_sentences(qtbot, panel, tmp_path):
    _context(panel, data=str(tmp_path / "missing"))
    with qtbot.waitSignal(panel.running_changed, timeout=30000, check_params_cb=lambda running: not running):
        qtbot.mouseClick(panel.run_button, Qt.MouseButton.LeftButton)
    assert panel.error_label.isVisible()
    assert "missing" in panel.error_label.text() and "Traceback" not in panel.error_label.text()
    assert panel.result is None
    assert panel.wait_idle(20000)
