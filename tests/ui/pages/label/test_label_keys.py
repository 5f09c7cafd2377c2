"""Labelling with the keys: number keys label, Enter accepts the suggestion, Ctrl+Z undoes;
every label is in the CSV at once, with the suggestion shown and how the image was picked."""

from __future__ import annotations

import csv
from pathlib import Path

from PySide6.QtCore import Qt

from tests.ui.pages.label.conftest import open_and_wait, press_class

CLASSES = ("star", "arrow", "crescent")


def csv_rows(qtbot, page) -> list[dict]:
    """The labels file once the page has written every change (in the background)."""
    qtbot.waitUntil(lambda: not page.writer.busy(), timeout=20000)
    path = Path(page.opened.csv_path)
    if not path.is_file():
        return []
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def add_class(qtbot, page, name: str) -> None:
    buttons = page.class_buttons
    buttons.name_edit.setText(name)
    qtbot.mouseClick(buttons.add_button, Qt.MouseButton.LeftButton)
    assert name in page.classes


def test_number_keys_label_enter_accepts_and_undo_takes_back(qtbot, page, demo_folder):
    folder, truth = demo_folder
    open_and_wait(qtbot, page, folder)
    assert page.progress_view.count_label.text() == f"Labelled 0 of {len(truth)}"
    for name in ("star", "arrow", "crescent"):
        add_class(qtbot, page, name)
    assert [b.text().split("  ")[0] for b in page.class_buttons.buttons] == ["1", "2", "3"]
    page.image.setFocus()

    given = []
    for _ in range(6):  # label each by its truth with its number key
        pick = press_class(qtbot, page, truth, CLASSES)
        given.append((pick, truth[pick.path]))
        assert page.queue.current is None or page.queue.current.path != pick.path
    rows = csv_rows(qtbot, page)
    assert [(r["path"], r["label"]) for r in rows] == [(p.path, label) for p, label in given]
    assert all(r["picked"] in ("typical", "margin", "random") for r in rows)
    assert page.progress_view.count_label.text() == f"Labelled 6 of {len(truth)}"

    # once the model knows two classes its picks carry a suggestion: Enter accepts it
    qtbot.waitUntil(lambda: any(p.suggested for p in page.queue.queued()), timeout=60000)
    while page.queue.current is None or page.queue.current.suggested is None:  # those chosen before have none
        pick = press_class(qtbot, page, truth, CLASSES)
        given.append((pick, truth[pick.path]))
        qtbot.waitUntil(lambda: page.queue.current is not None, timeout=30000)
    pick = page.queue.current
    assert page.class_buttons.buttons[page.classes.index(pick.suggested)].styleSheet()  # preselected
    qtbot.keyClick(page.image, Qt.Key.Key_Return)
    last = csv_rows(qtbot, page)[-1]
    assert last["path"] == pick.path and last["label"] == pick.suggested == last["suggested"]
    assert float(last["confidence"]) == round(pick.confidence, 4)

    # Ctrl+Z removes the last label from the file and shows its image again
    qtbot.keyClick(page.image, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert pick.path not in {r["path"] for r in csv_rows(qtbot, page)}
    assert page.queue.current.path == pick.path
    assert page.progress_view.count_label.text() == f"Labelled {len(given)} of {len(truth)}"
    qtbot.mouseClick(page.undo_button, Qt.MouseButton.LeftButton)
    assert given[-1][0].path not in {r["path"] for r in csv_rows(qtbot, page)}
    assert len(csv_rows(qtbot, page)) == len(given) - 1
    page.wait_idle()


def test_classes_are_added_and_renamed_in_the_labels_file(qtbot, page, demo_folder):
    folder, _truth = demo_folder
    open_and_wait(qtbot, page, folder)
    add_class(qtbot, page, "cat")
    page.class_buttons.name_edit.setFocus()
    qtbot.keyClicks(page.class_buttons.name_edit, "dog")
    qtbot.keyClick(page.class_buttons.name_edit, Qt.Key.Key_Return)  # Enter in the name field adds it
    assert page.classes == ["cat", "dog"] and page.writer.store.csv_path.is_file() is False  # nothing labelled by it
    page.image.setFocus()
    first = page.queue.current.path
    qtbot.keyClick(page.image, "1")  # the first image shows at once: no wait
    assert csv_rows(qtbot, page)[0]["label"] == "cat"
    buttons = page.class_buttons
    buttons.rename_combo.setCurrentText("cat")
    buttons.name_edit.setText("kitten")
    qtbot.mouseClick(buttons.rename_button, Qt.MouseButton.LeftButton)
    assert page.classes == ["kitten", "dog"]
    assert buttons.buttons[0].text().startswith("1  kitten")
    assert [(r["path"], r["label"]) for r in csv_rows(qtbot, page)] == [(first, "kitten")]
    assert page.writer.store.classes() == ["kitten", "dog"]  # the classes file too
    # a name already taken: one line, nothing changed
    buttons.name_edit.setText("dog")
    qtbot.mouseClick(buttons.add_button, Qt.MouseButton.LeftButton)
    assert "already a class" in page.error_label.text() and page.error_label.isVisible()
    assert page.classes == ["kitten", "dog"]
    page.wait_idle()


def test_a_label_that_cannot_be_written_is_one_line_and_not_counted(qtbot, page, demo_folder, monkeypatch):
    folder, _truth = demo_folder
    open_and_wait(qtbot, page, folder)
    add_class(qtbot, page, "cat")
    csv_rows(qtbot, page)  # the class is written

    def full_disk(*_args, **_kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(page.writer.store, "add", full_disk)
    name = Path(page.queue.current.path).name
    page.image.setFocus()
    with qtbot.waitSignal(page.failed, timeout=20000) as failed:
        qtbot.keyClick(page.image, "1")
    assert failed.args[0] == f"Could not save the label of {name}: No space left on device."
    assert page.error_label.isVisible()
    qtbot.waitUntil(lambda: page.progress_view.count_label.text().startswith("Labelled 0 of"), timeout=20000)
    assert page.labels == {}
    page.wait_idle()
