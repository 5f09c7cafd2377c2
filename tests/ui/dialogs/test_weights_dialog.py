"""The weights library dialog: listing, importing (right/wrong hash, unknown architecture,
drag and drop), downloading with a fake opener (progress, cancel, offline), choosing."""

from __future__ import annotations

import hashlib
import os
import shutil
import socket
import threading
import time
import urllib.error
import urllib.request
from email.message import Message

import pytest
import torch
import torchvision
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QApplication, QDialogButtonBox, QFileDialog

from tests.ui.dialog_registry import open_dialogs
from tlgui.core.base.checksums import sha256_of
from tlgui.core.library.local import hub_checkpoints_dir
from tlgui.core.models.zoo import SmallCNN, build_model
from tlgui.paths import weights_dir
from tlgui.ui.dialogs.weights_dialog import WeightsLibraryDialog
from tlgui.ui.dialogs.weights_table import PAYLOAD_ROLE, PRESENT_COLUMN, ArchitectureDialog

ARCH = "mobilenet_v3_small"
ENTRY = torchvision.models.MobileNet_V3_Small_Weights.IMAGENET1K_V1
PAYLOAD = os.urandom(2 * 2**20 + 321)
PAYLOAD_SHA = hashlib.sha256(PAYLOAD).hexdigest()







@pytest.fixture(scope="module")
def mobilenet_file(tmp_path_factory):
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("weights") / "mobilenet.pth"
    torch.save(build_model(ARCH, 1000).state_dict(), path)
    return path, sha256_of(path)


def publish(monkeypatch, sha: str) -> str:
    """Make torchvision's mobilenet_v3_small entry point at a file whose hash is ``sha``."""
    name = f"{ARCH}-{sha[:8]}.pth"
    monkeypatch.setattr(ENTRY.value, "url", f"https://download.pytorch.org/models/{name}")
    return name


def open_dialog(qtbot, **kwargs) -> WeightsLibraryDialog:
    dialog = WeightsLibraryDialog(**kwargs)
    open_dialogs.append(dialog)
    qtbot.addWidget(dialog)
    with qtbot.waitSignal(dialog.listed, timeout=20000):
        dialog.show()
    return dialog


def shown_rows(dialog):
    return [dialog.proxy.index(r, 0).data(PAYLOAD_ROLE) for r in range(dialog.proxy.rowCount())]


def finish(qtbot, dialog, action, timeout=20000):
    with qtbot.waitSignal(dialog.operation_finished, timeout=timeout) as blocker:
        action()
    qtbot.waitUntil(lambda: not dialog.busy() and not dialog.progress.isVisible(), timeout=timeout)
    return blocker.args


def test_present_file_is_listed_as_available_and_chosen(qtbot):
    hub = hub_checkpoints_dir()
    hub.mkdir(parents=True)
    (hub / "resnet18-f37072fd.pth").write_bytes(b"x" * 2048)
    dialog = open_dialog(qtbot, architecture="resnet18")
    info = dialog.selected()
    assert (info.architecture, info.entry, info.present) == ("resnet18", "IMAGENET1K_V1", True)
    row = dialog.table.selectionModel().selectedRows()[0].row()
    assert dialog.proxy.index(row, PRESENT_COLUMN).data() == "✔ yes"
    assert dialog.proxy.index(row, 3).data() == "2.0 kB"
    assert dialog.proxy.index(row, 4).data() == "69.8 %"
    assert not dialog.download_button.isEnabled() and dialog.use_button.isEnabled()
    # everything else is listed too, and "only available offline" narrows it to the file
    dialog.search.clear()
    assert len(shown_rows(dialog)) > 100
    qtbot.mouseClick(dialog.only_offline, Qt.MouseButton.LeftButton)
    assert [(r.architecture, r.entry) for r in shown_rows(dialog)] == [("resnet18", "IMAGENET1K_V1")]
    assert "1 on this computer" in dialog.count_label.text()
    with qtbot.waitSignal(dialog.weights_chosen) as blocker:
        qtbot.mouseClick(dialog.use_button, Qt.MouseButton.LeftButton)
    assert blocker.args == ["resnet18", "default"]
    assert not dialog.isVisible()


