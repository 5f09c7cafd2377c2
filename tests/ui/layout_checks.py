"""Checks that a window's layout works at a given size: no two visible widgets of one layout
overlap, and every visible button is on screen or in a scroll area that can bring it there."""

from __future__ import annotations

from itertools import combinations

from PySide6.QtWidgets import (
    QAbstractButton,
    QAbstractScrollArea,
    QApplication,
    QLayout,
    QSplitter,
    QWidget,
)


def settle(rounds: int = 10) -> None:
    """Let layout requests travel up the widget tree (each step posts the next one)."""
    for _ in range(rounds):
        QApplication.processEvents()


def _layout_widgets(layout: QLayout) -> list[QWidget]:
    """The widgets a layout and its nested layouts place (all children of one widget)."""
    found = []
    for index in range(layout.count()):
        item = layout.itemAt(index)
        if item.widget() is not None:
            found.append(item.widget())
        elif item.layout() is not None:
            found.extend(_layout_widgets(item.layout()))
    return found


def _name(widget: QWidget) -> str:
    text = widget.text() if hasattr(widget, "text") and callable(widget.text) else ""
    return f"{type(widget).__name__}({widget.objectName() or text[:30]!r})"


def overlapping_siblings(root: QWidget) -> list[str]:
    """Pairs of visible widgets placed by the same layout (or splitter) whose rectangles overlap."""
    problems = []
    for parent in [root, *root.findChildren(QWidget)]:
        if not parent.isVisible():
            continue
        if isinstance(parent, QSplitter):
            siblings = [parent.widget(i) for i in range(parent.count())]
        elif parent.layout() is not None:
            siblings = _layout_widgets(parent.layout())
        else:
            continue
        shown = [w for w in siblings if w.isVisible() and w.width() > 0 and w.height() > 0]
        for a, b in combinations(shown, 2):
            if a.geometry().intersects(b.geometry()):
                problems.append(f"{_name(a)} {a.geometry().getRect()} overlaps {_name(b)} {b.geometry().getRect()} "
                                f"in {_name(parent)}")
    return problems


def unreachable_buttons(window: QWidget) -> list[str]:
    """Visible buttons that lie outside the part of the window one can see and that no scroll
    bar can bring into view."""
    problems = []
    for button in window.findChildren(QAbstractButton):
        if not button.isVisible() or button.width() <= 0:
            continue
        scrolled, ancestor = False, button.parentWidget()
        while ancestor is not None and ancestor is not window and not scrolled:
            if isinstance(ancestor, QAbstractScrollArea):
                viewport = ancestor.viewport()
                inside = button.rect().translated(button.mapTo(viewport, button.rect().topLeft()))
                if not viewport.rect().contains(inside):
                    bars = (ancestor.verticalScrollBar(), ancestor.horizontalScrollBar())
                    if not any(bar.maximum() > 0 for bar in bars):
                        problems.append(f"{_name(button)} is cut off in {_name(ancestor)}, which cannot scroll")
                    scrolled = True  # out of view here: reachable (or reported) through this scroll area
            ancestor = ancestor.parentWidget()
        rect = button.rect().translated(button.mapTo(window, button.rect().topLeft()))
        if not scrolled and not window.rect().contains(rect):
            problems.append(f"{_name(button)} at {rect.getRect()} lies outside the window {window.size().toTuple()}")
    return problems
