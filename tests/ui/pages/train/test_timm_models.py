"""timm architectures in the model panel: search, pick, weights marked, layer tree shown."""

from __future__ import annotations

import os

import pytest
from PySide6.QtCore import QPoint, Qt

pytest.importorskip("timm", reason="timm is not installed (pip install 'tlgui[timm]')")

from tests.core.hub_layout import make_hub_model  # noqa: E402
from tlgui.ui.base.choices import ModelChoice  # noqa: E402
from tlgui.ui.pages.train.timm_list import NAME_ROLE, ON_THIS_COMPUTER  # noqa: E402

MODEL = "mobilenetv3_small_050"


@pytest.fixture
def hub(tmp_path, monkeypatch):
    cache = tmp_path / "hub"
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    make_hub_model(cache, MODEL, tag="lamb_in1k", pretrained_cfg={"input_size": [3, 96, 96]})
    return cache


def click_timm_row(qtbot, panel, name: str) -> None:
    view = panel.timm_architectures.view
    index = panel.timm_architectures.proxy_index(name)
    assert index.isValid(), f"{name} is not shown"
    view.scrollTo(index)
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=view.visualRect(index).center())


def test_search_pick_a_timm_model_and_see_its_layers(main_window, qtbot, hub, tmp_path):
    w = main_window
    panel = w.model_panel
    panel.refresh()  # the cache was made after the window looked
    qtbot.waitUntil(lambda: not panel._runner.busy(), timeout=10000)
    tabs = panel.source_tabs
    tabs.setCurrentWidget(panel.timm_architectures)
    timm_list = panel.timm_architectures
    assert f"timm:{MODEL}" in timm_list.present_names()
    qtbot.keyClicks(timm_list.search, "mobilenetv3 small 050")
    shown = timm_list.visible_names()
    assert shown and all("mobilenetv3_small_050" in n for n in shown)
    row = timm_list.proxy_index(f"timm:{MODEL}")
    assert row.siblingAtColumn(1).data() == ON_THIS_COMPUTER
    with qtbot.waitSignal(panel.selection_changed, timeout=10000):
        click_timm_row(qtbot, panel, f"timm:{MODEL}")
    # weights found in the hub cache: the panel starts from them, and says which tag
    assert panel.choice() == ModelChoice(f"timm:{MODEL}", "default")
    assert panel.radio_default.isChecked()
    assert "available offline" in panel.pretrained_status.text() and "lamb_in1k" in panel.pretrained_status.text()
    assert "timm" in panel.info.text()
    # the layer tree shows the timm model; "head" trains timm's classifier only
    layers = w.layer_panel
    qtbot.waitUntil(lambda: layers.tree_model().item("classifier") is not None, timeout=20000)
    assert layers.tree_model().item("blocks") is not None
    layers.head_button.click()
    assert layers.plan().mode == "backbone"
    # head only: exactly the classifier's parameters train, of all the model's
    tree = layers.tree_model()
    head, everything = tree.item("classifier").total, tree.items()[0].total
    assert layers.summary_text().startswith(f"Trainable: {head:,} of {everything:,} parameters")
    assert 0 < head < everything
    assert layers.blocks()[-1] == "blocks.5"
    # "unfreeze the last 1 block": blocks.5 and everything after it (conv_head, classifier) train
    layers.unfreeze_last(1)
    from tlgui.core.models.layers import apply_freeze
    from tlgui.core.models.zoo import build_model, find_head_path

    model = build_model(f"timm:{MODEL}", 6, device="meta")
    apply_freeze(model, layers.plan(), find_head_path(model))
    grads = {n: p.requires_grad for n, p in model.named_parameters()}
    assert grads["blocks.5.0.conv.weight"] and grads["conv_head.weight"] and grads["classifier.weight"]
    assert not grads["blocks.4.0.conv_pw.weight"] and not grads["conv_stem.weight"]
    layers.head_button.click()
    os.makedirs(tmp_path / "shots", exist_ok=True)
    panel.grab().save(str(tmp_path / "shots" / "timm_panel.png"))
    if os.environ.get("TLGUI_SCREENSHOTS"):
        panel.grab().save(os.path.join(os.environ["TLGUI_SCREENSHOTS"], "timm_panel.png"))
        w.grab().save(os.path.join(os.environ["TLGUI_SCREENSHOTS"], "timm_window.png"))
    # a torchvision pick clears the timm choice, and back
    tabs.setCurrentWidget(panel.architectures)
    panel.search.setText("resnet18")
    with qtbot.waitSignal(panel.selection_changed, timeout=10000):
        panel.architectures._select_first_match()
    assert panel.choice().architecture == "resnet18"
    assert not timm_list.view.selectionModel().hasSelection()
    tabs.setCurrentWidget(timm_list)
    with qtbot.waitSignal(panel.selection_changed, timeout=10000):
        click_timm_row(qtbot, panel, f"timm:{MODEL}")
    assert panel.choice().architecture == f"timm:{MODEL}"


