"""The dataset panel: background loading, classes and counts, drops, errors, thumbnails."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QApplication

from tlgui.core.data.catalog import open_source
from tlgui.ui.base.choices import DatasetChoice, DatasetSummary
from tlgui.ui.pages.train.dataset_panel import DatasetPanel


def make_folder(root: Path, counts: dict[str, int], size=(20, 20), bad: int = 0) -> Path:
    rng = np.random.default_rng(0)
    for name, n in counts.items():
        folder = root / name
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(n):
            pixels = rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
            Image.fromarray(pixels, "RGB").save(folder / f"{i:03d}.png")
    first = root / next(iter(counts))
    for i in range(bad):
        (first / f"broken{i}.png").write_bytes(b"this is not a png")
    return root


@pytest.fixture
def panel(qtbot):
    widget = DatasetPanel()
    qtbot.addWidget(widget)
    widget.resize(520, 700)
    with qtbot.waitSignal(widget.dataset_loaded, timeout=20000):
        widget.show()
    return widget


def test_demo_is_the_default_and_shows_classes(qtbot, panel):
    summary = panel.summary()
    assert isinstance(summary, DatasetSummary)
    assert summary.spec == "demo:target"
    assert panel.choice() == DatasetChoice("demo:target")
    demo = open_source("demo:target")  # the panel shows the core's classes and counts, as they are
    assert summary.classes == tuple(demo.classes) and len(summary.classes) == 6
    assert summary.counts == tuple(np.bincount(demo.labels, minlength=6).tolist())
    assert summary.channels == 1
    assert panel.bars.counts() == dict(zip(summary.classes, summary.counts, strict=True))
    assert f"{len(summary.classes)}</b> classes" in panel.status.text()
    assert not panel.error_label.isVisible()
    qtbot.waitUntil(lambda: panel.thumbnail_count() == 6 * 5, timeout=20000)  # up to 5 per class
    assert panel.thumbnail_classes() == list(demo.classes)


def test_choosing_a_folder_loads_in_background(qtbot, panel, tmp_path):
    root = make_folder(tmp_path / "pets", {"cat": 6, "dog": 5, "fox": 4}, bad=2)
    changes = []
    panel.dataset_changed.connect(changes.append)
    with qtbot.waitSignal(panel.dataset_loaded, timeout=20000) as blocker:
        panel.load_folder(str(root))
        assert panel.is_loading() and panel.summary().spec == "demo:target"  # not opened inline
    summary = blocker.args[0]
    assert [c.data for c in changes] == [str(root)]
    assert summary.classes == ("cat", "dog", "fox")
    assert summary.counts == (6, 5, 4)
    assert summary.skipped == 2
    assert summary.channels == 3
    assert panel.choice().data == str(root)
    assert panel.kind_combo.currentData() == "folder"
    assert "Skipped 2 unreadable file(s)" in panel.warnings_label.text()
    assert panel.warnings_label.isVisible()
    # a few thumbnails per class, decoded off the GUI thread
    qtbot.waitUntil(lambda: panel.thumbnail_count() == 14, timeout=10000)  # up to 5 per class
    assert panel.thumbnail_classes() == ["cat", "dog", "fox"]


def test_dropping_a_folder_loads_it(qtbot, panel, tmp_path):
    root = make_folder(tmp_path / "drop", {"a": 3, "b": 10})
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(root))])
    enter = QDragEnterEvent(
        panel.rect().center(), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier
    )
    QApplication.sendEvent(panel, enter)
    assert enter.isAccepted()
    drop = QDropEvent(
        QPointF(panel.rect().center()), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )
    with qtbot.waitSignal(panel.dataset_loaded, timeout=20000) as blocker:
        QApplication.sendEvent(panel, drop)
    assert blocker.args[0].counts == (3, 10)
    assert "Classes are imbalanced" in panel.warnings_label.text()


def test_dropping_a_file_is_refused(panel, tmp_path):
    file = tmp_path / "note.txt"
    file.write_text("x")
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(file))])
    enter = QDragEnterEvent(
        panel.rect().center(), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier
    )
    QApplication.sendEvent(panel, enter)
    assert not enter.isAccepted()


def test_missing_folder_shows_error_and_keeps_previous_choice(qtbot, panel, tmp_path):
    before = panel.choice()
    missing = tmp_path / "nowhere"
    panel.folder_edit.clear()
    panel._show_kind("folder")
    qtbot.keyClicks(panel.folder_edit, str(missing))
    with qtbot.assertNotEmitted(panel.dataset_loaded, wait=200):
        qtbot.keyClick(panel.folder_edit, Qt.Key.Key_Return)
        qtbot.waitUntil(lambda: panel.error_label.isVisible(), timeout=10000)
    text = panel.error_label.text()
    assert str(missing) in text and "Traceback" not in text
    assert "Still using demo:target" in text
    assert panel.choice() == before
    assert panel.summary().spec == "demo:target"


def test_folder_without_classes_shows_error(qtbot, panel, tmp_path):
    (tmp_path / "flat").mkdir()
    Image.new("RGB", (8, 8)).save(tmp_path / "flat" / "one.png")
    panel.load_folder(str(tmp_path / "flat"))
    qtbot.waitUntil(lambda: panel.error_label.isVisible(), timeout=10000)
    assert "sub-folder" in panel.error_label.text()
    assert panel.choice().data == "demo:target"


def test_validation_split_and_folder(qtbot, panel, tmp_path):
    with qtbot.waitSignal(panel.dataset_changed) as blocker:
        panel.val_split.setValue(30)  # shown as a percentage
    assert blocker.args[0].val_split == pytest.approx(0.3)
    train = make_folder(tmp_path / "train", {"x": 4, "y": 4})
    val = make_folder(tmp_path / "val", {"x": 2, "y": 2})
    with qtbot.waitSignal(panel.dataset_loaded, timeout=20000):
        panel.set_choice(DatasetChoice(str(train), val_data=str(val), val_split=0.3))
    assert panel.choice() == DatasetChoice(str(train), val_data=str(val), val_split=0.3)
    assert panel.val_check.isChecked() and not panel.val_split.isEnabled()
    assert "validation: 4 images" in panel.status.text()
    with qtbot.waitSignal(panel.dataset_changed) as blocker:
        panel.val_check.click()
    assert blocker.args[0].val_data is None


def test_torchvision_source_error_is_inline(qtbot, panel, tmp_path):
    panel.set_choice(DatasetChoice(f"torchvision:MNIST:{tmp_path}"))
    assert panel.kind_combo.currentData() == "torchvision"
    assert panel.tv_name.currentText() == "MNIST" and panel.tv_root.text() == str(tmp_path)
    qtbot.waitUntil(lambda: panel.error_label.isVisible(), timeout=10000)
    assert "MNIST" in panel.error_label.text()
    assert panel.choice().data == "demo:target"


FASHION = Path("/usr/share/datasets/fashion-mnist")


@pytest.mark.skipif(not FASHION.is_dir(), reason="dataset-fashion-mnist is not installed")
def test_idx_folder_is_detected(qtbot, panel):
    with qtbot.waitSignal(panel.dataset_loaded, timeout=60000) as blocker:
        panel.load_folder(str(FASHION))
    summary = blocker.args[0]
    assert len(summary.classes) == 10 and summary.channels == 1
    assert summary.counts == (6000,) * 10  # Fashion-MNIST's training set: 6,000 images per class
    qtbot.waitUntil(lambda: panel.thumbnail_count() == 50, timeout=10000)


def test_locked_panel_refuses_drops(panel, tmp_path):
    panel.set_locked(True)
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(tmp_path))])
    enter = QDragEnterEvent(
        panel.rect().center(), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier
    )
    QApplication.sendEvent(panel, enter)
    assert not enter.isAccepted()
    assert not panel.folder_button.isEnabled()
