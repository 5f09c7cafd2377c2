"""A key press puts the label on disk at once (the journal), before the labels file is rewritten in
the background; a window that died meanwhile loses nothing: the folder's next opening replays it."""

from __future__ import annotations

from tests.ui.pages.label.conftest import open_and_wait, press_class
from tests.ui.pages.label.test_label_keys import add_class

CLASSES = ("star", "arrow", "crescent")


def _ready_to_label(qtbot, page, folder) -> None:
    open_and_wait(qtbot, page, folder)
    for name in CLASSES:
        add_class(qtbot, page, name)
    page.image.setFocus()


def test_each_label_is_on_disk_when_the_key_returns_and_comes_back_after_a_crash(qtbot, page, demo_folder):
    from tlgui.core.workflows.label_journal import LABEL, append, journal_path, pending
    from tlgui.core.workflows.label_store import LabelStore

    folder, truth = demo_folder
    _ready_to_label(qtbot, page, folder)
    csv_path = page.opened.csv_path
    given = {}
    for _ in range(3):
        pick = press_class(qtbot, page, truth, CLASSES)
        given[pick.path] = truth[pick.path]
        assert pending(csv_path)[pick.path]["label"] == truth[pick.path]  # on disk already, whatever the writer does
    qtbot.waitUntil(lambda: not page.writer.busy(), timeout=20000)
    assert LabelStore(csv_path, folder).labels() == given

    # a window on the same folder that died before its writer wrote its label: only the journal has it
    other = sorted(set(truth) - set(given))[0]
    append(csv_path, LABEL, other, truth[other], None, None, "random")
    given[other] = truth[other]
    page.open_folder(str(folder))  # the next opening replays the journal
    qtbot.waitUntil(lambda: page.progress_view.count_label.text().startswith("Labelled 4 of"), timeout=20000)
    assert LabelStore(csv_path, folder).labels() == given
    assert not journal_path(csv_path).exists()


def test_a_clean_close_leaves_no_journal(qtbot, page, demo_folder):
    from tlgui.core.workflows.label_journal import journal_path

    folder, truth = demo_folder
    _ready_to_label(qtbot, page, folder)
    press_class(qtbot, page, truth, CLASSES)
    csv_path = page.opened.csv_path
    assert journal_path(csv_path).exists()
    page.shutdown()
    assert not journal_path(csv_path).exists()
