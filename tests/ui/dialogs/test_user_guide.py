"""Help > User guide: the docs/ pages in the window, offline, with their pictures; links between
pages work; F1 opens the section about the page on show (issue 29)."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QUrl
from PySide6.QtGui import QTextDocument
from PySide6.QtWidgets import QPushButton

from tlgui.ui.dialogs.user_guide import UserGuideDialog, guide_dir

DOCS = Path(__file__).resolve().parents[3] / "docs"


def test_the_guide_is_found_in_a_source_checkout():
    assert guide_dir() == DOCS


def test_the_contents_page_shows_and_its_links_lead_to_other_pages(qtbot):
    dialog = UserGuideDialog()
    qtbot.addWidget(dialog)
    dialog.show()
    assert dialog.current_page() == "index.md"
    assert "tlgui user guide" in dialog.browser.toPlainText()
    dialog.browser.anchorClicked.emit(QUrl("training.md"))
    assert dialog.current_page() == "training.md"
    assert dialog.browser.toPlainText().startswith("Training")
    back = dialog.findChild(QPushButton, "userGuideBackButton")
    assert back.isEnabled()
    back.click()
    assert dialog.current_page() == "index.md"


def test_a_page_shows_its_screenshot(qtbot, tmp_path):
    (tmp_path / "images").mkdir()
    from PySide6.QtGui import QImage

    picture = QImage(40, 30, QImage.Format.Format_RGB32)
    picture.fill(0x336699)
    picture.save(str(tmp_path / "images" / "shot.png"))
    (tmp_path / "index.md").write_text("# Guide\n\n![a screen](images/shot.png)\n", encoding="utf-8")
    dialog = UserGuideDialog(folder=tmp_path)
    qtbot.addWidget(dialog)
    image = dialog.browser.document().resource(QTextDocument.ResourceType.ImageResource, QUrl("images/shot.png"))
    assert image is not None and not image.isNull() and image.width() == 40


def test_without_the_guide_the_dialog_says_where_it_is(qtbot, monkeypatch):
    monkeypatch.setattr("tlgui.ui.dialogs.user_guide.guide_dir", lambda: None)
    dialog = UserGuideDialog()
    qtbot.addWidget(dialog)
    assert "not installed" in dialog.missing.text()
    assert dialog.browser.isHidden()


def test_help_user_guide_and_f1_open_the_section_of_the_page_on_show(main_window, qtbot):
    from PySide6.QtGui import QAction

    action = main_window.findChild(QAction, "userGuideAction")
    assert action is not None and action.isEnabled()
    assert not action.shortcut().isEmpty()  # F1 (the platform's help key)
    action.trigger()
    guide = main_window.findChild(UserGuideDialog)
    assert guide is not None and guide.isVisible()
    assert guide.current_page() == "training.md"  # the Train page is on show
    titles = [main_window.pages.tabText(i) for i in range(main_window.pages.count())]
    main_window.pages.setCurrentIndex(titles.index("Runs"))
    action.trigger()
    assert guide.current_page() == "training.md"
    cursor = guide.browser.textCursor()
    assert cursor.block().text() == "The run folder, and resuming"
    guide.close()
