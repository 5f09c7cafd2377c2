"""The built-in data set dialog: locating IDX folders (generated, and Debian's Fashion-MNIST
when installed), remembering them, and downloading with a fake opener."""

from __future__ import annotations

import json
import socket
import threading
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFileDialog

from tests.core.test_dataset_download import Server, publish_fake_fashion
from tests.ui.dialog_registry import open_dialogs
from tlgui.core.data.builtin_sets import KNOWN_TORCHVISION
from tlgui.core.data.dataset_download import default_root
from tlgui.core.data.idx import write_idx
from tlgui.paths import config_dir
from tlgui.ui.dialogs.builtin_dataset_dialog import BuiltinDatasetDialog

DEBIAN = Path("/usr/share/datasets/fashion-mnist")







@pytest.fixture(autouse=True)
def no_debian_folder(monkeypatch, request):
    """Tests see only their own folders, unless they ask for the system's one."""
    if "debian" not in request.node.name:
        monkeypatch.setattr("tlgui.core.data.dataset_download.DEBIAN_ROOTS", {})


def idx_folder(folder: Path, train: int = 50, test: int = 12) -> Path:
    rng = np.random.default_rng(3)
    folder.mkdir(parents=True, exist_ok=True)
    write_idx(folder / "train-images-idx3-ubyte.gz", rng.integers(0, 256, (train, 28, 28), dtype=np.uint8))
    write_idx(folder / "train-labels-idx1-ubyte.gz", (np.arange(train) % 10).astype(np.uint8))
    write_idx(folder / "t10k-images-idx3-ubyte", rng.integers(0, 256, (test, 28, 28), dtype=np.uint8))
    write_idx(folder / "t10k-labels-idx1-ubyte", (np.arange(test) % 10).astype(np.uint8))
    return folder


def open_dialog(qtbot, name="FashionMNIST", **kwargs) -> BuiltinDatasetDialog:
    dialog = BuiltinDatasetDialog(name=name, **kwargs)
    open_dialogs.append(dialog)
    qtbot.addWidget(dialog)
    dialog.show()
    # the first lookup reports through a queued signal after its job ends: wait for the
    # status line to leave "Looking for…", not only for the job (read too early under load)
    qtbot.waitUntil(lambda: not dialog.busy() and not dialog.status.text().startswith("Looking for"), timeout=20000)
    return dialog


def locate(qtbot, monkeypatch, dialog, folder):
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", staticmethod(lambda *a, **k: str(folder)))
    with qtbot.waitSignal(dialog.checked, timeout=30000) as blocker:
        qtbot.mouseClick(dialog.locate_button, Qt.MouseButton.LeftButton)
    return blocker.args


def test_offers_what_the_core_supports(qtbot):
    dialog = open_dialog(qtbot)
    names = [dialog.name_combo.itemText(i) for i in range(dialog.name_combo.count())]
    assert names == list(KNOWN_TORCHVISION)
    assert {"MNIST", "FashionMNIST", "KMNIST", "CIFAR10", "CIFAR100", "SVHN", "STL10"} <= set(names)
    assert dialog.name() == "FashionMNIST" and "28×28 grayscale" in dialog.about.text()
    assert "not on this computer yet" in dialog.status.text()
    assert not dialog.use_button.isEnabled()


def test_locate_generated_idx_folder_then_choose(qtbot, monkeypatch, tmp_path):
    folder = idx_folder(tmp_path / "fmnist")
    dialog = open_dialog(qtbot)
    ok, text = locate(qtbot, monkeypatch, dialog, folder)
    assert ok and text == f"Found 50 training and 12 test images in 10 classes in {folder}."
    assert dialog.status.text() == text and dialog.use_button.isEnabled()
    saved = json.loads((config_dir() / "datasets.json").read_text())
    assert saved["roots"] == {"FashionMNIST": str(folder)}
    with qtbot.waitSignal(dialog.dataset_chosen) as blocker:
        qtbot.mouseClick(dialog.use_button, Qt.MouseButton.LeftButton)
    assert blocker.args == [f"torchvision:FashionMNIST:{folder}"]
    # next time it is found without asking
    again = BuiltinDatasetDialog(name="FashionMNIST")
    open_dialogs.append(again)
    qtbot.addWidget(again)
    with qtbot.waitSignal(again.checked, timeout=20000) as blocker:
        again.show()
    assert blocker.args == [True, text]
    again.close()


