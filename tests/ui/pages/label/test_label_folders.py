"""Folders as they come: a broken image (its reason shows, no crash) and a big folder (it opens
at once: listed, counted, only the pictures shown are decoded)."""

from __future__ import annotations

import threading

from PySide6.QtCore import Qt

from tests.ui.pages.label.conftest import open_and_wait, write_demo_folder
from tlgui.ui.pages.label import jobs


def test_a_broken_image_is_listed_with_its_reason_and_never_offered(qtbot, page, tmp_path):
    folder = tmp_path / "with a broken one"
    write_demo_folder(folder, per_class=3, classes=2)
    broken = folder / "broken.png"
    broken.write_bytes(b"this is not a png")
    open_and_wait(qtbot, page, folder)
    skipped = page.progress_view.skipped_label
    assert skipped.isVisible() and "broken.png" in skipped.text() and "not an image" in skipped.text()
    assert str(broken.resolve()) not in {p.path for p in page.queue.queued()}
    assert "Traceback" not in page.error_label.text()
    page.wait_idle()


def test_a_missing_folder_is_one_line_naming_it(qtbot, page, tmp_path):
    missing = tmp_path / "no such folder"
    with qtbot.waitSignal(page.failed, timeout=20000) as failed:
        page.folder_edit.setText(str(missing))
        qtbot.keyClick(page.folder_edit, Qt.Key.Key_Return)
    assert str(missing) in failed.args[0] and "\n" not in failed.args[0]
    assert page.error_label.isVisible() and page.opened is None
    page.class_buttons.name_edit.setText("cat")
    qtbot.mouseClick(page.class_buttons.add_button, Qt.MouseButton.LeftButton)
    assert page.error_label.text().startswith("Choose a folder of images first")
    page.wait_idle()


def test_a_folder_of_broken_images_says_so_in_one_line(qtbot, page, tmp_path):
    folder = tmp_path / "all broken"
    folder.mkdir()
    for i in range(3):
        (folder / f"scan{i}.png").write_bytes(b"\x89PNG broken")
    with qtbot.waitSignal(page.failed, timeout=60000) as failed:
        page.folder_edit.setText(str(folder))
        qtbot.keyClick(page.folder_edit, Qt.Key.Key_Return)
    message = failed.args[0]
    assert page.error_label.isVisible() and page.error_label.text() == message
    assert "\n" not in message and "Traceback" not in message
    # the random image shown meanwhile cannot be read: its reason shows under it
    qtbot.waitUntil(lambda: page.image.problem_text() != "", timeout=20000)
    assert "not an image" in page.image.problem_text() or "corrupt" in page.image.problem_text()
    page.wait_idle()


def test_a_folder_of_2000_images_opens_without_decoding_them(qtbot, page, tmp_path, monkeypatch):
    """Listing and counting decode nothing; the page shows a random image to label at once while
    the model (held back here) would read the folder."""
    folder = tmp_path / "big"
    write_demo_folder(folder, per_class=1, classes=1)
    one = next(folder.glob("*.png")).read_bytes()
    for i in range(1999):
        (folder / f"frame{i:05d}.png").write_bytes(one)
    release = threading.Event()

    def held_back(*args):
        job = args[-1]
        while not release.is_set() and not job.cancelled():
            release.wait(0.05)
        raise RuntimeError("held back by the test")

    monkeypatch.setattr(jobs, "next_images", held_back)
    page.folder_edit.setText(str(folder))
    qtbot.keyClick(page.folder_edit, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: page.opened is not None, timeout=20000)
    assert page.progress_view.count_label.text() == "Labelled 0 of 2,000"
    assert page.queue.current is not None and page.queue.current.picked == "random"
    qtbot.waitUntil(lambda: page.image.picture.pixmap() is not None and not page.image.picture.pixmap().isNull(),
                    timeout=20000)
    assert page.image.cache.decoded + page.review.cache.decoded < 20
    # labelling goes on while the model reads: random images, no suggestion, more than one batch
    page.class_buttons.name_edit.setText("frame")
    qtbot.mouseClick(page.class_buttons.add_button, Qt.MouseButton.LeftButton)
    page.image.setFocus()
    seen = set()
    for _ in range(7):
        seen.add(page.queue.current.path)
        qtbot.keyClick(page.image, "1")
    seen.add(page.queue.current.path)
    qtbot.mouseClick(page.skip_button, Qt.MouseButton.LeftButton)
    assert page.queue.current is not None and page.queue.current.path not in seen
    qtbot.waitUntil(lambda: not page.writer.busy(), timeout=20000)
    rows = page.writer.store.rows()
    assert len(rows) == 7 and {(r["picked"], r["suggested"]) for r in rows} == {("random", "")}
    assert page.progress_view.count_label.text() == "Labelled 7 of 2,000"
    assert page.image.cache.decoded + page.review.cache.decoded < 40
    release.set()
    page.wait_idle()


