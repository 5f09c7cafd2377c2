"""Results: how good is a trained model, and where does it go wrong?

``show_run(run_dir)`` evaluates a run's model on the run's own validation images;
``evaluate(model_path, data, split)`` any model on any data. Both run in the background.
The views: headline figures, a per-class table, the confusion matrix (click a cell to see
its images) and the most confidently wrong images.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QSplitter,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from tlgui.ui.base.background import TaskRunner
from tlgui.ui.base.exports import save_tables_csv, save_widget_png
from tlgui.ui.widgets.confusion_widget import ConfusionMatrixView
from tlgui.ui.widgets.evaluation_tabs import EvaluationTabs
from tlgui.ui.widgets.gallery import percent

EMPTY_TEXT = ("Train a model or open a run to see results here.\n\n"
              "Or choose a model file and data above and press Evaluate.")


def _evaluate_run_job(run_dir: str, job):
    from tlgui.core.results.run_evaluation import ImageLookup, evaluate_run, run_validation

    val = run_validation(run_dir)
    evaluation = evaluate_run(run_dir, lambda d, n: job.report((d, n)), job)
    where = f"run {Path(run_dir).name}: {val.describe()}"
    return evaluation, ImageLookup(val.data, val.split), where


def _evaluate_job(model_path: str, data: str, split: str, job):
    from tlgui.core.results.evaluate import evaluate_model
    from tlgui.core.results.run_evaluation import ImageLookup

    evaluation = evaluate_model(model_path, data, split, "auto", 256, lambda d, n: job.report((d, n)), job)
    return evaluation, ImageLookup(data, split), f"{Path(model_path).name} on {data} ({split} split)"


class ResultsPanel(QWidget):
    evaluation_ready = Signal(object)  # tlgui.core.evaluate.Evaluation
    check_labels_requested = Signal(str)  # a run folder: review its labels (the shell opens Check labels)
    check_cell_labels_requested = Signal(str, str, str)  # the run, a cell's true and predicted class: its suspects

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("resultsPanel")
        self.evaluation = None
        self.lookup = None
        self.run_dir: str | None = None
        self.last_error = ""
        self._runner = TaskRunner(self)
        self._build()

    # -- construction -----------------------------------------------------------------
    def _build(self) -> None:
        form = self._build_form()
        status_row = self._build_status_row()
        matrix_box = self._build_matrix_box()
        self._build_tabs()
        self._build_results(matrix_box)
        layout = QVBoxLayout(self)
        layout.addWidget(form)
        layout.addLayout(status_row)
        layout.addWidget(self.stack, 1)
        self._set_busy(False)


    def _build_form(self) -> QGroupBox:
        form = QGroupBox("Evaluate a model")
        grid = QGridLayout(form)
        self.model_edit = QLineEdit(objectName="resultsModelEdit", placeholderText="a model.pt saved by tlgui")
        self.data_edit = QLineEdit(objectName="resultsDataEdit", placeholderText="an image folder, or demo:target")
        self.split_combo = QComboBox()
        self.split_combo.setObjectName("resultsSplitCombo")
        self.split_combo.addItems(["test", "train"])
        self.split_combo.setToolTip("Which part of a built-in or IDX data set to use (image folders ignore it unless "
                                    "they have train/test subfolders).")
        self.evaluate_button = QPushButton("Evaluate", objectName="evaluateButton")
        self.evaluate_button.clicked.connect(self._on_evaluate_clicked)
        browse_model = QPushButton("Browse…", objectName="browseModelButton")
        browse_model.clicked.connect(self._choose_model)
        browse_data = QPushButton("Folder…", objectName="browseDataButton")
        browse_data.clicked.connect(self._choose_data)
        grid.addWidget(QLabel("Model file:"), 0, 0)
        grid.addWidget(self.model_edit, 0, 1, 1, 3)
        grid.addWidget(browse_model, 0, 4)
        grid.addWidget(QLabel("Data:"), 1, 0)
        grid.addWidget(self.data_edit, 1, 1)
        grid.addWidget(browse_data, 1, 2)
        grid.addWidget(self.split_combo, 1, 3)
        grid.addWidget(self.evaluate_button, 1, 4)
        grid.setColumnStretch(1, 1)
        return form

    def _build_status_row(self) -> QHBoxLayout:
        self.progress = QProgressBar()
        self.progress.setObjectName("resultsProgress")
        self.progress.setVisible(False)
        self.stop_button = QPushButton("Stop", objectName="resultsStopButton")
        self.stop_button.setVisible(False)
        self.stop_button.clicked.connect(self.stop)
        self.status = QLabel("", objectName="resultsStatus", wordWrap=True)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        status_row = QHBoxLayout()
        status_row.addWidget(self.status, 1)
        status_row.addWidget(self.progress)
        status_row.addWidget(self.stop_button)
        return status_row

    def _build_matrix_box(self) -> QGroupBox:
        self.headline = QLabel("", objectName="resultsHeadline", wordWrap=True)
        self.headline.setTextFormat(Qt.TextFormat.RichText)

        self.confusion = ConfusionMatrixView()
        self.confusion.cell_clicked.connect(self.show_cell)
        matrix_box = QGroupBox("Confusion matrix")
        matrix_layout = QVBoxLayout(matrix_box)
        matrix_layout.addWidget(self.confusion, 1)
        hint = QLabel("Rows: the true class. Columns: what the model said. Blue: correct, orange: mistakes; "
                      "darker = a larger share of that class. Click a cell to see its images.", wordWrap=True)
        hint.setEnabled(False)
        matrix_layout.addWidget(hint)
        return matrix_box

    def _build_tabs(self) -> None:
        self.tabs = EvaluationTabs()
        self.table, self.cell_label = self.tabs.table, self.tabs.cell_label
        self.gallery, self.gallery_channels = self.tabs.gallery, self.tabs.gallery_channels
        self.top_losses, self.top_losses_channels = self.tabs.top_losses, self.tabs.top_losses_channels
        self.check_cell_button = self.tabs.check_cell_button
        self.check_cell_button.clicked.connect(self._check_cell_labels)

    def _build_results(self, matrix_box: QGroupBox) -> None:
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(matrix_box)
        splitter.addWidget(self.tabs)
        splitter.setStretchFactor(0, 4)
        splitter.setStretchFactor(1, 5)
        splitter.setChildrenCollapsible(False)

        self.save_png_button = QPushButton("Save plot as PNG…", objectName="savePngButton")
        self.save_png_button.clicked.connect(self._save_png)
        self.save_csv_button = QPushButton("Save tables as CSV…", objectName="saveCsvButton")
        self.save_csv_button.clicked.connect(self._save_csv)
        self.check_labels_button = QPushButton("Check labels…", objectName="checkLabelsFromResults", enabled=False)
        self.check_labels_button.setToolTip("Find the run's images whose label is probably wrong, and fix them")
        self.check_labels_button.clicked.connect(lambda: self.check_labels_requested.emit(self.run_dir or ""))
        buttons = QHBoxLayout()
        buttons.addWidget(self.check_labels_button)
        buttons.addStretch(1)
        buttons.addWidget(self.save_png_button)
        buttons.addWidget(self.save_csv_button)
        results = QWidget()
        results_layout = QVBoxLayout(results)
        results_layout.setContentsMargins(0, 0, 0, 0)
        results_layout.addWidget(self.headline)
        results_layout.addWidget(splitter, 1)
        results_layout.addLayout(buttons)

        self.empty = QLabel(EMPTY_TEXT, objectName="resultsEmpty", alignment=Qt.AlignmentFlag.AlignCenter,
                            wordWrap=True)
        self.empty.setEnabled(False)
        self.stack = QStackedWidget()
        self.stack.addWidget(self.empty)
        self.stack.addWidget(results)

    # -- public API -------------------------------------------------------------------
    def show_run(self, run_dir: str) -> None:
        """Evaluate ``run_dir/model.pt`` on the run's own validation images (background)."""
        run_dir = str(run_dir)
        self.run_dir = run_dir
        self.model_edit.setText(str(Path(run_dir) / "model.pt"))
        try:
            import json

            config = json.loads((Path(run_dir) / "config.json").read_text(encoding="utf-8"))
            self.data_edit.setText(str(config.get("val_data") or config.get("data") or ""))
            self._select_split(config.get("val_split_name", "test") if config.get("val_data")
                               else config.get("split", "train"))
        except (OSError, ValueError, AttributeError):
            pass
        self._start(lambda job: _evaluate_run_job(run_dir, job),
                    f"Evaluating run {Path(run_dir).name} on its validation images…")

    def evaluate(self, model_path: str, data_spec: str, split: str = "test") -> None:
        """Evaluate any tlgui model file on any data source (background)."""
        self.run_dir = None
        self.model_edit.setText(str(model_path))
        self.data_edit.setText(str(data_spec))
        self._select_split(split)
        self._start(lambda job: _evaluate_job(str(model_path), str(data_spec), split, job),
                    f"Evaluating {Path(model_path).name} on {data_spec}…")

    def is_busy(self) -> bool:
        return self._runner.busy()

    def wait_idle(self, msecs: int = 30000) -> bool:
        ok = self._runner.wait(msecs)
        return self.tabs.wait_idle(msecs) and ok

    @Slot()
    def stop(self) -> None:
        if self._runner.busy():
            self._runner.cancel_all()
            self._set_busy(False)
            self.status.setText("Evaluation stopped.")

    def closeEvent(self, event) -> None:  # Qt override
        self._runner.shutdown()
        self.tabs.shutdown()
        super().closeEvent(event)

    # -- running ----------------------------------------------------------------------
    def _start(self, fn, text: str) -> None:
        self._runner.cancel_all()
        self.last_error = ""
        self.status.setStyleSheet("")
        self.status.setText(text)
        self.progress.setRange(0, 0)
        self._set_busy(True)
        self._runner.start(fn, self._on_done, self._on_error, self._on_progress, name="evaluate")

    def _set_busy(self, busy: bool) -> None:
        self.progress.setVisible(busy)
        self.stop_button.setVisible(busy)
        self.evaluate_button.setEnabled(not busy)
        has = self.evaluation is not None
        self.save_png_button.setEnabled(has)
        self.save_csv_button.setEnabled(has)

    @Slot(object)
    def _on_progress(self, payload) -> None:
        done, total = payload
        self.progress.setRange(0, max(1, int(total)))
        self.progress.setValue(int(done))

    @Slot(object)
    def _on_error(self, exc) -> None:
        from tlgui.workers.training import describe_exception

        message = describe_exception(exc).replace("Training stopped because of", "The evaluation failed because of")
        self.last_error = message
        self._set_busy(False)
        self.status.setStyleSheet("color: #c0392b;")
        self.status.setText(f"Could not evaluate: {message}")

    @Slot(object)
    def _on_done(self, payload) -> None:
        evaluation, lookup, where = payload
        self.evaluation, self.lookup = evaluation, lookup
        self.gallery.model_path = self.top_losses.model_path = self.model_edit.text()
        for button in (self.check_labels_button, self.check_cell_button):
            button.setEnabled(bool(self.run_dir))
        self._set_busy(False)
        self._show(evaluation, where)
        self.evaluation_ready.emit(evaluation)

    # -- views ------------------------------------------------------------------------
    def _show(self, ev, where: str) -> None:
        m = ev.metrics()
        skipped = f" {len(ev.skipped)} unreadable image(s) were left out." if ev.skipped else ""
        self.status.setText(f"Evaluated {where}.{skipped}")
        self.headline.setText(
            f"<span style='font-size:15pt'><b>Accuracy {percent(ev.accuracy)}</b></span>"
            f"&nbsp;&nbsp;&nbsp; Balanced accuracy {percent(m['balanced_accuracy'])}"
            f"&nbsp;&nbsp;&nbsp; Macro F1 {m['macro_f1']:.3f}"
            f"&nbsp;&nbsp;&nbsp; <span style='color:gray'>on {ev.n:,} images, {len(ev.classes)} classes</span>"
        )
        self.headline.setToolTip(
            "Accuracy: share of all images classified correctly.\n"
            "Balanced accuracy: the average of each class's accuracy, so small classes count as much as big ones.\n"
            "Macro F1: the average F1 over classes (1.0 is perfect)."
        )
        self.confusion.set_data(ev.classes, ev.confusion)
        self.tabs.show_evaluation(ev, self.lookup)
        self.stack.setCurrentIndex(1)

    @Slot(int, int)
    def show_cell(self, true: int, predicted: int) -> None:
        """Fill the gallery with the images of class ``true`` that were called ``predicted``."""
        ev = self.evaluation
        if ev is None:
            return
        if self.confusion.selected() != (true, predicted):
            self.confusion.select(true, predicted, emit=False)
        rows = self.cell_rows(true, predicted)
        self.tabs.show_cell(ev, self.lookup, rows, predicted, self.confusion.describe_cell(true, predicted))

    @Slot()
    def _check_cell_labels(self) -> None:
        cell, ev = self.confusion.selected(), self.evaluation
        if cell is None or ev is None:
            self.check_labels_requested.emit(self.run_dir or "")
        else:
            self.check_cell_labels_requested.emit(self.run_dir or "", ev.classes[cell[0]], ev.classes[cell[1]])

    def cell_rows(self, true: int, predicted: int) -> np.ndarray:
        ev = self.evaluation
        if ev is None:
            return np.zeros(0, dtype=np.int64)
        return np.flatnonzero((ev.targets == true) & (ev.predictions == predicted))

    # -- helpers ----------------------------------------------------------------------
    def _select_split(self, split: str) -> None:
        index = self.split_combo.findText(str(split))
        if index >= 0:
            self.split_combo.setCurrentIndex(index)

    def _start_dir(self) -> str:
        if self.run_dir:
            return self.run_dir
        model = self.model_edit.text().strip()
        return str(Path(model).parent) if model else str(Path.home())

    @Slot()
    def _on_evaluate_clicked(self) -> None:
        model, data = self.model_edit.text().strip(), self.data_edit.text().strip()
        if not model or not data:
            self.status.setStyleSheet("color: #c0392b;")
            self.status.setText("Choose a model file and the data to evaluate it on first.")
            return
        self.evaluate(model, data, self.split_combo.currentText())

    @Slot()
    def _choose_model(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Choose a model file", self._start_dir(),
                                              "tlgui models (*.pt);;All files (*)")
        if path:
            self.model_edit.setText(path)

    @Slot()
    def _choose_data(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Choose an image folder", self._start_dir())
        if path:
            self.data_edit.setText(path)

    @Slot()
    def _save_png(self) -> None:
        if self.evaluation is not None:
            self.status.setText(save_widget_png(self, self.confusion, Path(self._start_dir()) / "confusion.png",
                                                "the confusion matrix") or self.status.text())

    @Slot()
    def _save_csv(self) -> None:
        if self.evaluation is not None:
            self.status.setText(save_tables_csv(self, self.evaluation, self._start_dir()) or self.status.text())
