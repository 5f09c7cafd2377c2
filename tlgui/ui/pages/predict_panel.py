"""Predict: drop pictures (or folders) on the panel and see what a trained model calls them.

The model is loaded once, on a background thread, and kept (``core.predict.Predictor``);
each drop is classified in the background and added to the table with a thumbnail and the
top-k classes. Files that cannot be read are listed with the reason.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Signal, Slot
from PySide6.QtGui import QImage
from PySide6.QtWidgets import (
    QCheckBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from tlgui.ui.base.background import TaskRunner
from tlgui.ui.widgets.channel_toggle import ChannelToggle, render
from tlgui.ui.widgets.gallery import HeatmapLookup, load_thumbnails, to_qimage
from tlgui.ui.widgets.predictions_table import ICON, PredictionsTable

DROP_TEXT = ("Drop pictures or folders here to see what the model calls them.\n"
             "(or use “Add images…” / “Add folder…” below)")
NO_MODEL_TEXT = ("Choose a model first (“Choose model…” above, or pick a run in the Runs tab).\n"
                 "Then drop pictures here.")


def _predict_job(predictor, model_path: str, paths: list[str], job):
    """Worker thread: (predictor, report); the predictor is loaded on first use and kept."""
    from tlgui.core.results.predict import Predictor, collect_image_files

    if predictor is None:
        predictor = Predictor.from_file(model_path)
    files, problems = collect_image_files(paths)
    report = predictor.predict_files(files, len(predictor.classes), lambda d, n: job.report((d, n)), job)
    report.unreadable = problems + report.unreadable
    return predictor, model_path, report


class PredictPanel(QWidget):
    predictions_ready = Signal(object)  # list[core.predict.Prediction] added by one drop

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("predictPanel")
        self.setAcceptDrops(True)
        self.model_path: str | None = None
        self.predictor = None
        self.predictions: list = []  # core.predict.Prediction, every class in .top
        self.unreadable: list[tuple[str, str]] = []
        self.classes: list[str] = []
        self.last_error = ""
        self._generation = 0
        self._pending: list[str] = []
        self._active = False  # a prediction job runs (its thread may outlive this flag briefly)
        self._runner = TaskRunner(self)
        self._thumbs = TaskRunner(self)
        self._smalls: dict[int, object] = {}  # table row -> its small raw image (channel toggle)
        self._build()

    def _build(self) -> None:
        self.model_label = QLabel("No model chosen yet. Train one, pick a run, or choose a model file.",
                                  objectName="predictModelLabel", wordWrap=True)
        choose = QPushButton("Choose model…", objectName="chooseModelButton")
        choose.clicked.connect(self._choose_model)
        top = QHBoxLayout()
        top.addWidget(self.model_label, 1)
        top.addWidget(choose)

        self.table = PredictionsTable(NO_MODEL_TEXT)

        self.unreadable_label = QLabel("", objectName="unreadableLabel")
        self.unreadable_list = QListWidget()
        self.unreadable_list.setObjectName("unreadableList")
        for widget in (self.unreadable_label, self.unreadable_list):
            widget.setVisible(False)

        self.add_files_button = QPushButton("Add images…", objectName="addImagesButton")
        self.add_files_button.clicked.connect(self._choose_files)
        self.add_folder_button = QPushButton("Add folder…", objectName="addFolderButton")
        self.add_folder_button.clicked.connect(self._choose_folder)
        self.clear_button = QPushButton("Clear", objectName="clearPredictionsButton")
        self.clear_button.clicked.connect(self.clear)
        self.k_spin = QSpinBox(minimum=1, maximum=20, value=3)
        self.k_spin.setObjectName("topKSpin")
        self.k_spin.setToolTip("How many of the most likely classes to show for each picture")
        self.k_spin.valueChanged.connect(self._refresh_text)
        self.save_button = QPushButton("Save as CSV…", objectName="savePredictionsButton")
        self.save_button.clicked.connect(self._save_csv)
        self.heatmap_box = QCheckBox("Show where it looked", objectName="predictHeatmapToggle")
        self.heatmap_box.setToolTip("Colour each picture by where the model looked to make its choice (Grad-CAM)")
        self.heatmap_box.toggled.connect(self._reload_icons)
        buttons = QHBoxLayout()
        for widget in (self.add_files_button, self.add_folder_button, self.clear_button, self.heatmap_box):
            buttons.addWidget(widget)
        buttons.addStretch(1)
        buttons.addWidget(QLabel("Show top"))
        buttons.addWidget(self.k_spin)
        buttons.addWidget(QLabel("classes"))
        buttons.addSpacing(12)
        buttons.addWidget(self.save_button)

        self.status = QLabel("", objectName="predictStatus", wordWrap=True)
        self.progress = QProgressBar()
        self.progress.setObjectName("predictProgress")
        self.progress.setVisible(False)
        status_row = QHBoxLayout()
        status_row.addWidget(self.status, 1)
        status_row.addWidget(self.progress)

        self.channel_toggle = ChannelToggle()  # shown once a picture has channels to toggle
        self.channel_toggle.changed.connect(self._on_channels_toggled)

        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.channel_toggle)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.unreadable_label)
        layout.addWidget(self.unreadable_list)
        layout.addLayout(status_row)
        layout.addLayout(buttons)
        self._update_buttons()

    # -- public API -------------------------------------------------------------------
    def set_model(self, model_path: str) -> None:
        """Use ``model_path`` (a tlgui model.pt) from now on; earlier results are cleared."""
        self._runner.cancel_all()
        self._pending = []
        self.model_path = str(model_path)
        self.predictor = None
        self.clear()
        path = Path(self.model_path)
        where = f"{path.parent.name}/{path.name}" if path.parent.name else path.name
        self.model_label.setText(f"Model: <b>{where}</b>")
        self.model_label.setToolTip(str(path))
        self.table.placeholder = DROP_TEXT
        self.table.viewport().update()
        self._update_buttons()

    def add_paths(self, paths: list[str]) -> None:
        """Classify image files and folders (searched recursively) in the background."""
        paths = [str(p) for p in paths if str(p)]
        if not paths:
            return
        if not self.model_path:
            self._say("Choose a model first (“Choose model…”), then add pictures.", error=True)
            return
        if self._active:
            self._pending += paths  # one job at a time: the predictor is not shared
            return
        self.last_error = ""
        self._say(f"Classifying {len(paths)} item(s)…")
        self.progress.setRange(0, 0)
        self.progress.setVisible(True)
        predictor, model_path = self.predictor, self.model_path
        self._active = True
        self._runner.start(lambda job: _predict_job(predictor, model_path, paths, job),
                           self._on_done, self._on_error, self._on_progress, name="predict", on_ended=self._next)
        self._update_buttons()

    @Slot()
    def clear(self) -> None:
        self._thumbs.cancel_all()
        self._generation += 1
        self.predictions, self.unreadable = [], []
        self.table.setRowCount(0)
        self._smalls = {}
        self.channel_toggle.set_channels(0)
        self.unreadable_list.clear()
        for widget in (self.unreadable_label, self.unreadable_list):
            widget.setVisible(False)
        self.status.setText("")
        self._update_buttons()

    def labels(self) -> dict[str, str]:
        """File path -> predicted class, for everything shown."""
        return {p.path: p.label for p in self.predictions}

    def shown_top(self, row: int) -> list[str]:
        """The class names shown in ``row`` (best first)."""
        return self.table.shown_top(row)

    def report(self):
        """A PredictionReport with the top-k shown now (for CSV)."""
        from tlgui.core.results.predict import Prediction, PredictionReport

        k = self.k_spin.value()
        shown = [Prediction(p.path, p.label, p.probability, p.top[:k]) for p in self.predictions]
        return PredictionReport(self.classes, shown, list(self.unreadable), top_k=min(k, max(1, len(self.classes))))

    def busy(self) -> bool:
        return self._active or bool(self._pending)

    def wait_idle(self, msecs: int = 30000) -> bool:
        return self._runner.wait(msecs) and self._thumbs.wait(msecs)

    def closeEvent(self, event) -> None:  # Qt override
        self._pending = []
        self._runner.shutdown()
        self._thumbs.shutdown()
        super().closeEvent(event)

    # -- drops ------------------------------------------------------------------------
    @staticmethod
    def _local_paths(mime) -> list[str]:
        if mime is None or not mime.hasUrls():
            return []
        return [url.toLocalFile() for url in mime.urls() if url.isLocalFile()]

    def dragEnterEvent(self, event) -> None:  # Qt override
        if self._local_paths(event.mimeData()):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dragMoveEvent(self, event) -> None:  # Qt override
        self.dragEnterEvent(event)

    def dropEvent(self, event) -> None:  # Qt override
        paths = self._local_paths(event.mimeData())
        if not paths:
            event.ignore()
            return
        event.acceptProposedAction()
        self.add_paths(paths)

    # -- results ----------------------------------------------------------------------
    @Slot(object)
    def _on_progress(self, payload) -> None:
        done, total = payload
        self.progress.setRange(0, max(1, int(total)))
        self.progress.setValue(int(done))

    @Slot(object)
    def _on_error(self, exc) -> None:
        from tlgui.workers.training import describe_exception

        self.progress.setVisible(False)
        self.last_error = describe_exception(exc).replace("Training stopped because of", "Prediction failed because of")
        self._say(f"Could not classify: {self.last_error}", error=True)

    @Slot(object)
    def _on_done(self, payload) -> None:
        predictor, model_path, report = payload
        self.progress.setVisible(False)
        if model_path != self.model_path:
            return  # the model changed meanwhile
        self.predictor = predictor
        self.classes = list(report.classes)
        start = self.table.rowCount()
        self.predictions += report.predictions
        self.table.add_rows(report.predictions)
        self._refresh_text()
        self._add_unreadable(report.unreadable)
        if not report.predictions and not report.unreadable:
            self._say("No pictures found there (tlgui reads PNG, JPEG, BMP, GIF, TIFF and WebP files).", error=True)
        else:
            bad = f"; {len(report.unreadable)} could not be read" if report.unreadable else ""
            self._say(f"Classified {len(report.predictions)} picture(s){bad}.")
        self._load_icons(start, [p.path for p in report.predictions])
        self._update_buttons()
        self.predictions_ready.emit(report.predictions)

    @Slot()
    def _next(self) -> None:
        """A prediction thread ended (done, failed or cancelled): start what was dropped meanwhile."""
        self._active = False
        self.progress.setVisible(False)
        self._update_buttons()
        if self._pending:
            paths, self._pending = self._pending, []
            self.add_paths(paths)

    @Slot()
    def _refresh_text(self) -> None:
        self.table.show_top(self.predictions, self.k_spin.value())

    def _add_unreadable(self, problems) -> None:
        if not problems:
            return
        self.unreadable += list(problems)
        for path, reason in problems:
            self.unreadable_list.addItem(f"{Path(path).name} — {reason}   ({path})")
        self.unreadable_label.setText(f"<b>{len(self.unreadable)} file(s) could not be read:</b>")
        rows = min(len(self.unreadable), 4)
        self.unreadable_list.setFixedHeight(rows * self.unreadable_list.sizeHintForRow(0)
                                            + 2 * self.unreadable_list.frameWidth() + 2)
        for widget in (self.unreadable_label, self.unreadable_list):
            widget.setVisible(True)

    def _load_icons(self, start: int, paths: list[str]) -> None:
        if not paths:
            return
        from tlgui.core.results.run_evaluation import ImageLookup

        tag = (self._generation, start)
        lookup: ImageLookup | HeatmapLookup = ImageLookup()
        if self.heatmap_box.isChecked() and self.model_path:
            lookup = HeatmapLookup(lookup, self.model_path)  # the model is built on the job's thread
        self._thumbs.start(lambda job: load_thumbnails(lookup, paths, tag, ICON, job),
                           None, None, self._on_icons, name="thumbnails")

    @Slot()
    def _reload_icons(self) -> None:
        self._thumbs.cancel_all()
        self._load_icons(0, [p.path for p in self.predictions])

    @Slot(object)
    def _on_icons(self, payload) -> None:
        (generation, start), batch = payload
        if generation != self._generation:
            return
        for row, thumb in batch:
            item = self.table.item(start + row, 0)
            if item is None or thumb is None:
                continue
            if thumb.channels:
                self._smalls[start + row] = thumb.small
                self.channel_toggle.grow_to(thumb.channels)
            visible = self.channel_toggle.visible_channels()
            self.table.set_icon(item, render(thumb.small, visible) if thumb.channels and not all(visible)
                           else to_qimage(thumb.rgb))

    @Slot(object)
    def _on_channels_toggled(self, visible: list[bool]) -> None:
        for row, small in self._smalls.items():
            item = self.table.item(row, 0)
            if item is not None:
                self.table.set_icon(item, render(small, visible))

    def icon_image(self, row: int) -> QImage:
        """The picture shown in ``row`` (for tests)."""
        return self.table.icon_image(row)

    def icon_count(self) -> int:
        return self.table.icon_count()

    # -- buttons ----------------------------------------------------------------------
    def _update_buttons(self) -> None:
        has_model = bool(self.model_path)
        self.add_files_button.setEnabled(has_model)
        self.add_folder_button.setEnabled(has_model)
        self.save_button.setEnabled(bool(self.predictions))
        self.clear_button.setEnabled(bool(self.predictions or self.unreadable))

    def _say(self, text: str, error: bool = False) -> None:
        self.status.setStyleSheet("color: #c0392b;" if error else "")
        self.status.setText(text)

    def _start_dir(self) -> str:
        return str(Path(self.model_path).parent) if self.model_path else str(Path.home())

    @Slot()
    def _choose_model(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Choose a model file", self._start_dir(),
                                              "tlgui models (*.pt);;All files (*)")
        if path:
            self.set_model(path)

    @Slot()
    def _choose_files(self) -> None:
        files, _ = QFileDialog.getOpenFileNames(
            self, "Choose pictures", str(Path.home()),
            "Images (*.png *.jpg *.jpeg *.bmp *.gif *.tif *.tiff *.webp);;All files (*)")
        self.add_paths(files)

    @Slot()
    def _choose_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Choose a folder of pictures", str(Path.home()))
        if folder:
            self.add_paths([folder])

    @Slot()
    def _save_csv(self) -> None:
        if not self.predictions:
            return
        path, _ = QFileDialog.getSaveFileName(self, "Save predictions as CSV",
                                              str(Path(self._start_dir()) / "predictions.csv"), "CSV files (*.csv)")
        if not path:
            return
        from tlgui.core.results.predict import write_predictions_csv

        try:
            write_predictions_csv(path, self.report())
        except Exception as exc:  # noqa: BLE001 - an unwritable place is a message
            self._say(f"Could not save {path}: {exc}", error=True)
            return
        self._say(f"Saved {len(self.predictions)} prediction(s) to {path}")
