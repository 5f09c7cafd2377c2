"""My models: every model a run left behind, ready to be the start of the next one
(train on MNIST, then start from that model for Fashion-MNIST).

The list is :func:`tlgui.core.my_models.list_my_models`, read on a background job (each
file is opened memory-mapped and weights-only); damaged files are listed with the reason.
"""

from __future__ import annotations

import datetime as _dt
import os
from collections.abc import Iterable
from html import escape
from pathlib import Path

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QVBoxLayout,
    QWidget,
)

from tlgui.ui.base.background import TaskRunner
from tlgui.ui.dialogs.weights_table import (
    ERROR_COLOUR,
    PAYLOAD_ROLE,
    Row,
    RowsFilter,
    RowsModel,
    push_button,
    table_view,
)

COLUMNS = ("Name", "Architecture", "Trained on", "Classes", "Accuracy", "Date", "Problem")
STARTS = {"none": "random weights", "default": "ImageNet weights", "demo:source": "the demo source model"}


def local_date(iso: str | None) -> str:
    """``2025-06-01T12:03:00+00:00`` -> ``2025-06-01 14:03`` in local time."""
    if not iso:
        return "—"
    try:
        stamp = _dt.datetime.fromisoformat(iso)
    except ValueError:
        return iso
    if stamp.tzinfo is not None:
        stamp = stamp.astimezone()
    return stamp.strftime("%Y-%m-%d %H:%M")


def model_rows(models) -> list[Row]:
    rows = []
    for m in models:
        names = ", ".join(m.classes[:20]) + (f" … ({m.num_classes} in all)" if m.num_classes > 20 else "")
        accuracy = f"{100 * m.accuracy:.1f} %" if m.accuracy is not None else "—"
        # the row already names the file: "PATH is not a ..." reads "Not a ..."
        problem = (m.problem or "").removeprefix(m.path).strip().removeprefix("is ")
        rows.append(Row(
            cells=(m.name, m.architecture or "?", m.source_data or "—", str(m.num_classes) if m.ok else "—",
                   accuracy, local_date(m.date), problem[:1].upper() + problem[1:]),
            keys=(None, None, None, m.num_classes, m.accuracy if m.accuracy is not None else -1.0, m.date or "", None),
            payload=m,
            search=f"{m.name} {m.architecture or ''} {m.source_data or ''} {' '.join(m.classes)}",
            tooltips={0: m.path, 3: names, 6: m.problem or ""},
            colours={6: ERROR_COLOUR, 0: ERROR_COLOUR} if m.problem else {},
        ))  # fmt: skip
    return rows


