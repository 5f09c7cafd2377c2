"""The review grid accepts many images at once (picked = bulk), and "Train on these labels" fills
the Train page with the labels CSV and switches to it."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt

from tests.ui.pages.label.conftest import open_and_wait, press_class, write_demo_folder
from tests.ui.pages.label.test_label_keys import add_class, csv_rows
from tests.ui.shell.test_workspace import pages

CLASSES = ("star", "arrow", "crescent")


def label_by_truth(qtbot, page, truth, count: int) -> None:
    page.image.setFocus()
    for _ in range(count):
        press_class(qtbot, page, truth, CLASSES)


def test_review_grid_accepts_the_selected_images_in_one_go(qtbot, page, demo_folder):
    folder, truth = demo_folder
    open_and_wait(qtbot, page, folder)
    for name in CLASSES:
        add_class(qtbot, page, name)
    label_by_truth(qtbot, page, truth, 6)
    qtbot.mouseClick(page.tabs.tabBar(), Qt.MouseButton.LeftButton,
                     pos=page.tabs.tabBar().tabRect(1).center())
    review = page.review
    assert page.tabs.currentWidget() is review
    qtbot.keyClick(page.image, "1")  # number keys do nothing while the grid shows
    assert len(csv_rows(qtbot, page)) == 6
    review.class_combo.setCurrentText("star")
    with qtbot.waitSignal(page.ranked_arrived, timeout=60000):
        qtbot.mouseClick(review.show_button, Qt.MouseButton.LeftButton)
    shown = [p.path for p in review.model.picks]
    assert shown and not set(shown) & set(page.labels)
    confidences = [p.confidence for p in review.model.picks]
    assert confidences == sorted(confidences, reverse=True)
    view = review.view
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=view.visualRect(review.model.index(0)).center())
    for row in (1, 2):
        qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.ControlModifier,
                         pos=view.visualRect(review.model.index(row)).center())
    assert len(review.selected()) == 3 and review.accept_button.text() == "Accept 3 selected as star"
    qtbot.mouseClick(review.accept_button, Qt.MouseButton.LeftButton)
    rows = {r["path"]: r for r in csv_rows(qtbot, page)}
    for path in shown[:3]:
        assert rows[path]["label"] == "star" and rows[path]["picked"] == "bulk" and rows[path]["suggested"] == "star"
    assert len(rows) == 9 and not set(shown[:3]) & {p.path for p in review.model.picks}
    assert page.progress_view.count_label.text() == f"Labelled 9 of {len(truth)}"
    assert not {p.path for p in page.queue.queued()} & set(shown[:3])
    # the thumbnails load lazily, off the GUI thread
    qtbot.waitUntil(lambda: review.cache.decoded > 0, timeout=20000)
    page.wait_idle()


def test_train_on_these_labels_fills_the_train_page(qtbot, main_window, tmp_path):
    ws = main_window.workspace
    page = ws.label_page
    tabs = pages(main_window)
    assert tabs.tabText(tabs.indexOf(page)) == "Label"
    folder = tmp_path / "photos"
    truth = write_demo_folder(folder, per_class=4, classes=2)
    tabs.setCurrentWidget(page)
    assert page.backbone.weights == main_window.model_panel.choice().weights  # the Train page's model
    open_and_wait(qtbot, page, folder)
    assert main_window.settings.label_folder == str(folder.resolve())
    add_class(qtbot, page, "star")
    add_class(qtbot, page, "arrow")
    page.image.setFocus()
    for _ in range(6):
        press_class(qtbot, page, truth, ("star", "arrow"))
    qtbot.mouseClick(page.train_button, Qt.MouseButton.LeftButton)
    assert tabs.currentIndex() == 0
    assert main_window.left_tabs.currentWidget() is main_window.dataset_panel
    panel = main_window.dataset_panel
    qtbot.waitUntil(lambda: panel.choice().data == page.opened.csv_path and not panel.is_loading(), timeout=20000)
    assert panel.choice().val_data is None
    assert sorted(panel.summary().classes) == ["arrow", "star"] and sum(panel.summary().counts) == 6
    config = main_window.build_config()
    assert config.data == page.opened.csv_path
    page.wait_idle()


def test_export_copies_the_labelled_images_into_class_folders(qtbot, page, demo_folder, tmp_path):
    folder, truth = demo_folder
    open_and_wait(qtbot, page, folder)
    for name in CLASSES:
        add_class(qtbot, page, name)
    assert not page.export_button.isEnabled()
    label_by_truth(qtbot, page, truth, 4)
    given = dict(page.labels)
    out = tmp_path / "exported"
    with qtbot.waitSignal(page.exported, timeout=20000):
        page.export_to(str(out))
    copied = sorted((p.parent.name, p.name) for p in out.rglob("*.png"))
    assert copied == sorted((label, Path(path).name) for path, label in given.items())
    assert all(Path(p).is_file() for p in truth)  # the originals stay
    assert page.status_label.text().startswith("Copied 4 image(s)")
    page.wait_idle()
