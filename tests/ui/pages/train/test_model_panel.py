"""The model panel: searching architectures, pretrained availability, earlier runs."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QPoint, Qt

from tlgui import paths
from tlgui.core.base.files import atomic_save
from tlgui.core.library.local import hub_checkpoints_dir, weight_file_name
from tlgui.core.models.checkpoint import make_checkpoint
from tlgui.core.models.zoo import build_model, default_preprocessing, default_weight_entry
from tlgui.ui.base.choices import ModelChoice
from tlgui.ui.pages.train.architecture_list import NAME_ROLE
from tlgui.ui.pages.train.model_panel import ModelPanel


@pytest.fixture
def panel(qtbot):
    widget = ModelPanel()
    qtbot.addWidget(widget)
    widget.resize(520, 640)
    widget.show()
    qtbot.waitExposed(widget)
    qtbot.waitUntil(lambda: not widget._runner.busy(), timeout=10000)
    return widget


def visible_names(panel) -> list[str]:
    proxy = panel.list.model()
    names = []
    for family_row in range(proxy.rowCount()):
        family = proxy.index(family_row, 0)
        for row in range(proxy.rowCount(family)):
            names.append(proxy.index(row, 0, family).data(NAME_ROLE))
    return names


def click_architecture(qtbot, panel, name: str) -> None:
    proxy = panel.list.model()
    for family_row in range(proxy.rowCount()):
        family = proxy.index(family_row, 0)
        for row in range(proxy.rowCount(family)):
            index = proxy.index(row, 0, family)
            if index.data(NAME_ROLE) == name:
                panel.list.scrollTo(index)
                rect = panel.list.visualRect(index)
                qtbot.mouseClick(panel.list.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
                return
    raise AssertionError(f"{name} is not shown")


def click_radio(qtbot, radio) -> None:
    """Click on the round indicator, where a user clicks (the widget may be wider than its text)."""
    qtbot.mouseClick(radio, Qt.MouseButton.LeftButton, pos=QPoint(8, radio.height() // 2))


def test_default_choice_is_smallcnn_with_demo_source(panel):
    assert panel.choice() == ModelChoice("smallcnn", "demo:source")
    assert panel.radio_demo.isChecked() and panel.radio_demo.isVisible()
    assert "smallcnn" in panel.info.text()


def test_search_filters_the_list(qtbot, panel):
    everything = visible_names(panel)
    assert "resnet18" in everything and "vit_b_16" in everything
    qtbot.keyClicks(panel.search, "resnet1")
    names = visible_names(panel)
    assert names and all("resnet1" in n for n in names)
    assert "resnet18" in names and "vit_b_16" not in names
    assert panel.choice().architecture == "smallcnn"  # typing alone chooses nothing
    panel.search.clear()
    qtbot.keyClicks(panel.search, "vit b")  # words, underscores optional
    assert set(visible_names(panel)) == {"vit_b_16", "vit_b_32"}
    panel.search.clear()
    qtbot.keyClicks(panel.search, "transformer")  # family names match too
    assert "swin_t" in visible_names(panel)


def test_choosing_an_architecture_emits_selection_changed(qtbot, panel):
    qtbot.keyClicks(panel.search, "resnet18")
    with qtbot.waitSignal(panel.selection_changed) as blocker:
        click_architecture(qtbot, panel, "resnet18")
    choice = blocker.args[0]
    assert choice.architecture == "resnet18"
    # the demo model only fits smallcnn, and no ImageNet file is cached: random start
    assert choice.weights == "none"
    assert panel.choice() == choice
    assert not panel.radio_demo.isVisible()
    assert "11,689,512 parameters" in panel.info.text()
    # Enter in the search box picks the first match
    panel.search.clear()
    qtbot.keyClicks(panel.search, "mobilenet_v3_s")
    with qtbot.waitSignal(panel.selection_changed) as blocker:
        qtbot.keyClick(panel.search, Qt.Key.Key_Return)
    assert blocker.args[0].architecture == "mobilenet_v3_small"


def test_pretrained_availability_both_ways(qtbot, panel):
    panel.set_choice(ModelChoice("resnet18", "default"))
    expected = weight_file_name(default_weight_entry("resnet18"))
    text = panel.pretrained_status.text()
    assert "not on this computer" in text and expected in text
    assert str(hub_checkpoints_dir()) in text

    hub_checkpoints_dir().mkdir(parents=True, exist_ok=True)
    (hub_checkpoints_dir() / expected).write_bytes(b"fake")
    qtbot.mouseClick(panel.refresh_button, Qt.MouseButton.LeftButton)
    assert panel.pretrained_status.text() == "Pretrained ImageNet weights: available offline"
    panel.wait_idle()

    # switching from smallcnn now prefers the offline pretrained file
    panel.set_choice(ModelChoice("smallcnn", "demo:source"))
    click_architecture(qtbot, panel, "resnet18")
    assert panel.choice() == ModelChoice("resnet18", "default")


def test_weight_file_choice(qtbot, panel, tmp_path):
    file = tmp_path / "my-weights.pth"
    file.write_bytes(b"x")
    with qtbot.waitSignal(panel.selection_changed) as blocker:
        panel.set_weights_file(str(file))
    assert blocker.args[0].weights == str(file)
    assert panel.radio_file.isChecked()
    click_radio(qtbot, panel.radio_none)
    assert panel.choice().weights == "none"


def _write_run(name: str, classes: list[str]) -> str:
    model = build_model("smallcnn", len(classes), 1)
    ckpt = make_checkpoint(model, "smallcnn", classes, 1, "fc", default_preprocessing("smallcnn").to_dict())
    path = paths.runs_dir() / name / "model.pt"
    atomic_save(ckpt, path)
    return str(path)


def test_earlier_runs_are_listed(qtbot):
    path = _write_run("my-first-run", ["cat", "dog", "fox"])
    panel = ModelPanel()
    qtbot.addWidget(panel)
    panel.show()
    qtbot.waitUntil(lambda: bool(panel.runs()), timeout=30000)
    assert panel.runs() == [(path, "my-first-run", "smallcnn", 3)]
    assert panel.run_combo.itemText(0) == "my-first-run — smallcnn, 3 classes"
    assert panel.radio_run.isEnabled()
    panel.set_choice(ModelChoice("resnet18", "none"))
    with qtbot.waitSignal(panel.selection_changed) as blocker:
        click_radio(qtbot, panel.radio_run)
    # choosing a run also chooses the architecture its weights fit
    assert blocker.args[0] == ModelChoice("smallcnn", path)
    assert panel.radio_run.isChecked()


def test_no_runs_yet(panel):
    assert panel.runs() == []
    assert panel.run_combo.itemText(0) == "No earlier runs yet"
    assert not panel.radio_run.isEnabled()


def test_locked_panel(qtbot, panel):
    panel.set_locked(True)
    with qtbot.assertNotEmitted(panel.selection_changed):
        click_architecture(qtbot, panel, "alexnet")
    assert panel.choice().architecture == "smallcnn"
    panel.set_locked(False)
    click_architecture(qtbot, panel, "alexnet")
    assert panel.choice().architecture == "alexnet"
