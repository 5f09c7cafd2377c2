"""The export dialog: .pt2 (the default), TorchScript (marked deprecated) and bundle made in the background,
with the check."""

from __future__ import annotations

import warnings

import pytest
import torch
from PySide6.QtCore import Qt

from tlgui.ui.dialogs.export_dialog import ExportDialog


@pytest.fixture(scope="module")
def model_path(tmp_path_factory):
    from tlgui.core.base.config import TrainConfig
    from tlgui.core.training.loop import train

    out = tmp_path_factory.mktemp("export") / "run"
    train(TrainConfig(data="demo:target", model="smallcnn", epochs=1, device="cpu", out=str(out)))
    return out / "model.pt"


@pytest.fixture
def dialog(qtbot, model_path):
    widget = ExportDialog(str(model_path))
    qtbot.addWidget(widget)
    widget.show()
    yield widget
    assert widget.wait_idle(60000)


def test_pt2_is_the_default_and_its_export_reloads_with_any_batch(qtbot, dialog, tmp_path):
    assert dialog.objectName() == "exportDialog"
    assert dialog.fmt() == "pt2" and dialog.target_edit.text().endswith("model.pt2")
    target = tmp_path / "out" / "classifier.pt2"
    dialog.target_edit.setText(str(target))
    with qtbot.waitSignal(dialog.exported, timeout=60000) as blocker:
        qtbot.mouseClick(dialog.export_button, Qt.MouseButton.LeftButton)
    result = blocker.args[0]
    assert result.format == "pt2" and result.path == str(target) and target.is_file() and result.faithful
    assert "Check passed" in dialog.status.text() and "batches of 1 and 5" in dialog.status.text()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        program = torch.export.load(str(target)).module()
    assert not [w for w in caught if "deprecat" in str(w.message).lower()]
    for n in (1, 5):
        assert program(torch.zeros(n, 1, 28, 28)).shape == (n, 6)


def test_torchscript_is_marked_deprecated(qtbot, dialog, tmp_path):
    notes = [label.text() for label in dialog.findChildren(type(dialog.status))]
    assert any("Deprecated by PyTorch: prefer PyTorch (.pt2) or ONNX" in text for text in notes)
    qtbot.mouseClick(dialog.format_buttons["torchscript"], Qt.MouseButton.LeftButton)
    assert dialog.target_edit.text().endswith("model.ts")
    target = tmp_path / "out" / "classifier.ts"
    dialog.target_edit.setText(str(target))
    with qtbot.waitSignal(dialog.exported, timeout=60000) as blocker:
        qtbot.mouseClick(dialog.export_button, Qt.MouseButton.LeftButton)
    result = blocker.args[0]
    assert result.path == str(target) and target.is_file()
    assert result.faithful
    assert "Check passed" in dialog.status.text() and str(target) in dialog.status.text()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch.jit's deprecation notice
        scripted = torch.jit.load(str(target))
    assert scripted(torch.zeros(2, 1, 28, 28)).shape == (2, 6)


def test_bundle_export_and_format_switch(qtbot, dialog, tmp_path):
    qtbot.mouseClick(dialog.format_buttons["bundle"], Qt.MouseButton.LeftButton)
    assert dialog.fmt() == "bundle" and dialog.target_edit.text().endswith("model-bundle")
    dialog.target_edit.setText(str(tmp_path / "bundle"))
    with qtbot.waitSignal(dialog.exported, timeout=60000) as blocker:
        qtbot.mouseClick(dialog.export_button, Qt.MouseButton.LeftButton)
    names = sorted(p.name for p in (tmp_path / "bundle").iterdir())
    assert names == ["README.md", "labels.json", "model.pt2", "model.ts", "pixels.py", "predict.py",
                     "preprocessing.json"]
    assert blocker.args[0].format == "bundle" and "predict.py" in dialog.status.text()


def test_export_error_is_a_sentence(qtbot, dialog, tmp_path):
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "other.txt").write_text("x")
    dialog.set_format("bundle")
    dialog.target_edit.setText(str(tmp_path / "full"))
    qtbot.mouseClick(dialog.export_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: bool(dialog.last_error), timeout=30000)
    assert "not empty" in dialog.status.text() and "Traceback" not in dialog.status.text()
    assert dialog.export_button.isEnabled()


def test_onnx_disabled_without_the_packages(qtbot, model_path, monkeypatch):
    import tlgui.core.results.export as export

    monkeypatch.setattr(export, "onnx_available", lambda: False)
    widget = ExportDialog(str(model_path))
    qtbot.addWidget(widget)
    assert not widget.format_buttons["onnx"].isEnabled()
    assert "install tlgui[export]" in widget.findChild(type(widget.status), "onnxMissingLabel").text()


def test_an_existing_file_is_replaced_only_when_confirmed(qtbot, dialog, tmp_path, monkeypatch):
    dialog.set_format("torchscript")
    target = tmp_path / "classifier.ts"
    target.write_bytes(b"an earlier export")
    dialog.target_edit.setText(str(target))
    asked = []
    monkeypatch.setattr(dialog, "confirm_replace", lambda existing: asked.append(existing) or False)
    qtbot.mouseClick(dialog.export_button, Qt.MouseButton.LeftButton)
    assert asked == [target] and target.read_bytes() == b"an earlier export"
    assert "already exists" in dialog.status.text() and not dialog.busy()
    monkeypatch.setattr(dialog, "confirm_replace", lambda existing: True)
    with qtbot.waitSignal(dialog.exported, timeout=60000):
        qtbot.mouseClick(dialog.export_button, Qt.MouseButton.LeftButton)
    assert target.read_bytes() != b"an earlier export"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert torch.jit.load(str(target))(torch.zeros(1, 1, 28, 28)).shape == (1, 6)


def test_the_model_being_exported_is_never_replaced(qtbot, dialog, model_path, monkeypatch):
    before = model_path.read_bytes()
    dialog.target_edit.setText(str(model_path))
    monkeypatch.setattr(dialog, "confirm_replace", lambda existing: True)
    qtbot.mouseClick(dialog.export_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "the model being exported" in dialog.status.text(), timeout=60000)
    assert model_path.read_bytes() == before
