"""Help > User guide: the Markdown pages of ``docs/`` shown offline in a QTextBrowser.

QTextBrowser renders ``.md`` sources itself (CommonMark + GitHub tables), resolves images and
links relative to the page shown, and keeps a history for Back/Forward, so the guide needs no
web engine and no network. The pages are found in a source checkout, in an installed copy
(``share/tlgui/docs``) and in the frozen app (``_internal/docs``).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from PySide6.QtCore import QUrl, Slot
from PySide6.QtGui import QDesktopServices, QTextCursor, QTextDocument
from PySide6.QtWidgets import QDialog, QHBoxLayout, QLabel, QPushButton, QTextBrowser, QVBoxLayout

INDEX = "index.md"


def guide_dir() -> Path | None:
    """The folder holding the guide's pages, or None where this copy of tlgui has none."""
    candidates = []
    if os.environ.get("TLGUI_DOCS"):
        candidates.append(Path(os.environ["TLGUI_DOCS"]))
    if getattr(sys, "frozen", False) and hasattr(sys, "_MEIPASS"):
        candidates.append(Path(sys._MEIPASS) / "docs")
    candidates.append(Path(__file__).resolve().parents[3] / "docs")  # a source checkout (editable install)
    candidates.append(Path(sys.prefix) / "share" / "tlgui" / "docs")  # pip install from a wheel
    return next((folder for folder in candidates if (folder / INDEX).is_file()), None)


class UserGuideDialog(QDialog):
    """A small help browser: Contents, Back, Forward and the page; links between pages work."""

    def __init__(self, parent=None, folder: Path | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("userGuideDialog")
        self.setWindowTitle("tlgui user guide")
        self.folder = folder or guide_dir()
        self.browser = QTextBrowser()
        self.browser.setObjectName("userGuideBrowser")
        self.browser.setOpenLinks(False)  # pages are followed here; web links go to the system browser
        self.browser.anchorClicked.connect(self._follow)
        self.missing = QLabel(objectName="userGuideMissing")
        self.missing.setWordWrap(True)
        self.missing.hide()
        contents = QPushButton("Contents", objectName="userGuideContentsButton")
        back = QPushButton("Back", objectName="userGuideBackButton")
        forward = QPushButton("Forward", objectName="userGuideForwardButton")
        contents.clicked.connect(lambda: self.show_page(INDEX))
        back.clicked.connect(self.browser.backward)
        forward.clicked.connect(self.browser.forward)
        self.browser.backwardAvailable.connect(back.setEnabled)
        self.browser.forwardAvailable.connect(forward.setEnabled)
        back.setEnabled(False)
        forward.setEnabled(False)
        buttons = QHBoxLayout()
        for button in (contents, back, forward):
            buttons.addWidget(button)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addLayout(buttons)
        layout.addWidget(self.missing)
        layout.addWidget(self.browser, 1)
        self.resize(820, 600)
        if self.folder is None:
            self.missing.setText("The user guide is not installed with this copy of tlgui. It is the docs/ folder "
                                 "of tlgui's source; the installers include it.")
            self.missing.show()
            self.browser.hide()
        else:
            self.show_page(INDEX)

    def show_page(self, page: str, section: str | None = None) -> None:
        """Show ``page`` (a file name in the guide), scrolled to the heading ``section`` if given."""
        if self.folder is None:
            return
        path = self.folder / page
        if not path.is_file():
            path = self.folder / INDEX
        self.browser.setSource(QUrl.fromLocalFile(str(path)), QTextDocument.ResourceType.MarkdownResource)
        if section:
            self.scroll_to_heading(section)

    def scroll_to_heading(self, heading: str) -> bool:
        """Scroll so that the heading whose text is ``heading`` is at the top."""
        document = self.browser.document()
        cursor = document.find(heading)
        while not cursor.isNull() and cursor.block().blockFormat().headingLevel() == 0:
            cursor = document.find(heading, cursor)
        if cursor.isNull():
            return False
        self.browser.moveCursor(QTextCursor.MoveOperation.End)  # so that ensureCursorVisible puts it on top
        self.browser.setTextCursor(cursor)
        self.browser.ensureCursorVisible()
        return True

    def self_check(self) -> dict:
        """What ``tlgui --self-test`` reports: the guide was found, and a page with its pictures shows."""
        if self.folder is None:
            return {"ok": False, "error": "the user guide is not installed"}
        self.show_page("getting-started.md")
        document = self.browser.document()
        images = _image_names(document)
        loaded = [name for name in images
                  if not document.resource(QTextDocument.ResourceType.ImageResource, QUrl(name)).isNull()]
        return {"ok": bool(images) and loaded == images, "folder": str(self.folder),
                "page": self.current_page(), "images": len(images), "images_loaded": len(loaded)}

    def current_page(self) -> str:
        return Path(self.browser.source().toLocalFile()).name

    @Slot(QUrl)
    def _follow(self, url: QUrl) -> None:
        if url.scheme() in ("http", "https", "mailto"):
            QDesktopServices.openUrl(url)
            return
        target = self.browser.source().resolved(url)
        if target.isLocalFile() and target.toLocalFile().endswith(".md"):
            self.browser.setSource(target, QTextDocument.ResourceType.MarkdownResource)
        elif target.isLocalFile():
            QDesktopServices.openUrl(target)


def _image_names(document: QTextDocument) -> list[str]:
    """The image sources of the shown page, in order."""
    names, block = [], document.begin()
    while block.isValid():
        for fragment in _fragments(block):
            fmt = fragment.charFormat()
            if fmt.isImageFormat():
                names.append(fmt.toImageFormat().name())
        block = block.next()
    return names


def _fragments(block):
    iterator = block.begin()
    while not iterator.atEnd():
        yield iterator.fragment()
        iterator += 1