class MyModelsDialog(QDialog):
    """The models earlier runs produced; "Start from this model" hands one to the model panel."""

    model_chosen = Signal(str, str)  # (architecture, path of the model.pt)
    listed = Signal()  # the table has been (re)filled

    def __init__(self, parent: QWidget | None = None, extra_dirs: Iterable[str | os.PathLike[str]] = ()) -> None:
        super().__init__(parent)
        from tlgui import paths

        self.setObjectName("myModelsDialog")
        self.setWindowTitle("My models")
        self._runner = TaskRunner(self)
        self._closed = False
        self._extra: list[str] = [str(d) for d in extra_dirs]
        self._select_after: str | None = None

        intro = QLabel(
            "Models your training runs saved. Start a new training from one of them to reuse what it "
            "learned — for example, train on MNIST, then start from that model for Fashion-MNIST.<br>"
            f"Looked for in <code>{escape(str(paths.runs_dir()))}</code>, "
            f"<code>{escape(str(paths.models_dir()))}</code> and folders you add."
        )
        intro.setWordWrap(True)
        intro.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.search = QLineEdit()
        self.search.setObjectName("myModelsSearch")
        self.search.setPlaceholderText("Search names, architectures, data sets or classes")
        self.search.setClearButtonEnabled(True)
        self.count_label = QLabel("Looking for models…")
        self.count_label.setObjectName("myModelsCount")

        self.model = RowsModel(COLUMNS, self, right=(3, 4))
        self.proxy = RowsFilter(self)
        self.proxy.setSourceModel(self.model)
        self.table = table_view("myModelsTable", self.proxy)  # newest first, as listed
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.doubleClicked.connect(self.use_selected)
        self.table.selectionModel().selectionChanged.connect(self._on_selection)

        self.details = QLabel()
        self.details.setObjectName("myModelsDetails")
        self.details.setWordWrap(True)
        self.details.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.details.setMinimumHeight(3 * self.fontMetrics().height())
        self.details.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)

        self.add_button = push_button("Add folder…", "myModelsAddFolder", self.choose_folder)
        self.refresh_button = push_button("Refresh", "myModelsRefresh", self.refresh)
        self.use_button = push_button("Start from this model", "myModelsUse", self.use_selected)
        self.use_button.setDefault(True)
        top = QHBoxLayout()
        top.addWidget(self.search, 1)
        top.addWidget(self.count_label)
        buttons = QHBoxLayout()
        buttons.addWidget(self.add_button)
        buttons.addWidget(self.refresh_button)
        buttons.addStretch(1)
        buttons.addWidget(self.use_button)
        buttons.addWidget(push_button("Close", "myModelsClose", self.reject))
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addLayout(top)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.details)
        layout.addLayout(buttons)
        self.resize(940, 520)

        self.search.textChanged.connect(self._on_search)
        self._on_selection()
        self.refresh()

    # ------------------------------------------------------------------ public API

    def extra_dirs(self) -> list[str]:
        return list(self._extra)

    def refresh(self) -> None:
        """Read the model files again (in the background); emits ``listed``."""
        from tlgui.core.library.my_models import list_my_models

        if self._closed:
            return
        extra = list(self._extra)
        self._runner.cancel_all()
        self._runner.start(lambda job: list_my_models(extra), self._on_listed, self._on_failed, name="my-models")

    @Slot()
    def choose_folder(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Add a folder of runs or models", str(Path.home()))
        if path:
            self.add_folder(path)

    def add_folder(self, path: str) -> None:
        """Also list models in ``path`` and its direct sub-folders."""
        if path not in self._extra:
            self._extra.append(path)
        self.refresh()

    def selected(self):
        """The selected MyModel (None when nothing is selected)."""
        rows = self.table.selectionModel().selectedRows()
        return rows[0].data(PAYLOAD_ROLE) if rows else None

    def select_path(self, path: str) -> bool:
        for row in range(self.proxy.rowCount()):
            if self.proxy.index(row, 0).data(PAYLOAD_ROLE).path == path:
                self.table.selectRow(row)
                return True
        return False

    @Slot()
    def use_selected(self) -> None:
        model = self.selected()
        if model is None or not model.ok:
            return
        self.model_chosen.emit(model.architecture, model.path)
        self.accept()

    def wait_idle(self, msecs: int = 10000) -> bool:
        return self._runner.wait(msecs)

    def done(self, result: int) -> None:  # Qt override: every way of closing ends here
        self._closed = True
        self._runner.shutdown()
        super().done(result)

    # ------------------------------------------------------------------ view

    @Slot(object)
    def _on_listed(self, models) -> None:
        keep = self.selected()
        self.model.set_rows(model_rows(models))
        if keep is not None:
            self.select_path(keep.path)
        elif self.proxy.rowCount():
            first_ok = next((r for r in range(self.proxy.rowCount())
                             if self.proxy.index(r, 0).data(PAYLOAD_ROLE).ok), None)  # fmt: skip
            if first_ok is not None:
                self.table.selectRow(first_ok)
        self._update_count()
        self._on_selection()
        self.listed.emit()

    @Slot(object)
    def _on_failed(self, exc) -> None:
        self.count_label.setText("Could not list the models")
        self.details.setText(f"Could not list the models: {exc}")
        self.listed.emit()

    @Slot(str)
    def _on_search(self, text: str) -> None:
        self.proxy.set_text(text)
        self._update_count()

    def _update_count(self) -> None:
        total = self.model.rowCount()
        if total == 0:
            self.count_label.setText("No models yet")
            self.details.setText(
                "No trained models yet. Train one (for example on MNIST) and it appears here; "
                "or add a folder that holds earlier runs."
            )
            return
        shown = self.proxy.rowCount()
        self.count_label.setText(f"{shown} of {total} shown" if shown != total else f"{total} model(s)")

    @Slot()
    def _on_selection(self, *_args) -> None:
        m = self.selected()
        self.use_button.setEnabled(m is not None and m.ok)
        if m is None:
            if self.model.rowCount():
                self.details.setText("Select a model to see its details.")
            return
        if not m.ok:
            self.details.setText(f"<b>{escape(m.name)}</b> cannot be used: {escape(m.problem)}")
            self.details.setStyleSheet("color: #b00020;")
            return
        self.details.setStyleSheet("")
        classes = escape(", ".join(m.classes[:12]) + (" …" if m.num_classes > 12 else ""))
        weights = m.weights or "none"
        started = escape(STARTS[weights]) if weights in STARTS else f"<code>{escape(weights)}</code>"
        best = f" (best {100 * m.best_accuracy:.1f} %)" if m.best_accuracy is not None else ""
        acc = f"{100 * m.accuracy:.1f} %{best}" if m.accuracy is not None else "not measured"
        self.details.setText(
            f"<b>{escape(m.name)}</b>: {m.architecture} trained on <code>{escape(m.source_data or '?')}</code>, "
            f"started from {started}; validation accuracy {acc}.<br>"
            f"{m.num_classes} classes: {classes}<br><code>{escape(m.path)}</code>"
        )


