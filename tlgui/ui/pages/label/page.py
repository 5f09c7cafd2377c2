"""The Label page: label an unlabelled folder, the model choosing what comes next.

Choose a folder (listed at once, nothing decoded); the image to label shows large with the
model's suggestion preselected: a number key (1-9) or a class button labels it, Enter accepts the
suggestion, S skips, Ctrl+Z undoes. Every label is written at once to the folder's labels CSV in
tlgui's data folder (the image files are never changed). The model's picks come from
``next_to_label`` in a background job, asked for again before the queue runs out; a few random
images start the queue while the model still reads the folder. "Review suggestions" shows the
likeliest images of one class to accept many at once. "Train on these labels" asks the shell to
put the labels CSV into the Train page.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from tlgui.ui.base.background import TaskRunner
from tlgui.ui.pages.label import jobs
from tlgui.ui.pages.label.class_buttons import ClassButtons
from tlgui.ui.pages.label.current_image import CurrentImage
from tlgui.ui.pages.label.label_queue import LabelQueue
from tlgui.ui.pages.label.label_writer import LabelWriter
from tlgui.ui.pages.label.model_picks import ModelPicks
from tlgui.ui.pages.label.progress_view import ProgressView
from tlgui.ui.pages.label.review_grid import ReviewGrid

INTRO = ("Label a folder of images: the model picks which images to label next and suggests a class for each. "
         "Your image files are never changed; the labels are kept in tlgui's data folder.")


class LabelPage(ModelPicks):
    train_requested = Signal(str)  # the labels CSV
    folder_changed = Signal(str)  # a folder was opened (the shell remembers it)
    # queue_arrived and ranked_arrived come from ModelPicks
    # failed (one human line) and exported (export_labels' summary) come from LabelActions

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("labelPage")
        self.backbone = jobs.Backbone()
        self.opened: jobs.Opened | None = None
        self.labels: dict[str, str] = {}
        self.classes: list[str] = []
        self.queue = LabelQueue()
        self.last_error = ""
        self._generation = 0
        self._model_busy = False
        self._model_job = None
        self._model_ready = False  # the model has sent its first picks for this folder
        self._labels_at_fetch = 0  # labels given when the model last chose
        self._renewing = False  # the running call's picks replace the queued ones
        self._idle_at: int | None = None  # labels given when the model last had nothing to give or failed
        self._want_rank: str | None = None
        self._curve_dirty = self._curve_running = False
        self._closed = False
        self._model_failed = False  # the model's last call failed (bad weights...): random images meanwhile
        self._runner = TaskRunner(self)
        self._curve_runner = TaskRunner(self)
        self.writer = LabelWriter(self)
        self.writer.saved.connect(self._on_saved)
        self.writer.failed.connect(self._on_write_failed)
        self._build()
        self._shortcuts()
        self._update_buttons()

    # -- construction -------------------------------------------------------------------
    def _build(self) -> None:
        self.folder_edit = QLineEdit(objectName="labelFolderEdit", placeholderText="a folder of unlabelled images")
        self.folder_edit.returnPressed.connect(lambda: self.open_folder(self.folder_edit.text().strip()))
        self.folder_button = QPushButton("Choose folder…", objectName="labelFolderButton", clicked=self._choose)
        folder_row = QHBoxLayout()
        folder_row.addWidget(QLabel("Images:"))
        folder_row.addWidget(self.folder_edit, 1)
        folder_row.addWidget(self.folder_button)
        self.backbone_label = QLabel("", objectName="labelBackboneLabel", wordWrap=True)
        self.error_label = QLabel("", objectName="labelErrorLabel", wordWrap=True, visible=False)
        self.error_label.setStyleSheet("color: #c0392b;")
        self.status_label = QLabel("", objectName="labelStatusLabel", wordWrap=True)
        self.progress = QProgressBar(textVisible=False)
        self.progress.setObjectName("labelProgress")
        self.progress.setVisible(False)
        self.progress.setMaximumHeight(8)
        self.progress.setRange(0, 0)
        policy = self.progress.sizePolicy()
        policy.setRetainSizeWhenHidden(True)  # the page does not jump when it shows
        self.progress.setSizePolicy(policy)

        split = QSplitter(Qt.Orientation.Horizontal, objectName="labelSplitter")
        split.addWidget(self._build_labelling())
        split.addWidget(self._build_side())
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 2)
        split.setSizes([820, 480])
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel(INTRO, wordWrap=True))
        layout.addLayout(folder_row)
        layout.addWidget(self.backbone_label)
        layout.addWidget(self.error_label)
        layout.addWidget(self.status_label)
        layout.addWidget(self.progress)
        layout.addWidget(split, 1)
        self.set_backbone(self.backbone.architecture, self.backbone.weights)

    def _build_labelling(self) -> QWidget:
        """The tabs: the image to label with its keys and class buttons, and the review grid."""
        self.image = CurrentImage()
        self.class_buttons = ClassButtons()
        self.class_buttons.chosen.connect(self.label)
        self.class_buttons.add_requested.connect(self.add_class)
        self.class_buttons.rename_requested.connect(self.rename_class)
        self.accept_button = QPushButton("Accept suggestion (Enter)", objectName="labelAcceptButton",
                                         clicked=self.accept_suggestion)
        self.skip_button = QPushButton("Skip (S)", objectName="labelSkipButton", clicked=self.skip)
        self.undo_button = QPushButton("Undo (Ctrl+Z)", objectName="labelUndoButton", clicked=self.undo)
        actions = QHBoxLayout()
        actions.addWidget(self.undo_button)
        actions.addStretch(1)
        actions.addWidget(self.skip_button)
        actions.addWidget(self.accept_button)
        self.one_by_one = QWidget()
        self.one_by_one.setObjectName("labelOneByOne")
        one = QVBoxLayout(self.one_by_one)
        one.addWidget(self.image, 1)
        one.addLayout(actions)
        one.addWidget(self.class_buttons)
        self.review = ReviewGrid()
        self.review.rank_requested.connect(self.show_ranked)
        self.review.accept_requested.connect(self.accept_many)
        self.tabs = QTabWidget()
        self.tabs.setObjectName("labelTabs")
        self.tabs.addTab(self.one_by_one, "One by one")
        self.tabs.addTab(self.review, "Review suggestions")
        return self.tabs

    def _build_side(self) -> QWidget:
        """How far the labelling has come (scrolls when short of room), Export and Train always in view."""
        self.progress_view = ProgressView()
        self.train_button = QPushButton("Train on these labels", objectName="labelTrainButton",
                                        clicked=self._train)
        self.train_button.setToolTip("Put this folder's labels CSV into the Train page as its data")
        self.export_button = QPushButton("Export into class folders…", objectName="labelExportButton",
                                         clicked=self._choose_export)
        self.export_button.setToolTip("Copy the labelled images into one sub-folder per class (the originals stay)")
        self.csv_label = QLabel("", objectName="labelCsvLabel", wordWrap=True)
        self.csv_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        side = QWidget()
        side_layout = QVBoxLayout(side)
        side_layout.setContentsMargins(0, 0, 0, 0)
        side_layout.addWidget(self.progress_view, 1)
        scroll = QScrollArea(widgetResizable=True)
        scroll.setObjectName("labelSideScroll")
        scroll.setWidget(side)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        column = QWidget()
        column_layout = QVBoxLayout(column)
        column_layout.setContentsMargins(0, 0, 0, 0)
        column_layout.addWidget(scroll, 1)
        column_layout.addWidget(self.csv_label)
        column_layout.addWidget(self.export_button)
        column_layout.addWidget(self.train_button)
        column.setMinimumWidth(260)
        return column

    def _shortcuts(self) -> None:
        context = Qt.ShortcutContext.WidgetWithChildrenShortcut
        for number in range(1, 10):
            QShortcut(QKeySequence(str(number)), self, lambda n=number: self._number_key(n), context=context)
        for key in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            QShortcut(QKeySequence(key), self, self._enter_key, context=context)
        QShortcut(QKeySequence("S"), self, self._skip_key, context=context)
        QShortcut(QKeySequence(QKeySequence.StandardKey.Undo), self, self.undo, context=context)

    # -- public API ---------------------------------------------------------------------
    def set_backbone(self, architecture: str, weights: str) -> None:
        """Whose frozen features the suggestions come from (the Train page's model choice)."""
        changed = jobs.Backbone(architecture, weights) != self.backbone
        self.backbone = jobs.Backbone(architecture, weights)
        if changed and self.opened is not None:  # the new model chooses from now on
            self._model_ready, self._model_failed, self._idle_at = False, False, None  # its picks replace the queued
            self._want_queue()
        text = (f"Suggestions come from the Train page's model: <b>{self.backbone.describe()}</b> "
                "(change it on the Train page; the Which model? page ranks the backbones).")
        if not self.backbone.pretrained():
            text += (" <span style='color:#c0392b'>It has random weights, so its picks and suggestions are no better "
                     "than chance: choose pretrained weights on the Train page.</span>")
        self.backbone_label.setText(text)

    def remember_folder(self, folder: str) -> None:
        """Show a remembered folder; it opens when the page is first shown."""
        if folder and self.opened is None:
            self.folder_edit.setText(folder)

    def open_folder(self, folder: str) -> None:
        """List ``folder`` in the background (nothing decoded) and start labelling it."""
        if not folder or self._closed:
            return
        self._generation += 1
        generation = self._generation
        self._runner.cancel_all()
        self._model_job = None
        self._model_busy = self._model_ready = self._model_failed = False
        self._want_rank, self._labels_at_fetch, self._idle_at = None, 0, None
        self.writer.set_store(None)  # the last folder's changes are written first
        self.opened, self.labels, self.classes = None, {}, []
        self.queue = LabelQueue()
        self.image.cache.clear()
        self.review.cache.clear()
        self.review.clear()
        self.image.show_pick(None, "Opening the folder…")
        self.folder_edit.setText(folder)
        self._say_error("")
        self._busy(True, f"Listing the images in {folder}…")
        self._runner.start(lambda job: jobs.open_folder(folder, job),
                           lambda opened: self._on_opened(generation, opened),
                           lambda exc: self._on_failed(generation, exc, "Opening the folder"), name="label-open")

    def busy(self) -> bool:
        return self._runner.busy() or self._curve_runner.busy() or self.writer.busy()

    def wait_idle(self, msecs: int = 30000) -> bool:
        self.writer.flush(msecs)
        return self._runner.wait(msecs) and self._curve_runner.wait(msecs)

    def shutdown(self) -> None:
        self._closed = True  # no job starts after this (a late signal would start one)
        self.writer.close()  # every label given is written before the page goes
        self._runner.shutdown()
        self._curve_runner.shutdown()
        self.image.shutdown()
        self.review.shutdown()

    def closeEvent(self, event) -> None:  # Qt override
        self.shutdown()
        super().closeEvent(event)

    def showEvent(self, event) -> None:  # Qt override
        super().showEvent(event)
        folder = self.folder_edit.text().strip()
        if self.opened is None and folder and not self._runner.busy() and Path(folder).is_dir():
            self.open_folder(folder)

    # -- folder -------------------------------------------------------------------------
    @Slot()
    def _choose(self) -> None:
        start = self.folder_edit.text().strip() or str(Path.home())
        folder = QFileDialog.getExistingDirectory(self, "Choose a folder of images to label", start)
        if folder:
            self.open_folder(folder)

    def _on_opened(self, generation: int, opened: jobs.Opened) -> None:
        if generation != self._generation:
            return
        from tlgui.core.workflows.label_store import LabelStore

        self.opened = opened
        self.writer.set_store(LabelStore(opened.csv_path, opened.folder))
        self.labels = dict(opened.labels)
        self.classes = list(opened.classes)
        self.folder_edit.setText(opened.folder)
        self.csv_label.setText(f"Labels file: {opened.csv_path}")
        if not opened.paths:
            self._busy(False, "")
            self._say_error(f"{opened.folder} holds no image files (at any depth).")
        else:
            self._busy(False, f"{len(opened.paths):,} images. The model reads them once in the background; "
                              "meanwhile you label images drawn at random.")
            if opened.problems:
                self._say_error(f"{len(opened.problems)} row(s) of the labels file are not used: {opened.problems[0]}")
            self.queue.start_with(opened.paths, self.labels)
        self._classes_changed()
        self._next()
        self.folder_changed.emit(opened.folder)
        self._refresh_curve()
        self._want_queue()

    @Slot()
    def _train(self) -> None:
        if self.opened is not None and self.labels:
            self.writer.flush()  # the Train page reads the file next: every label in it first
            self.train_requested.emit(self.opened.csv_path)
