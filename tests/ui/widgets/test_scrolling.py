"""Scroll areas that let pages and columns fit a small screen (tlgui.ui.widgets.scrolling)."""

from __future__ import annotations

from PySide6.QtCore import QSize
from PySide6.QtWidgets import QLabel, QListWidget, QPushButton, QSplitter, QVBoxLayout, QWidget

from tests.ui.layout_checks import settle
from tlgui.ui.base.formatting import ZERO_WIDTH_SPACE, breakable_path
from tlgui.ui.widgets.scrolling import ColumnScroll, PageScroll, ScrollingTabs

LONG_PATH = "/data/" + "_".join(["a_rather_long_folder_name"] * 6) + "/plate_07/cells.tif"


class TallList(QListWidget):
    """A list that would like to show all its rows (as the confusion matrix of many classes does)."""

    def sizeHint(self) -> QSize:  # Qt override
        return QSize(200, 20 * self.count())


def _page(name: str, rows: int = 40) -> QWidget:
    """A page like ours: a word-wrapped label, a list that may shrink, a button under it."""
    page = QWidget(objectName=name)
    layout = QVBoxLayout(page)
    layout.addWidget(QLabel("Some words that wrap when the page is narrow, as the pages' intros do. " * 3,
                            wordWrap=True))
    rows_list = TallList()
    rows_list.addItems([f"row {i}" for i in range(rows)])
    rows_list.setMinimumHeight(120)
    layout.addWidget(rows_list, 1)
    layout.addWidget(QPushButton("Save", objectName=f"{name}Button"))
    return page


def test_the_tabs_speak_of_pages_and_wrap_each_in_a_scroll_area(qtbot):
    tabs = ScrollingTabs(objectName="tabs")
    qtbot.addWidget(tabs)
    first, second = _page("first"), _page("second")
    assert tabs.addTab(first, "First") == 0 and tabs.insertTab(1, second, "Second") == 1
    assert isinstance(tabs.scroll_area(0), PageScroll) and tabs.scroll_area(0).content is first
    assert tabs.widget(0) is first and tabs.widget(1) is second and tabs.widget(2) is None
    assert tabs.indexOf(second) == 1 and tabs.indexOf(tabs.scroll_area(1)) == 1 and tabs.indexOf(QWidget()) == -1
    tabs.setCurrentWidget(second)
    assert tabs.currentIndex() == 1 and tabs.currentWidget() is second
    tabs.removeTab(0)
    assert tabs.count() == 1 and tabs.widget(0) is second and first.parent() is None
    first.deleteLater()


def test_a_page_scrolls_only_below_its_minimum_size_and_is_never_squeezed(qtbot):
    tabs = ScrollingTabs()
    qtbot.addWidget(tabs)
    page = _page("page", rows=200)  # its list would like to be very tall
    tabs.addTab(page, "Page")
    tabs.resize(500, 400)
    tabs.show()
    qtbot.waitExposed(tabs)
    settle()
    area = tabs.scroll_area(0)
    # room enough for the page's minimum: the list shrinks, nothing scrolls (QScrollArea alone
    # would have given the page its preferred height, because of the wrapped label, and scrolled)
    assert area.verticalScrollBar().maximum() == 0 and area.horizontalScrollBar().maximum() == 0
    assert page.height() <= area.viewport().height()
    assert tabs.minimumSizeHint().height() < page.minimumSizeHint().height()  # the window may be smaller
    tabs.resize(220, 150)  # smaller than the page's minimum: it scrolls, laid out at its minimum
    settle()
    assert area.verticalScrollBar().maximum() > 0
    label = page.layout().itemAt(0).widget()
    assert page.height() >= page.minimumSizeHint().height()
    assert label.height() >= label.heightForWidth(label.width())  # every wrapped line has its room
    button = page.findChild(QPushButton, "pageButton")
    area.ensureWidgetVisible(button)
    settle()
    assert not button.visibleRegion().isEmpty()  # scrolled into view


def test_a_column_follows_its_contents_width_and_scrolls_only_up_and_down(qtbot):
    label = QLabel("short")
    content = QWidget()
    QVBoxLayout(content).addWidget(label)
    column = ColumnScroll(content)
    splitter = QSplitter()
    splitter.addWidget(column)
    splitter.addWidget(QLabel("the rest"))
    qtbot.addWidget(splitter)
    splitter.resize(1200, 300)
    splitter.setSizes([60, 1140])
    splitter.show()
    qtbot.waitExposed(splitter)
    settle()
    label.setText("a line of text that does not wrap and is rather wide " * 2)
    qtbot.waitUntil(lambda: column.width() >= label.minimumSizeHint().width(), timeout=5000)
    assert column.horizontalScrollBar().isHidden() or column.horizontalScrollBar().maximum() == 0
    assert column.minimumSizeHint().height() <= 130  # a tall column asks for little height


def test_a_long_path_can_wrap_in_a_label(qapp):
    shown = breakable_path(LONG_PATH)
    assert shown.replace(ZERO_WIDTH_SPACE, "") == LONG_PATH
    plain = QLabel(LONG_PATH, wordWrap=True)
    wrapping = QLabel(shown, wordWrap=True)
    assert wrapping.minimumSizeHint().width() < 300 < plain.minimumSizeHint().width()
