"""Scroll areas that let the window fit a laptop screen (1366×768, 1280×720 projectors).

A page or a column taller than the room it gets scrolls instead of pushing the window's minimum
size past the screen (or, when a window manager forces the size, of being squeezed until its
widgets overlap). :class:`ScrollingTabs` wraps every page it is given, so a new page inherits this
by being added to it; :class:`ColumnScroll` is for a column of controls that should keep its width
and scroll up and down only.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, QSize, Qt
from PySide6.QtWidgets import QFrame, QScrollArea, QStyle, QTabWidget, QVBoxLayout, QWidget

# the least height a scrolling column asks for: a few rows of controls stay visible
COLUMN_MIN_HEIGHT = 120


class _MinimumLayout(QVBoxLayout):
    """Holds one widget and tells the scroll area around it the *least* height it needs at a width.

    QScrollArea sizes a resizable widget whose layout has height-for-width (any page with a
    word-wrapped label) to its *preferred* height for the width, so a page with a tall table or
    matrix scrolled even when there was room to show it all at its minimum size. Answering with
    the minimum height for the width instead (the wrapped labels' lines included, so nothing is
    squeezed) lets the content fill the room there is, its lists and tables shrinking first, and
    scroll only below that."""

    def heightForWidth(self, width: int) -> int:  # Qt override
        item = self.itemAt(0)
        content = item.widget() if item is not None else None
        if content is None:
            return -1
        layout = content.layout()
        least = content.minimumSizeHint().expandedTo(content.minimumSize()).height()
        if layout is not None and layout.hasHeightForWidth():
            least = max(least, layout.totalMinimumHeightForWidth(width))
        return least


class _Scroll(QScrollArea):
    """A frameless scroll area around one widget (``content``), never laid out below its minimum
    size, so nothing in it overlaps: it scrolls instead."""

    def __init__(self, content: QWidget, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName(f"{content.objectName() or 'content'}Scroll")
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setWidgetResizable(True)
        self.content: QWidget | None = content
        holder = QWidget()
        layout = _MinimumLayout(holder)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(content)
        self.setWidget(holder)
        self._holder = holder  # what widget() returns (typed: never None here)

    def release(self) -> QWidget | None:
        """Take the content out (parentless), as QTabWidget.removeTab leaves a page alive."""
        content, self.content = self.content, None
        if content is not None:
            content.setParent(None)
        return content


class PageScroll(_Scroll):
    """Around a page: scrolls both ways, only when the room is smaller than the page's minimum."""


class ColumnScroll(_Scroll):
    """A column of controls that scrolls vertically and never horizontally: it asks for its
    content's minimum width (plus the scroll bar's) and only a little height."""

    def __init__(self, content: QWidget, parent: QWidget | None = None, min_height: int = COLUMN_MIN_HEIGHT) -> None:
        super().__init__(content, parent)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self._min_height = min_height
        self._holder.installEventFilter(self)  # the content's minimum width changes with its texts

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # Qt override
        if watched is self.widget() and event.type() == QEvent.Type.LayoutRequest:
            self.updateGeometry()
        return super().eventFilter(watched, event)

    def minimumSizeHint(self) -> QSize:  # Qt override
        hint = self._holder.minimumSizeHint()
        bar = self.style().pixelMetric(QStyle.PixelMetric.PM_ScrollBarExtent, None, self)
        frame = 2 * self.frameWidth()
        return QSize(hint.width() + bar + frame, min(hint.height(), self._min_height) + frame)

    def sizeHint(self) -> QSize:  # Qt override
        hint = self._holder.sizeHint()
        bar = self.style().pixelMetric(QStyle.PixelMetric.PM_ScrollBarExtent, None, self)
        return QSize(hint.width() + bar + 2 * self.frameWidth(), hint.height() + 2 * self.frameWidth())


class ScrollingTabs(QTabWidget):
    """A tab widget whose pages scroll when the window is smaller than they are.

    Each page added is wrapped in a :class:`PageScroll`; ``widget``, ``indexOf``, ``currentWidget``
    and ``setCurrentWidget`` speak of the pages themselves, so callers never see the wrapper.
    ``column=True`` wraps in a :class:`ColumnScroll` instead (vertical scrolling only).
    """

    def __init__(self, parent: QWidget | None = None, *, column: bool = False, objectName: str = "") -> None:
        super().__init__(parent)
        if objectName:
            self.setObjectName(objectName)
        self._wrapper = ColumnScroll if column else PageScroll

    def _wrap(self, page: QWidget) -> QWidget:
        if isinstance(page, _Scroll):
            return page
        return self._wrapper(page)

    def addTab(self, page: QWidget, *args) -> int:  # Qt override
        return super().addTab(self._wrap(page), *args)

    def insertTab(self, index: int, page: QWidget, *args) -> int:  # Qt override
        return super().insertTab(index, self._wrap(page), *args)

    def removeTab(self, index: int) -> None:  # Qt override
        """Remove the tab; its page is handed back parentless (as QTabWidget leaves it alive)."""
        wrapper = super().widget(index)
        super().removeTab(index)
        if isinstance(wrapper, _Scroll):
            wrapper.release()
            wrapper.deleteLater()

    def widget(self, index: int) -> QWidget | None:  # Qt override
        return _unwrap(super().widget(index))

    def currentWidget(self) -> QWidget | None:  # type: ignore[override]  # Qt override (stub lacks None)
        return _unwrap(super().currentWidget())

    def indexOf(self, page: QWidget) -> int:  # Qt override
        for index in range(self.count()):
            if self.widget(index) is page or super().widget(index) is page:
                return index
        return -1

    def setCurrentWidget(self, page: QWidget) -> None:  # Qt override
        index = self.indexOf(page)
        if index >= 0:
            self.setCurrentIndex(index)

    def scroll_area(self, index: int) -> QScrollArea | None:
        """The scroll area that holds page ``index``."""
        wrapper = super().widget(index)
        return wrapper if isinstance(wrapper, QScrollArea) else None


def _unwrap(widget: QWidget | None) -> QWidget | None:
    return widget.content if isinstance(widget, _Scroll) else widget
