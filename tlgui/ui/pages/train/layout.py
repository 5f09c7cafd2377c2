"""The Train page's layout: data/model tabs, the layer tree, the training panel, the plots.

Built once by the main window; widgets get stable objectNames for tests and automation.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QGroupBox, QLabel, QSplitter, QVBoxLayout, QWidget

from tlgui.ui.widgets.scrolling import ScrollingTabs


def build_train_page(window) -> None:
    """Create the Train page on ``window`` (placeholders until PyTorch has loaded)."""
    window._plots_holder = QWidget(objectName="plotsHolder")
    holder = QVBoxLayout(window._plots_holder)
    holder.setContentsMargins(0, 0, 0, 0)
    window._plots_holder.setMinimumHeight(180)
    window._placeholders = []
    for text in ("Loading PyTorch…", "Loading PyTorch…"):
        label = QLabel(text)
        label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        label.setEnabled(False)
        window._placeholders.append(label)
    window.left_tabs = ScrollingTabs(column=True, objectName="leftTabs")  # the data and model panels scroll
    window.left_tabs.setDocumentMode(True)
    window.left_tabs.addTab(window._placeholders[0], "1. Data")
    window.left_tabs.addTab(QWidget(), "2. Model")

    window.layer_box = QGroupBox("3. Layers to train")
    window.layer_box.setLayout(QVBoxLayout())
    window.layer_box.layout().setContentsMargins(4, 4, 4, 4)
    window.layer_box.layout().addWidget(window._placeholders[1])

    right = QWidget()
    right_layout = QVBoxLayout(right)
    right_layout.setContentsMargins(0, 0, 0, 0)
    window.training_panel.settings_box.setTitle("4. Train")
    right_layout.addWidget(window.training_panel)

    window.top_splitter = QSplitter(Qt.Orientation.Horizontal, objectName="topSplitter")
    window.top_splitter.addWidget(window.left_tabs)
    window.top_splitter.addWidget(window.layer_box)
    window.top_splitter.addWidget(right)
    window.top_splitter.setStretchFactor(0, 3)
    window.top_splitter.setStretchFactor(1, 4)
    window.top_splitter.setStretchFactor(2, 2)
    window.top_splitter.setSizes([420, 520, 320])

    window.main_splitter = QSplitter(Qt.Orientation.Vertical, objectName="mainSplitter")
    window.main_splitter.addWidget(window.top_splitter)
    window.main_splitter.addWidget(window._plots_holder)
    # the plots take what the window gains or loses, down to their minimum height, before the
    # panels above them do (the user's own split is remembered: see window_state)
    window.main_splitter.setStretchFactor(0, 0)
    window.main_splitter.setStretchFactor(1, 1)
    window.main_splitter.setSizes([470, 280])
    window.main_splitter.setChildrenCollapsible(False)

    central = QWidget(objectName="trainPage")
    layout = QVBoxLayout(central)
    layout.setContentsMargins(6, 6, 6, 6)
    layout.addWidget(window.main_splitter)
    # pages: "Train" is this window's own; the others come from the workspace
    window.pages = ScrollingTabs(objectName="pageTabs")  # every page scrolls when the window is small
    window.pages.setDocumentMode(True)
    window.pages.addTab(central, "Train")
    window.setCentralWidget(window.pages)