def test_locate_torchvision_root_layout(qtbot, monkeypatch, tmp_path):
    idx_folder(tmp_path / "root" / "MNIST" / "raw", 30, 10)
    dialog = open_dialog(qtbot, name="MNIST")
    ok, text = locate(qtbot, monkeypatch, dialog, tmp_path / "root")
    assert ok and text.startswith("Found 30 training and 10 test images")
    assert dialog.spec() == f"torchvision:MNIST:{tmp_path / 'root'}"


def test_locating_the_wrong_folder_explains(qtbot, monkeypatch, tmp_path):
    (tmp_path / "empty").mkdir()
    dialog = open_dialog(qtbot, name="CIFAR10")
    ok, text = locate(qtbot, monkeypatch, dialog, tmp_path / "empty")
    assert not ok and text.startswith("Torchvision CIFAR10 files not found") and "Download… can fetch them" in text
    assert "color: #b00020" in dialog.status.styleSheet() and not dialog.use_button.isEnabled()


def test_switching_data_set_ignores_the_stale_check(qtbot, monkeypatch, tmp_path):
    folder = idx_folder(tmp_path / "f")
    dialog = open_dialog(qtbot)
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", staticmethod(lambda *a, **k: str(folder)))
    qtbot.mouseClick(dialog.locate_button, Qt.MouseButton.LeftButton)
    dialog.name_combo.setCurrentText("CIFAR100")  # before the FashionMNIST check came back
    qtbot.waitUntil(lambda: not dialog.busy(), timeout=20000)
    assert dialog.spec() is None and "CIFAR100 is not on this computer yet" in dialog.status.text()


@pytest.mark.skipif(not DEBIAN.is_dir(), reason="apt package dataset-fashion-mnist not installed")
def test_debian_fashion_mnist_is_found(qtbot):
    dialog = BuiltinDatasetDialog(name="FashionMNIST")
    open_dialogs.append(dialog)
    qtbot.addWidget(dialog)
    with qtbot.waitSignal(dialog.checked, timeout=60000) as blocker:
        dialog.show()
    assert blocker.args == [True, f"Found 60,000 training and 10,000 test images in 10 classes in {DEBIAN}."]
    with qtbot.waitSignal(dialog.dataset_chosen) as chosen:
        qtbot.mouseClick(dialog.use_button, Qt.MouseButton.LeftButton)
    assert chosen.args == [f"torchvision:FashionMNIST:{DEBIAN}"]


def test_download_with_fake_server(qtbot, monkeypatch, tmp_path):
    server = Server(publish_fake_fashion(monkeypatch, tmp_path / "made", 40, 10))
    dialog = open_dialog(qtbot, opener=server)
    labels = []
    dialog.progress.bar.valueChanged.connect(lambda _v: labels.append(dialog.progress.label.text()))
    with qtbot.waitSignal(dialog.checked, timeout=30000) as checked:
        with qtbot.waitSignal(dialog.download_finished, timeout=30000) as finished:
            qtbot.mouseClick(dialog.download_button, Qt.MouseButton.LeftButton)
            assert not dialog.download_button.isEnabled() and dialog.progress.isVisible()
    assert finished.args[0] and "downloaded 4 file(s)" in finished.args[1]
    assert checked.args == [True, f"Found 40 training and 10 test images in 10 classes in {default_root()}."]
    assert any("(1 of 4)" in t for t in labels) and any("(4 of 4)" in t for t in labels)
    raw = default_root() / "FashionMNIST" / "raw"
    assert len(list(raw.glob("*.gz"))) == 4 and len(server.requests) == 4
    assert dialog.download_button.isEnabled() and not dialog.progress.isVisible()
    with qtbot.waitSignal(dialog.dataset_chosen) as chosen:
        qtbot.mouseClick(dialog.use_button, Qt.MouseButton.LeftButton)
    assert chosen.args == [f"torchvision:FashionMNIST:{default_root()}"]


