"""The Train page's frame: the splitters that hold the data/model tabs, the layer tree, the training
panel and the plots, with their stretch and first sizes. :class:`~tlgui.ui.pages.train.page.TrainPage`
puts its panels in them; the widgets get stable objectNames for tests and automation."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QSplitter, QVBoxLayout, QWidget

LOADING_TEXT = "Loading PyTorch…"


def loading_label() -> QLabel:
    """A greyed "Loading PyTorch…", shown where a torch-backed panel will be."""
    label = QLabel(LOADING_TEXT)
    label.setAlignment(Qt.AlignmentFlag.AlignCenter)
    label.setEnabled(False)
    return label


def plots_holder() -> QWidget:
    """The plots' place (the plots come after the first paint: pyqtgraph takes ~0.3 s to import)."""
    holder = QWidget()
    holder.setObjectName("plotsHolder")
    QVBoxLayout(holder).setContentsMargins(0, 0, 0, 0)
    holder.setMinimumHeight(180)
    return holder


def top_splitter(left: QWidget, middle: QWidget, right: QWidget) -> QSplitter:
    """Data/model tabs, layer tree and training panel side by side."""
    splitter = QSplitter(Qt.Orientation.Horizontal)
    splitter.setObjectName("topSplitter")
    for widget in (left, middle, right):
        splitter.addWidget(widget)
    splitter.setStretchFactor(0, 3)
    splitter.setStretchFactor(1, 4)
    splitter.setStretchFactor(2, 2)
    splitter.setSizes([420, 520, 320])
    return splitter


def main_splitter(top: QWidget, plots: QWidget) -> QSplitter:
    """The panels above the plots."""
    splitter = QSplitter(Qt.Orientation.Vertical)
    splitter.setObjectName("mainSplitter")
    splitter.addWidget(top)
    splitter.addWidget(plots)
    # the plots take what the window gains or loses, down to their minimum height, before the
    # panels above them do (the user's own split is remembered: see window_state)
    splitter.setStretchFactor(0, 0)
    splitter.setStretchFactor(1, 1)
    splitter.setSizes([470, 280])
    splitter.setChildrenCollapsible(False)
    return splitter