def test_search_and_sort(qtbot):
    dialog = open_dialog(qtbot)
    qtbot.keyClicks(dialog.search, "resnet 50")
    archs = {r.architecture for r in shown_rows(dialog)}
    assert archs == {"resnet50", "wide_resnet50_2"}
    assert not dialog.use_button.isEnabled()  # nothing on this computer
    dialog.search.clear()
    dialog.table.sortByColumn(5, Qt.SortOrder.DescendingOrder)  # parameters, numerically
    assert shown_rows(dialog)[0].num_params == max(r.num_params or 0 for r in shown_rows(dialog))


def test_import_with_right_hash_then_use(qtbot, monkeypatch, tmp_path, mobilenet_file):
    name = publish(monkeypatch, mobilenet_file[1])
    src = shutil.copyfile(mobilenet_file[0], tmp_path / name)
    monkeypatch.setattr(QFileDialog, "getOpenFileName", staticmethod(lambda *a, **k: (str(src), "")))
    dialog = open_dialog(qtbot)
    with qtbot.waitSignal(dialog.listed, timeout=20000):
        op, ok, text = finish(qtbot, dialog, lambda: qtbot.mouseClick(dialog.import_button, Qt.MouseButton.LeftButton))
    assert (op, ok) == ("import", True)
    assert f"Recognised as torchvision's {ARCH} IMAGENET1K_V1" in text
    assert dialog.message.isVisible() and dialog.message.text() == text
    assert (weights_dir() / name).is_file()
    info = dialog.selected()  # the imported entry is selected after the refresh
    assert (info.architecture, info.present) == (ARCH, True)
    with qtbot.waitSignal(dialog.weights_chosen) as blocker:
        qtbot.mouseClick(dialog.use_button, Qt.MouseButton.LeftButton)
    assert blocker.args == [ARCH, "default"]


def test_import_with_wrong_hash_is_refused(qtbot, monkeypatch, tmp_path, mobilenet_file):
    src = shutil.copyfile(mobilenet_file[0], tmp_path / f"{ARCH}-00000000.pth")
    dialog = open_dialog(qtbot)
    op, ok, text = finish(qtbot, dialog, lambda: dialog.import_file(str(src)))
    assert not ok and "checksum does not match" in text
    assert "color: #b00020" in dialog.message.styleSheet()
    assert dialog.import_button.isEnabled() and not dialog.progress.isVisible()
    assert not weights_dir().exists() or not any(weights_dir().rglob("*.pth"))


def test_unknown_architecture_is_asked_then_imported(qtbot, monkeypatch, tmp_path):
    import tlgui.core.library.importing as library  # import_weights looks recognise_state up here
    from tlgui.core.library.recognise import Recognition

    monkeypatch.setattr(
        library, "recognise_state",
        lambda *a, **k: Recognition(None, reason="its 8 layers match no known architecture"),
    )
    src = tmp_path / "mystery.pth"
    torch.save(SmallCNN(num_classes=4, in_channels=1).state_dict(), src)
    dialog = open_dialog(qtbot)
    op, ok, text = finish(qtbot, dialog, lambda: dialog.import_file(str(src)))
    assert not ok and "Could not tell which architecture mystery.pth is for" in text
    qtbot.waitUntil(lambda: dialog.findChild(ArchitectureDialog) is not None)
    ask = dialog.findChild(ArchitectureDialog)
    qtbot.waitUntil(ask.isVisible)
    ok_button = ask.buttons.button(QDialogButtonBox.StandardButton.Ok)
    assert not ok_button.isEnabled()
    qtbot.keyClicks(ask.combo.lineEdit(), "smallcnn")
    assert ok_button.isEnabled()
    with qtbot.waitSignal(dialog.listed, timeout=20000):
        op, ok, text = finish(qtbot, dialog, lambda: qtbot.mouseClick(ok_button, Qt.MouseButton.LeftButton))
    assert ok and "Recognised as smallcnn weights (4 classes)" in text and "custom" in text
    info = dialog.selected()
    assert info.architecture == "smallcnn" and info.path.endswith(".pth")
    with qtbot.waitSignal(dialog.weights_chosen) as blocker:
        qtbot.mouseClick(dialog.use_button, Qt.MouseButton.LeftButton)
    assert blocker.args == ["smallcnn", info.path]


