"""The layer tree: tri-state checkboxes, presets, plans and their parameter counts."""

from __future__ import annotations

import time

import pytest
from PySide6.QtCore import QModelIndex, Qt
from PySide6.QtWidgets import QStyle, QStyleOptionViewItem

from tlgui.core.models.layers import FreezePlan, apply_freeze
from tlgui.core.models.zoo import build_model, find_head_path
from tlgui.ui.widgets.layer_tree import LayerTreePanel

CHECKED, UNCHECKED, PARTIAL = (
    Qt.CheckState.Checked,
    Qt.CheckState.Unchecked,
    Qt.CheckState.PartiallyChecked,
)


@pytest.fixture
def panel(qtbot):
    widget = LayerTreePanel()
    qtbot.addWidget(widget)
    widget.resize(760, 560)
    widget.show()
    qtbot.waitExposed(widget)
    return widget


def index_of(panel, path: str):
    model = panel.tree_model()
    index = None
    for part_count in range(1, len(path.split(".")) + 1):
        prefix = ".".join(path.split(".")[:part_count])
        item = model.item(prefix)
        parent = index if index is not None else QModelIndex()
        index = model.index(item.row, 0, parent)
        if part_count < len(path.split(".")):
            panel.view.expand(index)
    return index


def state(panel, path: str) -> Qt.CheckState:
    value = index_of(panel, path).data(Qt.ItemDataRole.CheckStateRole)
    return Qt.CheckState(value)


def click_checkbox(qtbot, panel, path: str) -> None:
    """Click the checkbox of ``path``'s row, as a user would."""
    view = panel.view
    index = index_of(panel, path)
    view.scrollTo(index)
    option = QStyleOptionViewItem()
    option.initFrom(view)
    option.rect = view.visualRect(index)
    option.features |= QStyleOptionViewItem.ViewItemFeature.HasCheckIndicator
    rect = view.style().subElementRect(QStyle.SubElement.SE_ItemViewItemCheckIndicator, option, view)
    assert rect.isValid() and view.viewport().rect().contains(rect.center())
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())


def reference_report(name: str, plan: FreezePlan, in_channels: int = 1, classes: int = 10):
    model = build_model(name, classes, in_channels)
    return apply_freeze(model, plan, find_head_path(model))


def test_toggling_a_parent_unchecks_children_and_marks_parents_partial(qtbot, panel):
    panel.set_architecture("smallcnn", 10, 1)
    assert state(panel, "features") == CHECKED
    with qtbot.waitSignal(panel.plan_changed) as blocker:
        click_checkbox(qtbot, panel, "features.1")
    assert state(panel, "features.1") == UNCHECKED
    assert state(panel, "features.1.0") == UNCHECKED  # the block's convolution
    assert state(panel, "features.1.1") == UNCHECKED  # and its BatchNorm
    assert state(panel, "features") == PARTIAL
    assert state(panel, "features.0") == CHECKED
    assert blocker.args[0].to_spec() == "features.1"

    # a partially checked parent clicked becomes fully trainable again
    click_checkbox(qtbot, panel, "features")
    assert state(panel, "features") == CHECKED
    assert state(panel, "features.1.0") == CHECKED
    assert panel.plan().mode == "none"

    # unchecking every child unchecks the parent
    for path in ("features.0", "features.1", "features.2"):
        click_checkbox(qtbot, panel, path)
    assert state(panel, "features") == UNCHECKED


def test_plan_none_backbone_and_list(qtbot, panel):
    panel.set_architecture("smallcnn", 10, 1)
    assert panel.plan().to_spec() == "none"
    click_checkbox(qtbot, panel, "features")
    assert panel.plan().to_spec() == "backbone"  # only the head (fc) still trains
    click_checkbox(qtbot, panel, "features")
    click_checkbox(qtbot, panel, "features.0")
    click_checkbox(qtbot, panel, "features.2.1")
    plan = panel.plan()
    assert plan.mode == "paths"
    assert plan.paths == ["features.0", "features.2.1"]


@pytest.mark.parametrize(
    "spec", ["none", "backbone", "features.0,features.2.1", "features.1", "upto:features.1"]
)
def test_summary_matches_apply_freeze(panel, spec):
    panel.set_architecture("smallcnn", 10, 1)
    plan = FreezePlan.parse(spec)
    panel.set_plan(plan)
    report = reference_report("smallcnn", plan)
    assert panel.summary_text() == report.describe()
    # and the plan read back from the boxes freezes exactly the same parameters
    again = reference_report("smallcnn", panel.plan())
    assert again.trainable_params == report.trainable_params
    assert again.frozen_bn == report.frozen_bn


def test_summary_matches_apply_freeze_on_resnet18(qtbot, panel):
    panel.set_architecture("resnet18", 5, 3)
    click_checkbox(qtbot, panel, "layer1")
    click_checkbox(qtbot, panel, "layer3.0.bn2")
    plan = panel.plan()
    assert plan.paths == ["layer1", "layer3.0.bn2"]
    report = reference_report("resnet18", plan, in_channels=3, classes=5)
    assert panel.summary_text() == report.describe()
    assert panel.summary_label.text() == report.describe()


