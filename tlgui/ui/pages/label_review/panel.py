"""Check labels: which of a run's labels are probably wrong, and fixing them.

The check (out-of-fold predictions and confident learning, ``tlgui check-labels``) runs in a
background job; it ranks every image by how suspicious its label is. The gallery shows the ones
confident learning flags ("Flagged only", the default) or the top of the whole ranking, with the
given and suggested class, the confidence and, toggled, where the model looked. Each decision (K Keep, R Relabel as the
chosen class, X Exclude; arrows move) is written at once to the data set's corrections CSV
in the user's data folder: the image files are never changed. "Retrain with corrections"
asks the shell to put that CSV into the Train page's next run.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from PySide6.QtCore import QSize, Qt, Signal, Slot
from PySide6.QtGui import QIcon, QKeySequence, QPixmap, QShortcut
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QListView,
    QListWidget,
    QListWidgetItem,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from tlgui.ui.base.background import TaskRunner
from tlgui.ui.pages.label_review.jobs import SIDE, check_run
from tlgui.ui.widgets.gallery import paint_placeholder, percent, short_name, to_qimage

PATH_ROLE = Qt.ItemDataRole.UserRole + 10
EMPTY = "Open a run from the Results page (Check labels…) to look for images whose label is probably wrong."


class _SuspectList(QListWidget):
    placeholder = ""  # painted while the list is empty

    def paintEvent(self, event) -> None:  # Qt override
        super().paintEvent(event)
        if self.count() == 0:
            paint_placeholder(self, self.viewport(), self.placeholder)


class LabelReviewPanel(QWidget):
    retrain_requested = Signal(str, str)  # the data set, the corrections CSV

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("labelReviewPanel")
        self._runner = TaskRunner(self)
        self.review = None  # jobs.ReviewData of the last check
        self.run_dir: str | None = None
        self.decisions: dict[str, str] = {}  # path -> class name or "exclude"
        self.corrections_path: Path | None = None
        self.focus: tuple[str, str] | None = None  # (given, suggested): one confusion-matrix cell's suspects
        self.shown: list[int] = []  # the gallery's rows -> indices into review.suspects
        self.last_error = ""
        self._build()
        self._update_buttons()

    def _build(self) -> None:
        self.header = QLabel(EMPTY, objectName="reviewHeader", wordWrap=True)
        self.check_button = QPushButton("Check labels", objectName="reviewCheckButton", enabled=False)
        self.check_button.clicked.connect(self.start_check)
        self.heatmap_box = QCheckBox("Show where it looked", objectName="reviewHeatmapToggle", checked=True)
        self.heatmap_box.toggled.connect(self._refresh_icons)
        self.flagged_box = QCheckBox("Flagged only", objectName="reviewFlaggedOnly", checked=True)
        self.flagged_box.setToolTip("Only the labels confident learning finds wrong; untick to see the most "
                                    "suspicious labels of all images, flagged or not")
        self.flagged_box.toggled.connect(self._fill)
        self.show_all_button = QPushButton("Show all suspects", objectName="showAllSuspectsButton", visible=False)
        self.show_all_button.setToolTip("Show the suspects of every class, not only those of the chosen cell")
        self.show_all_button.clicked.connect(self.show_all)
        top = QHBoxLayout()
        top.addWidget(self.header, 1)
        top.addWidget(self.show_all_button)
        top.addWidget(self.flagged_box)
        top.addWidget(self.heatmap_box)
        top.addWidget(self.check_button)
        self.status = QLabel("", objectName="reviewStatus", wordWrap=True)
        self.progress = QProgressBar()
        self.progress.setObjectName("reviewProgress")
        self.progress.setVisible(False)
        self.progress.setRange(0, 0)
        self.gallery = _SuspectList()
        self.gallery.setObjectName("suspectsGallery")
        self.gallery.placeholder = "No check yet."
        self.gallery.setViewMode(QListView.ViewMode.IconMode)
        self.gallery.setIconSize(QSize(SIDE, SIDE))
        line = self.gallery.fontMetrics().height()
        self.gallery.setGridSize(QSize(SIDE + 60, SIDE + 3 * line + 16))
        self.gallery.setResizeMode(QListView.ResizeMode.Adjust)
        self.gallery.setMovement(QListView.Movement.Static)
        self.gallery.setWordWrap(True)
        self.gallery.currentRowChanged.connect(self._on_current)
        self.keep_button = QPushButton("Keep (K)", objectName="keepButton")
        self.keep_button.setToolTip("The given label is right")
        self.keep_button.clicked.connect(self.keep)
        self.relabel_combo = QComboBox()
        self.relabel_combo.setObjectName("relabelCombo")
        self.relabel_button = QPushButton("Relabel as (R)", objectName="relabelButton")
        self.relabel_button.clicked.connect(self.relabel)
        self.exclude_button = QPushButton("Exclude (X)", objectName="excludeButton")
        self.exclude_button.setToolTip("Leave this image out of training and evaluation (the file stays where it is)")
        self.exclude_button.clicked.connect(self.exclude)
        decide = QHBoxLayout()
        for widget in (self.keep_button, self.relabel_button, self.relabel_combo, self.exclude_button):
            decide.addWidget(widget)
        decide.addStretch(1)
        self.corrections_label = QLabel("", objectName="correctionsLabel", wordWrap=True)
        self.corrections_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.export_button = QPushButton("Export corrections…", objectName="exportCorrectionsButton")
        self.export_button.clicked.connect(self._export)
        self.retrain_button = QPushButton("Retrain with corrections", objectName="retrainWithCorrectionsButton")
        self.retrain_button.clicked.connect(self._retrain)
        bottom = QHBoxLayout()
        bottom.addStretch(1)
        bottom.addWidget(self.export_button)
        bottom.addWidget(self.retrain_button)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.status)
        layout.addWidget(self.progress)
        layout.addWidget(self.gallery, 1)
        layout.addLayout(decide)
        layout.addWidget(self.corrections_label)
        layout.addLayout(bottom)
        for key, slot in (("K", self.keep), ("R", self.relabel), ("X", self.exclude)):
            QShortcut(QKeySequence(key), self, slot, context=Qt.ShortcutContext.WidgetWithChildrenShortcut)

    # -- public API -------------------------------------------------------------------
    def set_run(self, run_dir: str, start: bool = True, focus: tuple[str, str] | None = None) -> None:
        """Review the labels of ``run_dir``'s data (the check starts at once when ``start``).
        ``focus`` (given, suggested class): show only the suspects of that confusion-matrix cell;
        a check already made for this run is reused, only the filter changes."""
        self.focus = focus
        if self.review is not None and self.run_dir == str(run_dir) and not self.busy():
            self._say_header()
            self._fill()
            return
        self._runner.cancel_all()
        self.run_dir, self.review = str(run_dir), None
        self._say_header()
        self.gallery.clear()
        self.check_button.setEnabled(True)
        self._update_buttons()
        if start:
            self.start_check()

    @Slot()
    def show_all(self) -> None:
        self.focus = None
        self._say_header()
        self._fill()

    def _say_header(self) -> None:
        text = f"Labels of the data of run <b>{Path(self.run_dir or '').name}</b>" if self.run_dir else EMPTY
        if self.focus is not None:
            text += f": images labelled <b>{self.focus[0]}</b> that look like <b>{self.focus[1]}</b>"
        self.header.setText(text)
        self.show_all_button.setVisible(self.focus is not None)

    @Slot()
    def start_check(self) -> None:
        if not self.run_dir:
            return
        run_dir = self.run_dir
        self.review = None
        self.gallery.clear()
        self._set_busy(True, "Checking the labels: every image is scored by a model that never saw its label…")
        self._runner.start(lambda job: check_run(run_dir, 5, job), self._on_done, self._on_error,
                           self.status.setText, name="check-labels")

    def busy(self) -> bool:
        return self._runner.busy()

    def wait_idle(self, msecs: int = 60000) -> bool:
        return self._runner.wait(msecs)

    def closeEvent(self, event) -> None:  # Qt override
        self._runner.shutdown()
        super().closeEvent(event)

    # -- decisions ----------------------------------------------------------------------
    def current_path(self) -> str | None:
        item = self.gallery.currentItem()
        return item.data(PATH_ROLE) if item is not None else None

    @Slot()
    def keep(self) -> None:
        self._decide(None)

    @Slot()
    def relabel(self) -> None:
        if self.relabel_combo.currentText():
            self._decide(self.relabel_combo.currentText())

    @Slot()
    def exclude(self) -> None:
        if self.exclude_button.isEnabled():  # X is a shortcut: the same rule as the button
            self._decide("exclude")

    def _decide(self, label: str | None) -> None:
        path = self.current_path()
        if path is None or self.corrections_path is None:
            return
        if label is None:
            self.decisions.pop(path, None)
        else:
            self.decisions[path] = label
        self._save()
        self._caption(self.gallery.currentRow())
        row = self.gallery.currentRow()
        if row + 1 < self.gallery.count():
            self.gallery.setCurrentRow(row + 1)  # on to the next suspect

    def _save(self) -> None:
        from tlgui.core.data.corrections import write_corrections

        if self.corrections_path is None:  # (no check opened: nothing to save to)
            return
        try:
            write_corrections(self.corrections_path, self.decisions)
        except OSError as exc:
            self._say(f"Could not save the corrections to {self.corrections_path}: {exc.strerror or exc}", True)
            return
        count = len(self.decisions)
        self.corrections_label.setText(f"{count} correction{'' if count == 1 else 's'} saved in "
                                       f"{self.corrections_path} (your image files are not changed)")
        self._update_buttons()

    # -- job results --------------------------------------------------------------------
    @Slot(object)
    def _on_done(self, review) -> None:
        from tlgui.core.data.corrections import default_corrections_path, read_corrections

        self.review = review
        self._set_busy(False, f"{self._flagged_count()} flagged label(s), most suspicious first. "
                              f"Method: {review.method}.")
        self.corrections_path = default_corrections_path(review.data)
        self.decisions = {}
        if self.corrections_path.is_file():
            try:
                self.decisions = dict(read_corrections(self.corrections_path).labels)
            except Exception as exc:  # noqa: BLE001 - a damaged file is reported, not fatal
                self._say(f"Could not read the earlier corrections: {exc}", True)
        self.relabel_combo.clear()
        self.relabel_combo.addItems(review.classes)
        self._fill()

    def _flagged_count(self) -> int:
        return sum(bool(s.get("flagged", True)) for s in self.review.suspects) if self.review else 0

    @Slot()
    def _fill(self) -> None:
        """The gallery: the flagged suspects or the top of the whole ranking, all or the focused cell's."""
        review = self.review
        if review is None:
            return
        focus, flagged_only = self.focus, self.flagged_box.isChecked()
        pool = [i for i, s in enumerate(review.suspects) if not flagged_only or s.get("flagged", True)]
        self.shown = [i for i in pool if focus is None or (review.suspects[i]["given"], review.suspects[i]["suggested"])
                      == tuple(focus)]
        self.gallery.clear()
        what = "flagged label(s)" if flagged_only else \
            (f"most suspicious label(s) of the {review.images or len(review.suspects)} images "
             f"({self._flagged_count()} flagged)")
        part = (f"{len(self.shown)} of the {len(pool)} {what} are in this cell" if focus is not None
                else f"{len(pool)} {what}")
        self._say(f"{part}, most suspicious first. Method: {review.method}.")
        if focus is not None and not self.shown:
            self.gallery.placeholder = (f"None of the {len(pool)} suspects is labelled {focus[0]} and looks "
                                        f"like {focus[1]}: the other images do not contradict those labels. "
                                        "Show all suspects to see the rest.")
        elif flagged_only:
            self.gallery.placeholder = ("Nothing flagged: every label agrees with what the other images teach. "
                                        "Untick Flagged only to see the least certain labels anyway.")
        else:
            self.gallery.placeholder = "No images were checked."
        for row, index in enumerate(self.shown):
            suspect = review.suspects[index]
            entry = QListWidgetItem("")
            entry.setData(PATH_ROLE, suspect["path"])
            entry.setToolTip(suspect["path"])
            entry.setTextAlignment(Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop)
            self.gallery.addItem(entry)
            self._caption(row)
        self._refresh_icons()
        if self.shown:
            self.gallery.setCurrentRow(0)
        self.gallery.setFocus()
        self._update_buttons()

    @Slot(object)
    def _on_error(self, exc) -> None:
        from tlgui.workers.training import describe_exception

        self.last_error = describe_exception(exc).replace("Training stopped because of", "The check failed because of")
        self._set_busy(False, f"Could not check the labels: {self.last_error}")
        self.status.setStyleSheet("color: #c0392b;")

    def _caption(self, row: int) -> None:
        entry = self.gallery.item(row)
        if entry is None or self.review is None or row >= len(self.shown):
            return
        suspect = self.review.suspects[self.shown[row]]
        decision = self.decisions.get(suspect["path"])
        verdict = {None: "", "exclude": "\n✗ excluded"}.get(decision, f"\n✓ now {decision}")
        mark = "⚑ " if suspect.get("flagged", True) and not self.flagged_box.isChecked() else ""
        entry.setText(f"{mark}{short_name(suspect['path'])}\n{suspect['given']} → {suspect['suggested']} "
                      f"({percent(suspect['confidence'], 0)}){verdict}")

    @Slot()
    def _refresh_icons(self) -> None:
        if self.review is None:
            return
        source = self.review.heat if self.heatmap_box.isChecked() and self.review.heat else self.review.plain
        for row in range(self.gallery.count()):
            array = source.get(self.gallery.item(row).data(PATH_ROLE))
            if array is not None:  # small images enlarged with sharp pixels, as the results gallery does
                mode = Qt.TransformationMode.FastTransformation if max(array.shape[:2]) < SIDE \
                    else Qt.TransformationMode.SmoothTransformation
                pixmap = QPixmap.fromImage(to_qimage(array)).scaled(SIDE, SIDE, Qt.AspectRatioMode.KeepAspectRatio,
                                                                    mode)
                self.gallery.item(row).setIcon(QIcon(pixmap))

    @Slot(int)
    def _on_current(self, row: int) -> None:
        if self.review is not None and 0 <= row < len(self.shown):
            suspect = self.review.suspects[self.shown[row]]
            decided = self.decisions.get(suspect["path"])
            self.relabel_combo.setCurrentText(decided if decided not in (None, "exclude") else suspect["suggested"])
        self._update_buttons()

    # -- buttons ----------------------------------------------------------------------
    def _update_buttons(self) -> None:
        path = self.current_path()
        chosen = path is not None and self.review is not None
        for button in (self.keep_button, self.relabel_button, self.relabel_combo):
            button.setEnabled(chosen)
        # an image inside an IDX or built-in array set (e.g. "demo:target#3") cannot be left out
        # (training says so for such a row); relabelling it works
        in_array = path is not None and chosen and "#" in path and not Path(path).exists()
        self.exclude_button.setEnabled(chosen and not in_array)
        self.exclude_button.setToolTip("Only image files can be left out; relabel this one instead" if in_array else
                                       "Leave this image out of training and evaluation (the file stays where it is)")
        has_file = self.corrections_path is not None and self.corrections_path.is_file()
        self.export_button.setEnabled(has_file)
        self.retrain_button.setEnabled(has_file and bool(self.decisions))

    def _set_busy(self, busy: bool, text: str) -> None:
        self.status.setStyleSheet("")
        self.status.setText(text)
        self.progress.setVisible(busy)
        self.check_button.setEnabled(not busy and bool(self.run_dir))
        self._update_buttons()

    def _say(self, text: str, error: bool = False) -> None:
        self.status.setStyleSheet("color: #c0392b;" if error else "")
        self.status.setText(text)

    def _export(self) -> None:
        target, _ = QFileDialog.getSaveFileName(self, "Export corrections", str(Path.home() / "corrections.csv"),
                                                "CSV files (*.csv)")
        if target:
            self.export_to(target)

    def export_to(self, target: str) -> None:
        if self.corrections_path is None:  # (the button is off until a file is saved)
            return
        try:
            shutil.copyfile(self.corrections_path, target)
        except OSError as exc:
            self._say(f"Could not export the corrections to {target}: {exc.strerror or exc}", True)
            return
        self._say(f"Corrections exported to {target}.")

    def _retrain(self) -> None:
        if self.review is not None and self.corrections_path is not None:
            self.retrain_requested.emit(self.review.data, str(self.corrections_path))
