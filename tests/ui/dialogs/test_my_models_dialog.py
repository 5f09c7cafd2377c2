"""My models: a tiny real run is listed (with a damaged file next to it), searched,
added from another folder, and handed on as the start of the next training."""

from __future__ import annotations

import os
import shutil

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFileDialog

from tests.ui.dialog_registry import open_dialogs
from tlgui import paths
from tlgui.ui.base.choices import ModelChoice
from tlgui.ui.dialogs.my_models_dialog import MyModelsDialog
from tlgui.ui.dialogs.weights_table import PAYLOAD_ROLE


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    """One epoch of smallcnn on the demo data (a few seconds), trained once per module."""
    from tlgui.core.base.config import TrainConfig
    from tlgui.core.training.loop import train

    home = tmp_path_factory.mktemp("train_home")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TLGUI_HOME", str(home))
        patch.setenv("TORCH_HOME", str(home / "torch"))
        out = home / "shapes-run"
        result = train(TrainConfig(data="demo:target", val_data="demo:target", model="smallcnn", epochs=1,
                                   out=str(out)))
    assert (out / "model.pt").is_file(), result
    return out


def put_run(run, folder, name):
    target = folder / name
    shutil.copytree(run, target)
    return target / "model.pt"


def open_dialog(qtbot, **kwargs) -> MyModelsDialog:
    dialog = MyModelsDialog(**kwargs)
    open_dialogs.append(dialog)
    qtbot.addWidget(dialog)
    with qtbot.waitSignal(dialog.listed, timeout=20000):
        dialog.show()
    return dialog


def rows(dialog):
    model = dialog.proxy
    return [[model.index(r, c).data() for c in range(model.columnCount())] for r in range(model.rowCount())]


def test_lists_a_trained_run_and_a_damaged_file(qtbot, trained_run):
    path = put_run(trained_run, paths.runs_dir(), "mnist-digits")
    broken = paths.models_dir() / "broken" / "model.pt"
    broken.parent.mkdir(parents=True)
    broken.write_bytes(b"not a model at all")
    os.utime(broken, (1, 1))  # oldest: listed last
    dialog = open_dialog(qtbot)
    listed = rows(dialog)
    assert [r[0] for r in listed] == ["mnist-digits", "broken"]
    name, arch, data, classes, accuracy, date, problem = listed[0]
    assert (arch, data, problem) == ("smallcnn", "demo:target", "")
    assert int(classes) >= 2 and accuracy.endswith(" %") and date[:2] == "20"
    assert listed[1][6] == "Not a PyTorch weight file (it is neither a zip archive nor a pickle)"
    assert dialog.count_label.text() == "2 model(s)"
    # the usable one is selected, with its details
    assert dialog.selected().path == str(path) and dialog.use_button.isEnabled()
    assert "trained on <code>demo:target</code>, started from random weights" in dialog.details.text()
    dialog.table.selectRow(1)
    assert not dialog.use_button.isEnabled() and "cannot be used" in dialog.details.text()
    qtbot.keyClicks(dialog.search, "digits")
    assert [r[0] for r in rows(dialog)] == ["mnist-digits"] and dialog.count_label.text() == "1 of 2 shown"


def test_start_from_this_model_sets_the_model_panel(qtbot, trained_run):
    """The mission's workflow: a model trained on one data set becomes the start of the next."""
    from tlgui.ui.pages.train.model_panel import ModelPanel

    path = put_run(trained_run, paths.runs_dir(), "mnist")
    panel = ModelPanel()
    qtbot.addWidget(panel)
    dialog = open_dialog(qtbot)
    dialog.model_chosen.connect(lambda arch, weights: panel.set_choice(ModelChoice(arch, weights)))
    assert dialog.select_path(str(path))
    with qtbot.waitSignal(dialog.model_chosen) as blocker:
        qtbot.mouseClick(dialog.use_button, Qt.MouseButton.LeftButton)
    assert blocker.args == ["smallcnn", str(path)]
    assert panel.choice() == ModelChoice("smallcnn", str(path))
    assert not dialog.isVisible()
    panel.wait_idle()
    panel.close()


def test_add_folder(qtbot, monkeypatch, tmp_path, trained_run):
    elsewhere = tmp_path / "usb-stick"
    put_run(trained_run, elsewhere, "from-the-lab")
    dialog = open_dialog(qtbot)
    assert rows(dialog) == [] and dialog.count_label.text() == "No models yet"
    assert not dialog.use_button.isEnabled()
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", staticmethod(lambda *a, **k: str(elsewhere)))
    with qtbot.waitSignal(dialog.listed, timeout=20000):
        qtbot.mouseClick(dialog.add_button, Qt.MouseButton.LeftButton)
    assert [r[0] for r in rows(dialog)] == ["from-the-lab"]
    assert dialog.extra_dirs() == [str(elsewhere)]
    assert dialog.proxy.index(0, 0).data(PAYLOAD_ROLE).architecture == "smallcnn"
    with qtbot.waitSignal(dialog.model_chosen) as blocker:
        dialog.table.doubleClicked.emit(dialog.proxy.index(0, 1))
    assert blocker.args == ["smallcnn", str(elsewhere / "from-the-lab" / "model.pt")]