def test_presets(qtbot, panel):
    panel.set_architecture("resnet18", 10, 3)
    assert panel.blocks() == ["layer1", "layer2", "layer3", "layer4"]

    qtbot.mouseClick(panel.head_button, Qt.MouseButton.LeftButton)
    assert panel.plan().to_spec() == "backbone"
    assert panel.head_button.isChecked() and not panel.finetune_button.isChecked()
    assert state(panel, "fc") == CHECKED and state(panel, "layer4") == UNCHECKED

    panel.blocks_spin.setValue(2)
    qtbot.mouseClick(panel.last_button, Qt.MouseButton.LeftButton)
    plan = panel.plan()
    assert plan.paths == ["conv1", "bn1", "layer1", "layer2"]
    assert panel.last_button.isChecked()
    assert panel.summary_text() == reference_report("resnet18", plan, 3).describe()

    # changing N while that preset is active re-applies it
    with qtbot.waitSignal(panel.plan_changed):
        panel.blocks_spin.setValue(1)
    assert panel.plan().paths == ["conv1", "bn1", "layer1", "layer2", "layer3"]

    # a manual edit leaves every preset button up
    click_checkbox(qtbot, panel, "layer4.1")
    assert not any(b.isChecked() for b in (panel.finetune_button, panel.head_button, panel.last_button))

    qtbot.mouseClick(panel.finetune_button, Qt.MouseButton.LeftButton)
    assert panel.plan().to_spec() == "none"
    assert "100.00 %" in panel.summary_text()


def test_last_blocks_of_nested_stages(panel):
    panel.set_architecture("vit_b_16", 10, 3)
    blocks = panel.blocks()
    assert len(blocks) == 12 and blocks[-1] == "encoder.layers.encoder_layer_11"
    panel.unfreeze_last(2)
    plan = panel.plan()
    assert "encoder.layers.encoder_layer_9" in plan.paths
    assert "encoder.layers.encoder_layer_10" not in plan.paths
    assert "encoder" not in plan.paths and "encoder.ln" not in plan.paths
    model = build_model("vit_b_16", 10, device="meta")
    report = apply_freeze(model, plan, find_head_path(model))
    assert panel.summary_text() == report.describe()


def test_batchnorm_policy_checkbox(qtbot, panel):
    panel.set_architecture("smallcnn", 10, 1)
    qtbot.mouseClick(panel.head_button, Qt.MouseButton.LeftButton)
    assert panel.plan().bn_update_frozen is False
    assert "3 frozen BatchNorm layers keep their statistics" in panel.detail_label.text()
    with qtbot.waitSignal(panel.plan_changed) as blocker:
        panel.bn_check.click()
    assert blocker.args[0].bn_update_frozen is True
    assert blocker.args[0].mode == "backbone"


def test_locked_tree_ignores_clicks(qtbot, panel):
    panel.set_architecture("smallcnn", 10, 1)
    panel.set_locked(True)
    with qtbot.assertNotEmitted(panel.plan_changed):
        click_checkbox(qtbot, panel, "features")
        qtbot.mouseClick(panel.head_button, Qt.MouseButton.LeftButton)
    assert state(panel, "features") == CHECKED
    assert panel.plan().to_spec() == "none"
    panel.set_locked(False)
    click_checkbox(qtbot, panel, "features")
    assert state(panel, "features") == UNCHECKED


def test_architecture_change_keeps_preset(panel):
    panel.set_architecture("smallcnn", 10, 1)
    panel.head_button.click()
    panel.set_architecture("resnet18", 4, 3)
    assert panel.plan().to_spec() == "backbone"
    assert "resnet18" in panel.title.text()
    # a custom list that does not exist in the new model falls back to fine-tuning
    panel.set_plan(FreezePlan.parse("layer1,layer2"))
    panel.set_architecture("smallcnn", 4, 1)
    assert panel.plan().to_spec() == "none"


def test_plan_set_before_architecture_is_applied_later(panel):
    panel.set_plan(FreezePlan.parse("backbone", bn_update_frozen=True))
    panel.set_architecture("smallcnn", 3, 1)
    assert panel.plan() == FreezePlan("backbone", [], True)


def test_model_passes_qt_model_checks(qtmodeltester, panel):
    panel.set_architecture("smallcnn", 10, 1)
    qtmodeltester.check(panel.tree_model(), force_py=True)


def test_big_model_timing(qtbot, panel):
    """Printed, not asserted (tests never assert on time)."""
    for name in ("vit_b_16", "vit_h_14", "convnext_large", "regnet_y_128gf"):
        panel.set_architecture(name, 10, 3)
        model = panel.tree_model()
        biggest = max(range(model.rowCount()), key=lambda r: model.items()[model.index(r, 0).internalId()].total)
        start = time.perf_counter()
        model.setData(model.index(biggest, 0), UNCHECKED.value, Qt.ItemDataRole.CheckStateRole)
        toggle = time.perf_counter() - start
        print(f"{name}: tree {1000 * panel.last_build_seconds:.0f} ms, toggle {1000 * toggle:.1f} ms")
        assert panel.plan().mode != "none"