def test_only_models_with_weights_filter(main_window, qtbot, hub):
    panel = main_window.model_panel
    panel.refresh()
    qtbot.waitUntil(lambda: not panel._runner.busy(), timeout=10000)
    panel.source_tabs.setCurrentWidget(panel.timm_architectures)
    timm_list = panel.timm_architectures
    box = timm_list.only_present
    qtbot.mouseClick(box, Qt.MouseButton.LeftButton, pos=QPoint(8, box.height() // 2))
    assert timm_list.visible_names() == [f"timm:{MODEL}"]
    assert timm_list.proxy_index(f"timm:{MODEL}").data(NAME_ROLE) == f"timm:{MODEL}"
    assert "1 with weights on this computer" in timm_list.note.text()


def test_library_dialog_imports_a_timm_safetensors_file(qtbot, hub, tmp_path):
    import safetensors.torch
    import timm
    import torch

    from tests.ui.dialog_registry import open_dialogs
    from tlgui.ui.dialogs.weights_dialog import WeightsLibraryDialog

    torch.manual_seed(0)
    src = tmp_path / "resnet10t-finetuned.safetensors"
    safetensors.torch.save_file(timm.create_model("resnet10t", num_classes=4).state_dict(), str(src))
    dialog = WeightsLibraryDialog()
    open_dialogs.append(dialog)
    qtbot.addWidget(dialog)
    dialog.show()
    with qtbot.waitSignal(dialog.operation_finished, timeout=60000) as blocker:
        dialog.import_file(str(src))
    qtbot.waitUntil(lambda: not dialog.busy(), timeout=20000)
    _op, ok, text = blocker.args
    assert ok and "Recognised as timm:resnet10t weights (4 classes)" in text
    assert text.rstrip(".").endswith(".safetensors")


def test_layer_tree_checkboxes_and_counts_for_a_timm_model(qtbot):
    """Clicking the freeze checkboxes of a timm model's layers: each row's parameter count is its
    module's, and the plan and summary are what apply_freeze makes of the same model."""
    from tests.ui.widgets.test_layer_tree import (
        CHECKED,
        PARTIAL,
        UNCHECKED,
        click_checkbox,
        index_of,
        reference_report,
        state,
    )
    from tlgui.core.models.zoo import build_model
    from tlgui.ui.widgets.layer_tree import LayerTreePanel

    panel = LayerTreePanel()
    qtbot.addWidget(panel)
    panel.resize(760, 560)
    panel.show()
    qtbot.waitExposed(panel)
    panel.set_architecture(f"timm:{MODEL}", 5, 3)
    model = build_model(f"timm:{MODEL}", 5, device="meta")
    for path in ("conv_stem", "blocks", "blocks.2", "conv_head", "classifier"):
        expected = sum(p.numel() for p in model.get_submodule(path).parameters())
        assert panel.tree_model().item(path).total == expected, path
        assert index_of(panel, path).siblingAtColumn(2).data() == f"{expected:,}"
    assert state(panel, "blocks") == CHECKED
    click_checkbox(qtbot, panel, "conv_stem")
    click_checkbox(qtbot, panel, "blocks.2")
    assert state(panel, "conv_stem") == UNCHECKED and state(panel, "blocks") == PARTIAL
    plan = panel.plan()
    assert plan.paths == ["conv_stem", "blocks.2"]
    report = reference_report(f"timm:{MODEL}", plan, in_channels=3, classes=5)
    assert panel.summary_text() == report.describe()