def test_dropping_a_weight_file_imports_it(qtbot, monkeypatch, tmp_path, mobilenet_file):
    name = publish(monkeypatch, mobilenet_file[1])
    src = shutil.copyfile(mobilenet_file[0], tmp_path / name)
    dialog = open_dialog(qtbot)
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(src))])
    centre = dialog.rect().center()
    enter = QDragEnterEvent(centre, Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                            Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(dialog, enter)
    assert enter.isAccepted()
    drop = QDropEvent(QPointF(centre), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                      Qt.KeyboardModifier.NoModifier)
    op, ok, text = finish(qtbot, dialog, lambda: QApplication.sendEvent(dialog, drop))
    assert ok and (weights_dir() / name).is_file()
    text_file = tmp_path / "notes.txt"
    text_file.write_text("x")
    mime.setUrls([QUrl.fromLocalFile(str(text_file))])
    enter = QDragEnterEvent(centre, Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                            Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(dialog, enter)
    assert not enter.isAccepted()


class SlowResponse:
    """``hold_after``: after this many bytes, reads wait for ``release`` (set by the test),
    so a Cancel lands mid-file however slow the machine is; ``holding`` says it got there."""

    def __init__(self, data: bytes, delay: float = 0.0, hold_after: int | None = None):
        self.data, self.pos, self.delay = data, 0, delay
        self.headers = Message()
        self.headers["Content-Length"] = str(len(data))
        self.hold_after = hold_after
        self.holding, self.release = threading.Event(), threading.Event()

    def read(self, n: int) -> bytes:
        time.sleep(self.delay)
        if self.hold_after is not None and self.pos >= self.hold_after and not self.release.is_set():
            self.holding.set()
            self.release.wait(30)
        block = self.data[self.pos : self.pos + min(n, 64 * 1024)]
        self.pos += len(block)
        return block

    def close(self):
        pass


def select_entry(qtbot, dialog):
    dialog.search.setText(ARCH)
    assert dialog.select(ARCH, "IMAGENET1K_V1")
    assert dialog.download_button.isEnabled() and not dialog.use_button.isEnabled()


def test_download_shows_progress_then_succeeds(qtbot, monkeypatch):
    name = publish(monkeypatch, PAYLOAD_SHA)
    requests = []

    def opener(request, timeout=None):
        requests.append((request.full_url, timeout))
        return SlowResponse(PAYLOAD, delay=0.02)

    dialog = open_dialog(qtbot, opener=opener)
    select_entry(qtbot, dialog)
    seen = []
    dialog.progress.bar.valueChanged.connect(seen.append)
    with qtbot.waitSignal(dialog.listed, timeout=20000):
        op, ok, text = finish(qtbot, dialog,
                              lambda: qtbot.mouseClick(dialog.download_button, Qt.MouseButton.LeftButton))
    assert requests == [(ENTRY.url, WeightsLibraryDialog.download_timeout)]
    assert (op, ok) == ("download", True) and f"Downloaded {name}" in text
    assert (weights_dir() / name).read_bytes() == PAYLOAD
    assert len([v for v in seen if v > 0]) >= 2  # the bar moved while bytes arrived
    assert dialog.selected().present and dialog.use_button.isEnabled()


def test_download_cancel_midway(qtbot, monkeypatch):
    publish(monkeypatch, PAYLOAD_SHA)
    response = SlowResponse(PAYLOAD, hold_after=len(PAYLOAD) // 2)
    dialog = open_dialog(qtbot, opener=lambda request, timeout=None: response)
    select_entry(qtbot, dialog)
    qtbot.mouseClick(dialog.download_button, Qt.MouseButton.LeftButton)
    assert dialog.progress.isVisible() and not dialog.import_button.isEnabled()
    qtbot.waitUntil(response.holding.is_set, timeout=20000)  # half the file is in
    with qtbot.waitSignal(dialog.operation_finished, timeout=20000) as blocker:
        qtbot.mouseClick(dialog.progress.cancel_button, Qt.MouseButton.LeftButton)
        response.release.set()
    assert blocker.args[:2] == ["download", False] and "cancelled" in blocker.args[2]
    assert len(PAYLOAD) // 2 <= response.pos < len(PAYLOAD)  # stopped mid-file, after the Cancel
    assert not weights_dir().exists() or not any(weights_dir().iterdir())
    dialog.wait_idle()


def test_download_offline_message_is_fast(qtbot, monkeypatch):
    publish(monkeypatch, PAYLOAD_SHA)

    def offline(request, timeout=None):
        raise urllib.error.URLError(socket.gaierror(-3, "Temporary failure in name resolution"))

    calls = []

    def counted(request, timeout=None):
        calls.append(request)
        offline(request, timeout)

    dialog = open_dialog(qtbot, opener=counted)
    select_entry(qtbot, dialog)
    op, ok, text = finish(qtbot, dialog, dialog.download_selected, timeout=10000)
    assert len(calls) == 1  # one attempt tells it is offline: no retries
    assert not ok and "Cannot reach download.pytorch.org: no network connection?" in text
    assert "Import file…" in text and "tlgui weights import" not in text
    assert dialog.download_button.isEnabled() and dialog.import_button.isEnabled()  # try again


def test_download_resolver_that_never_answers(qtbot, monkeypatch):
    publish(monkeypatch, PAYLOAD_SHA)
    release = threading.Event()

    def hang(request, timeout=None):
        release.wait(20)
        raise urllib.error.URLError("late")

    monkeypatch.setattr(WeightsLibraryDialog, "download_timeout", 0.5)
    dialog = open_dialog(qtbot, opener=hang)
    select_entry(qtbot, dialog)
    try:
        op, ok, text = finish(qtbot, dialog, dialog.download_selected, timeout=10000)
        answered_while_hanging = not release.is_set()  # the resolver was never waited for
    finally:
        release.set()
    assert answered_while_hanging
    assert not ok and "no answer within 0.5 s" in text


def test_architecture_without_published_weights_is_explained(qtbot):
    dialog = open_dialog(qtbot, architecture="smallcnn")
    assert dialog.proxy.rowCount() == 0
    assert "torchvision publishes no pretrained weights for smallcnn" in dialog.message.text()
    dialog.search.clear()
    assert dialog.proxy.rowCount() > 100


def test_a_non_default_entry_is_chosen_by_its_path(qtbot):
    from tlgui.core.library.catalog import find_entry
    from tlgui.core.library.local import weight_file_name

    name = weight_file_name(find_entry("resnet50", "IMAGENET1K_V1"))  # V2 is the default
    hub = hub_checkpoints_dir()
    hub.mkdir(parents=True)
    (hub / name).write_bytes(b"x")
    dialog = open_dialog(qtbot, architecture="resnet50")
    assert dialog.select("resnet50", "IMAGENET1K_V1") and dialog.use_button.isEnabled()
    with qtbot.waitSignal(dialog.weights_chosen) as blocker:
        qtbot.mouseClick(dialog.use_button, Qt.MouseButton.LeftButton)
    assert blocker.args == ["resnet50", str(hub / name)]