def test_the_remembered_folder_opens_when_the_page_is_shown(qtbot, demo_folder):
    from tlgui.ui.pages.label.page import LabelPage

    folder, truth = demo_folder
    page = LabelPage()
    qtbot.addWidget(page)
    page.set_backbone("smallcnn", "none")
    page.remember_folder(str(folder))
    assert page.opened is None and page.folder_edit.text() == str(folder)
    with qtbot.waitSignal(page.queue_arrived, timeout=60000):
        page.show()
    assert page.progress_view.count_label.text() == f"Labelled 0 of {len(truth)}"
    page.shutdown()


def test_lab_tiff_stacks_show_their_channels_composited(qtbot, page, tmp_path):
    """A 4-channel 16-bit TIFF shows as elsewhere in the window: a colour per channel, each auto-contrasted."""
    from tests.ui.lab_images import image_pixels, write_lab_folder

    folder = write_lab_folder(tmp_path / "cells", per_class=3)
    open_and_wait(qtbot, page, folder)
    assert page.queue.current.path.endswith(".tif")
    picture = page.image.picture
    qtbot.waitUntil(lambda: picture.pixmap() is not None and not picture.pixmap().isNull(), timeout=20000)
    pixels = image_pixels(picture.pixmap().toImage()).reshape(-1, 3).astype(int)
    red = (pixels[:, 0] > 200) & (pixels[:, 1] < 90) & (pixels[:, 2] < 90)
    green = (pixels[:, 1] > 200) & (pixels[:, 0] < 90) & (pixels[:, 2] < 90)
    assert red.mean() > 0.02 and green.mean() > 0.02  # the first two channels, each in its colour
    page.wait_idle()


def test_a_model_that_cannot_load_is_one_line_and_labelling_goes_on(qtbot, page, demo_folder, tmp_path):
    folder, truth = demo_folder
    missing = tmp_path / "gone" / "model.pt"
    page.set_backbone("smallcnn", str(missing))
    with qtbot.waitSignal(page.failed, timeout=60000) as failed:
        page.folder_edit.setText(str(folder))
        qtbot.keyClick(page.folder_edit, Qt.Key.Key_Return)
    assert str(missing) in failed.args[0] and "\n" not in failed.args[0] and "Traceback" not in failed.args[0]
    page.class_buttons.name_edit.setText("shape")
    qtbot.mouseClick(page.class_buttons.add_button, Qt.MouseButton.LeftButton)
    page.image.setFocus()
    for _ in range(7):  # more than one batch: random images keep coming without a model
        qtbot.waitUntil(lambda: page.queue.current is not None, timeout=20000)
        qtbot.keyClick(page.image, "1")
    qtbot.waitUntil(lambda: not page.writer.busy(), timeout=20000)
    rows = page.writer.store.rows()
    assert len(rows) == 7 and {r["picked"] for r in rows} == {"random"}
    assert page.progress_view.count_label.text() == f"Labelled 7 of {len(truth)}"
    page.wait_idle()
