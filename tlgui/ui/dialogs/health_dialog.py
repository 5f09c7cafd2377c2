"""Dataset health check: decode every image once (in the background) and list what is wrong.

The scan is :func:`tlgui.core.scan.scan_folder` (or :func:`scan_pair` with a validation
folder) on a background job; the dialog shows a one-line summary, counts per class, and
every problem file with its reason. Its result is cached by the core, so training then
skips the unreadable files without opening them.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from html import escape
from pathlib import Path

from PySide6.QtCore import QPoint, Qt, QUrl, Signal, Slot
from PySide6.QtGui import QAction, QDesktopServices
from PySide6.QtWidgets import (
    QApplication,
    QDialog,
    QFileDialog,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMenu,
    QTabWidget,
    QVBoxLayout,
)

from tlgui.ui.base.background import Job, TaskRunner
from tlgui.ui.dialogs.weights_table import (
    ERROR_COLOUR,
    PAYLOAD_ROLE,
    ProgressRow,
    Row,
    RowsFilter,
    RowsModel,
    push_button,
    table_view,
)

_OK = "color: #1b7a2f;"
_WARN = "color: #8a5300;"
_ERROR = "color: #b00020;"
PROBLEM_COLUMNS = ("Problem", "File", "Details")


def _rel(path: str, root: str) -> str:
    prefix = root.rstrip(os.sep) + os.sep
    if path.startswith(prefix):  # the usual case, without relpath's normalising (it adds up)
        return path[len(prefix):]
    try:
        return os.path.relpath(path, root)
    except ValueError:  # another drive on Windows
        return path


def _class_of(path: str, root: str) -> str:
    return Path(_rel(path, root)).parts[0]


def _others(paths: list[str], me: str, root: str) -> str:
    rest = [p for p in paths if p != me]
    more = f" and {len(rest) - 2} more" if len(rest) > 2 else ""
    return ", ".join(_rel(p, root) for p in rest[:2]) + more


def problem_list(report, label: str = "") -> list[tuple[str, str, str, str]]:
    """(kind, path, root, details) for each problem of one :class:`ScanReport`."""
    root, tag = report.folder, f" ({label})" if label else ""
    out = [("Unreadable" + tag, b["path"], root, b["reason"]) for b in report.bad]
    for group in report.duplicates:
        class_of = {p: _class_of(p, root) for p in group}
        classes = set(class_of.values())
        for path in group:
            if len(classes) > 1:
                out.append((
                    "Same image in another class" + tag, path, root,
                    f"also labelled as {', '.join(sorted(classes - {class_of[path]}))}: "
                    f"{_others(group, path, root)} (conflicting labels)",
                ))  # fmt: skip
            else:
                out.append(("Duplicate" + tag, path, root, f"same content as {_others(group, path, root)}"))
    for o in getattr(report, "odd", []):
        out.append(("Unlike the rest" + tag, o["path"], root, f"{o['reason']} (skipped by training)"))
    for t in report.tiny:
        out.append(("Tiny image" + tag, t["path"], root, f"{t['width']}×{t['height']} pixels (used, but very small)"))
    for name in report.empty_classes:
        out.append(("Empty class" + tag, str(Path(root) / name), root,
                    "no readable images; training ignores this class"))
    return out


def summary_text(report) -> str:
    """N usable images in K classes; B unreadable; D duplicate groups; imbalance."""
    parts = [f"<b>{report.usable:,}</b> usable images in <b>{len(report.classes)}</b> classes"]
    parts.append(f"{len(report.bad):,} unreadable")
    parts.append(f"{len(report.duplicates):,} duplicate group(s)")
    if report.tiny:
        parts.append(f"{len(report.tiny):,} tiny")
    if report.empty_classes:
        parts.append(f"{len(report.empty_classes)} empty class(es)")
    parts.append("classes imbalanced" if report.imbalance else "classes balanced")
    if getattr(report, "summary", ""):  # channels, bit depth and value range of the images
        parts.append(report.summary.replace(f", {report.usable:,} images", ""))
    return "; ".join(parts)


@dataclass
class Presentation:
    """What the dialog shows for a report; built on the worker thread (reports can list
    thousands of duplicates), so the GUI thread only hands rows to the models."""

    summary: str
    notes: list[str]
    problems: list[Row]
    classes: list[Row]
    class_count: int
    paired: bool


def present(report) -> Presentation:
    paired = hasattr(report, "cross_duplicates")
    train, val = (report.train, report.val) if paired else (report, None)
    problems = problem_list(train, "training" if paired else "")
    notes = list(train.warnings)
    text = summary_text(train)
    if val is not None:
        problems += problem_list(val, "validation")
        for group in report.cross_duplicates:
            for path in group["val"]:
                shown = _others(group["train"], "", train.folder)
                problems.append(("In training and validation", path, val.folder,
                                 f"also in the training folder: {shown}"))
        notes += [f"validation: {w}" for w in val.warnings] + list(report.warnings)
        overlap = sum(len(g["val"]) for g in report.cross_duplicates)
        text = f"Training: {text}.<br>Validation: {summary_text(val)}; {overlap:,} also in training"
    if not problems:
        text += ".<br><span style='color:#1b7a2f'>No problem files found</span>"
    rows = [
        Row((kind, _rel(path, root), detail), payload=path, tooltips={1: path},
            colours={0: ERROR_COLOUR} if kind.startswith(("Unreadable", "Same image", "In training")) else {})
        for kind, path, root, detail in problems
    ]  # fmt: skip
    total = max(1, train.usable)
    classes = []
    for name in list(train.counts) + list(train.empty_classes):
        n = train.counts.get(name, 0)
        cells, keys = [name, f"{n:,}", f"{100 * n / total:.1f} %"], [None, n, n]
        if val is not None:
            cells.append(f"{val.counts.get(name, 0):,}")
            keys.append(val.counts.get(name, 0))
        classes.append(Row(cells, keys, payload=name, colours={1: ERROR_COLOUR} if n == 0 else {}))
    summary = text + ("." if not text.endswith(".") else "")
    return Presentation(summary, notes, rows, classes, len(train.classes), paired)


class DatasetHealthDialog(QDialog):
    """Check a class-per-folder image set (and its validation folder) for problems."""

    scan_finished = Signal(object)  # ScanReport, or PairReport when a validation folder was given

    def __init__(self, folder: str | None = None, val_folder: str | None = None, parent=None):
        super().__init__(parent)
        self.setObjectName("datasetHealthDialog")
        self.setWindowTitle("Dataset health check")
        self._runner = TaskRunner(self)
        self._closed = False
        self._job: Job | None = None
        self._phase = 0
        self.report = None

        self.folder_edit = _edit("healthFolder", folder, "folder with one sub-folder per class")
        self.val_edit = _edit("healthValFolder", val_folder, "optional: a separate validation folder")
        self.start_button = push_button("Check", "healthStart", self.start)
        self.start_button.setDefault(True)
        grid = QGridLayout()
        grid.setColumnStretch(1, 1)
        for row, (text, edit, name) in enumerate(
            (("Training images:", self.folder_edit, "healthChooseFolder"),
             ("Validation images:", self.val_edit, "healthChooseVal"))
        ):  # fmt: skip
            grid.addWidget(QLabel(text), row, 0)
            grid.addWidget(edit, row, 1)
            grid.addWidget(push_button("Choose…", name, lambda _=False, e=edit: self._choose(e)), row, 2)
        grid.addWidget(self.start_button, 0, 3)

        self.progress = ProgressRow("healthProgress")
        self.progress.cancel_clicked.connect(self.cancel)
        self.summary = _label("healthSummary")
        self.summary.setText("Every image is decoded once; nothing is changed in your folders.")
        self.warnings = _label("healthWarnings")
        self.warnings.setTextFormat(Qt.TextFormat.PlainText)  # class names are the user's text
        self.warnings.setStyleSheet(_WARN)
        self.warnings.hide()

        self.problems_model = RowsModel(PROBLEM_COLUMNS, self)
        self.problems = table_view("healthProblems", _proxy(self.problems_model, self), fit=False)
        self.problems.horizontalHeader().setDefaultSectionSize(200)
        self.problems.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.problems.customContextMenuRequested.connect(self._problem_menu)
        self.classes_model = RowsModel(("Class", "Usable images", "Share"), self, right=(1, 2))
        self.classes = table_view("healthClasses", _proxy(self.classes_model, self), stretch=0)
        self.tabs = QTabWidget()
        self.tabs.setObjectName("healthTabs")
        self.tabs.addTab(self.problems, "Problems")
        self.tabs.addTab(self.classes, "Classes")

        self.export_button = push_button("Export report…", "healthExport", self.export_report)
        self.export_button.setEnabled(False)
        buttons = QHBoxLayout()
        buttons.addWidget(self.export_button)
        buttons.addStretch(1)
        buttons.addWidget(push_button("Close", "healthClose", self.reject))

        layout = QVBoxLayout(self)
        layout.addLayout(grid)
        layout.addWidget(self.progress)
        layout.addWidget(self.summary)
        layout.addWidget(self.warnings)
        layout.addWidget(self.tabs, 1)
        layout.addLayout(buttons)
        self.resize(860, 560)

    # ------------------------------------------------------------------ public API

    def start(self) -> None:
        """Scan the folder(s) in the background; emits ``scan_finished`` with the report."""
        folder, val = self.folder_edit.text().strip(), self.val_edit.text().strip()
        if not folder:
            self._say("Choose the folder to check first.", _ERROR)
            return
        if self._job is not None or self._closed:
            return

        def work(job: Job):
            from tlgui.core.data.scan import scan_folder, scan_pair

            report = lambda done, total: job.report((done, total))  # noqa: E731
            if val:
                pair = scan_pair(folder, val, report, job)
                return pair, present(pair)
            scan = scan_folder(folder, report, job)
            return scan, present(scan)

        self._phase = 0
        self._paired = bool(val)
        self.start_button.setEnabled(False)
        self.export_button.setEnabled(False)
        self.progress.start(self._phase_text())
        self._job = self._runner.start(work, self._on_scanned, self._on_failed, self._on_progress, name="health-scan",
                                       on_ended=self._on_job_ended)

    @Slot()
    def cancel(self) -> None:
        if self._job is not None:
            self._job.cancel()
            self.progress.cancel_button.setEnabled(False)
            self.progress.label.setText("Stopping…")

    def busy(self) -> bool:
        return self._job is not None

    def wait_idle(self, msecs: int = 10000) -> bool:
        return self._runner.wait(msecs)

    def done(self, result: int) -> None:  # Qt override: every way of closing ends here
        self._closed = True
        self._runner.shutdown()
        super().done(result)

    @Slot()
    def export_report(self) -> None:
        if self.report is None:
            return
        path, _ = QFileDialog.getSaveFileName(
            self, "Export the health report", str(Path.home() / "health-report.json"), "JSON (*.json)"
        )
        if not path:
            return
        try:
            Path(path).write_text(json.dumps(self.report.to_json(), indent=2) + "\n", encoding="utf-8")
        except OSError as exc:
            self._say(f"Could not write {path}: {exc.strerror or exc}.", _ERROR)
            return
        self._say(f"Report saved to {path}.", _OK)

    def problem_actions(self, row: int) -> list[QAction]:
        """The context actions for problem ``row`` of the view: open its folder, copy its path."""
        path = self.problems.model().index(row, 0).data(PAYLOAD_ROLE)
        folder = path if os.path.isdir(path) else os.path.dirname(path)
        open_folder = QAction("Open folder", self.problems)
        open_folder.setObjectName("healthOpenFolder")
        open_folder.triggered.connect(lambda: QDesktopServices.openUrl(QUrl.fromLocalFile(folder)))
        copy = QAction("Copy path", self.problems)
        copy.setObjectName("healthCopyPath")
        copy.triggered.connect(lambda: QApplication.clipboard().setText(path))
        return [open_folder, copy]

    # ------------------------------------------------------------------ job

    def _phase_text(self) -> str:
        if not self._paired:
            return "Checking every image…"
        return "Checking training images…" if self._phase == 0 else "Checking validation images…"

    @Slot(object)
    def _on_progress(self, payload) -> None:
        done, total = payload
        self.progress.set_progress(done, total, "images", self._phase_text())
        if done >= total:
            self._phase += 1

    @Slot(object)
    def _on_scanned(self, payload) -> None:
        report, view = payload
        self.report = report
        self._show(view)
        self.export_button.setEnabled(True)
        self.scan_finished.emit(report)

    @Slot(object)
    def _on_failed(self, exc) -> None:
        self._say(str(exc)[:1].upper() + str(exc)[1:], _ERROR)

    @Slot()
    def _on_job_ended(self) -> None:
        job, self._job = self._job, None
        self.progress.stop()
        self.start_button.setEnabled(True)
        if job is not None and job.cancelled():
            self._say("Check cancelled; nothing was saved. Press Check to start again.", _WARN)

    # ------------------------------------------------------------------ view

    def _show(self, view: Presentation) -> None:
        self.summary.setText(view.summary)
        self.summary.setStyleSheet("")
        self.warnings.setText("\n".join("⚠ " + n[:1].upper() + n[1:] for n in view.notes))
        self.warnings.setVisible(bool(view.notes))
        self.problems_model.set_rows(view.problems)
        self.tabs.setTabText(0, f"Problems ({len(view.problems):,})")
        for column in (0, 1):
            self.problems.resizeColumnToContents(column)
            self.problems.setColumnWidth(column, min(self.problems.columnWidth(column) + 12, 320))
        if view.paired and self.classes_model.columnCount() == 3:
            self.classes_model = RowsModel(("Class", "Training images", "Share", "Validation images"), self,
                                           right=(1, 2, 3))
            self.classes.setModel(_proxy(self.classes_model, self))
        self.classes_model.set_rows(view.classes)
        self.tabs.setTabText(1, f"Classes ({view.class_count})")

    @Slot(QPoint)
    def _problem_menu(self, pos: QPoint) -> None:
        index = self.problems.indexAt(pos)
        if not index.isValid():
            return
        menu = QMenu(self)
        for action in self.problem_actions(index.row()):
            menu.addAction(action)
        menu.exec(self.problems.viewport().mapToGlobal(pos))

    def _choose(self, edit: QLineEdit) -> None:
        start = edit.text().strip() or self.folder_edit.text().strip() or str(Path.home())
        path = QFileDialog.getExistingDirectory(self, "Choose a folder of images", start)
        if path:
            edit.setText(path)

    def _say(self, text: str, style: str) -> None:
        self.summary.setText(escape(text))
        self.summary.setStyleSheet(style)


def _proxy(model, parent) -> RowsFilter:
    proxy = RowsFilter(parent)
    proxy.setSourceModel(model)
    return proxy



def _edit(name: str, text: str | None, placeholder: str) -> QLineEdit:
    edit = QLineEdit(text or "")
    edit.setObjectName(name)
    edit.setPlaceholderText(placeholder)
    return edit


def _label(name: str) -> QLabel:
    label = QLabel()
    label.setObjectName(name)
    label.setWordWrap(True)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    return label