def test_download_offline_is_explained_fast(qtbot):
    def offline(request, timeout=None):
        raise urllib.error.URLError(socket.gaierror(-3, "Temporary failure in name resolution"))

    calls = []

    def counted(request, timeout=None):
        calls.append(request)
        offline(request, timeout)

    dialog = open_dialog(qtbot, name="MNIST", opener=counted)
    with qtbot.waitSignal(dialog.download_finished, timeout=10000) as finished:
        qtbot.mouseClick(dialog.download_button, Qt.MouseButton.LeftButton)
    assert len(calls) == 2  # one attempt per MNIST mirror: no retries, no waits
    ok, text = finished.args
    assert not ok and "no network connection?" in text and "Locate folder" in text
    assert dialog.status.text() == text
    qtbot.waitUntil(lambda: dialog.download_button.isEnabled())
    assert not default_root().exists() or not any(default_root().rglob("*.gz"))


def test_download_cancel(qtbot, monkeypatch, tmp_path):
    fake = publish_fake_fashion(monkeypatch, tmp_path / "made", 3000, 10)
    holding, clicked = threading.Event(), threading.Event()

    def hold_midway(response):
        # a quarter into the first file the download waits for the Cancel click: the cancel
        # lands mid-file however slow the machine is, instead of racing a sleep-slowed server
        if response.pos >= len(response.data) // 4 and not clicked.is_set():
            holding.set()
            clicked.wait(30)

    server = Server(fake, on_read=hold_midway)
    dialog = open_dialog(qtbot, opener=server)
    qtbot.mouseClick(dialog.download_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(holding.is_set, timeout=20000)
    assert dialog.progress.isVisible() and dialog.progress.cancel_button.isEnabled()
    with qtbot.waitSignal(dialog.download_finished, timeout=20000) as finished:
        qtbot.mouseClick(dialog.progress.cancel_button, Qt.MouseButton.LeftButton)
        clicked.set()
    assert finished.args == [False, "Download cancelled; nothing more was saved."]
    assert len(server.requests) == 1  # it stopped in the first file, asking for no more
    dialog.wait_idle()
    assert not any(default_root().rglob("*.gz"))


def test_chosen_spec_opens_in_the_dataset_panel(qtbot, monkeypatch, tmp_path):
    """The hook the main window uses: the spec (and its test split for validation) opens."""
    from tlgui.ui.base.choices import DatasetChoice
    from tlgui.ui.pages.train.dataset_panel import DatasetPanel

    panel = DatasetPanel()
    qtbot.addWidget(panel)
    with qtbot.waitSignal(panel.dataset_loaded, timeout=20000):
        panel.show()
    folder = idx_folder(tmp_path / "fmnist")
    dialog = open_dialog(qtbot)
    dialog.dataset_chosen.connect(lambda spec: panel.set_choice(DatasetChoice(spec, val_data=spec)))
    assert locate(qtbot, monkeypatch, dialog, folder)[0]
    with qtbot.waitSignal(panel.dataset_loaded, timeout=20000) as loaded:
        qtbot.mouseClick(dialog.use_button, Qt.MouseButton.LeftButton)
    summary = loaded.args[0]
    assert summary.spec == f"torchvision:FashionMNIST:{folder}"
    assert sum(summary.counts) == 50 and summary.classes[0] == "T-shirt/top" and summary.channels == 1
    assert "validation: 12 images" in panel.status.text()
    panel.wait_idle()
    panel.close()
