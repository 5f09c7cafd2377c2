"""The weights library dialog: which pretrained weights are on this computer, importing a
file someone copied over, and (only when asked) downloading one.

Listing, importing and downloading run on background jobs (:mod:`tlgui.ui.base.background`);
the GUI thread only fills the table and moves the progress bar.
"""

from __future__ import annotations

from html import escape
from pathlib import Path
from urllib.parse import urlparse

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QDialog,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QVBoxLayout,
)

from tlgui.core.base.download import CONNECT_TIMEOUT
from tlgui.ui.base.background import Job, TaskRunner
from tlgui.ui.dialogs import weights_library as library
from tlgui.ui.dialogs.weights_table import (
    PAYLOAD_ROLE,
    PRESENT_COLUMN,
    WEIGHT_COLUMNS,
    ArchitectureDialog,
    ProgressRow,
    RowsFilter,
    RowsModel,
    push_button,
    table_view,
)

_OK = "color: #1b7a2f;"
_ERROR = "color: #b00020;"


class WeightsLibraryDialog(QDialog):
    """Every architecture × torchvision weights entry, and whether it is on this computer."""

    weights_chosen = Signal(str, str)  # (architecture, "default" or a weight file path)
    listed = Signal()  # the table has been (re)filled
    operation_finished = Signal(str, bool, str)  # ("import" | "download", ok, message)

    opener = None  # the download opener (None: urllib); tests set a fake one
    download_timeout = CONNECT_TIMEOUT

    def __init__(self, parent=None, architecture: str | None = None, opener=None):
        super().__init__(parent)
        self.setObjectName("weightsLibraryDialog")
        self.setWindowTitle("Pretrained weights library")
        self.setAcceptDrops(True)
        if opener is not None:
            self.opener = opener
        self._architecture = architecture
        self._runner = TaskRunner(self)
        self._list_runner = TaskRunner(self)
        self._job: Job | None = None
        self._op = ""
        self._select_after: str | None = None
        self._asking: ArchitectureDialog | None = None
        self._import_path = ""
        self._closed = False

        self._build_widgets()
        self._lay_out()
        self.resize(1080, 640)

        self.search.textChanged.connect(self._on_filter_changed)
        self.only_offline.toggled.connect(self._on_filter_changed)
        self._on_filter_changed()
        self._update_buttons()
        self.refresh()

    def _build_widgets(self) -> None:
        from tlgui.core.library.catalog import library_dirs

        folders = "<br>".join(f"<code>{escape(str(d))}</code>" for d in library_dirs())
        self.intro = QLabel(
            "Weights tlgui can start from without internet. Files are looked for in:<br>" + folders
            + "<br>Import a file copied from another computer (or drop it here), or download one."
        )
        self.intro.setWordWrap(True)
        self.intro.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.search = QLineEdit(self._architecture or "")
        self.search.setObjectName("weightsSearch")
        self.search.setPlaceholderText("Search architectures, entries or file names")
        self.search.setClearButtonEnabled(True)
        self.only_offline = QCheckBox("Only available offline")
        self.only_offline.setObjectName("weightsOnlyOffline")
        self.count_label = QLabel("Reading the list of weights…")
        self.count_label.setObjectName("weightsCount")

        self.model = RowsModel(WEIGHT_COLUMNS, self, right=(3, 4, 5))
        self.proxy = RowsFilter(self)
        self.proxy.setSourceModel(self.model)
        self.table = table_view("weightsTable", self.proxy)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        # what is on this computer first (the sort is stable: architectures stay in order)
        self.table.sortByColumn(PRESENT_COLUMN, Qt.SortOrder.DescendingOrder)
        self.table.doubleClicked.connect(self.use_selected)
        self.table.selectionModel().selectionChanged.connect(self._update_buttons)

        self.progress = ProgressRow("weightsProgress")
        self.progress.cancel_clicked.connect(self.cancel)
        self.message = QLabel()
        self.message.setObjectName("weightsMessage")
        self.message.setWordWrap(True)
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.message.hide()

        self.import_button = push_button("Import file…", "weightsImport", self.choose_file)
        self.download_button = push_button("Download…", "weightsDownload", self.download_selected)
        self.use_button = push_button("Use these weights", "weightsUse", self.use_selected)
        self.use_button.setDefault(True)
        self.close_button = push_button("Close", "weightsClose", self.reject)

    def _lay_out(self) -> None:
        search_row = QHBoxLayout()
        search_row.addWidget(self.search, 1)
        search_row.addWidget(self.only_offline)
        search_row.addWidget(self.count_label)
        buttons = QHBoxLayout()
        for widget in (self.import_button, self.download_button):
            buttons.addWidget(widget)
        buttons.addStretch(1)
        buttons.addWidget(self.use_button)
        buttons.addWidget(self.close_button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.intro)
        layout.addLayout(search_row)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.progress)
        layout.addWidget(self.message)
        layout.addLayout(buttons)

    # ------------------------------------------------------------------ public API

    def refresh(self) -> None:
        """Re-read which weight files are present (in the background); emits ``listed``."""
        if self._closed:
            return  # a late signal after closing must not start new jobs
        self._list_runner.cancel_all()
        self._list_runner.start(library.list_library, self._on_listed, self._on_list_failed, name="list-weights")

    def selected(self):
        """The selected WeightInfo or CustomWeights (None when nothing is selected)."""
        rows = self.table.selectionModel().selectedRows()
        return rows[0].data(PAYLOAD_ROLE) if rows else None

    def select(self, architecture: str, entry: str | None = None) -> bool:
        """Select the row of ``architecture`` (its ``entry``, default: its default entry)."""
        return self._select_where(
            lambda p: getattr(p, "architecture", None) == architecture
            and (getattr(p, "entry", None) == entry if entry else getattr(p, "is_default", False))
        )

    def busy(self) -> bool:
        """An import or download is running (until its job has ended and been handled)."""
        return self._job is not None

    def wait_idle(self, msecs: int = 10000) -> bool:
        return self._runner.wait(msecs) and self._list_runner.wait(msecs)

    @Slot()
    def choose_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Import a weight file", str(Path.home()),
            "Weight files (*.pth *.pt *.safetensors *.bin);;All files (*)"
        )
        if path:
            self.import_file(path)

    def import_file(self, path: str, architecture: str | None = None) -> None:
        """Import ``path`` into the library in the background (progress bar, Cancel)."""
        def work(job: Job):
            from tlgui.core.library.importing import import_weights

            return import_weights(path, architecture, progress=lambda d, t: job.report((d, t)),
                                  cancel=job)

        self._import_path = path
        self._begin("import", f"Importing {Path(path).name}…", work, self._on_imported, self._on_import_failed)

    @Slot()
    def download_selected(self) -> None:
        """Download the selected entry (only ever on this click)."""
        info = self.selected()
        if info is None or not hasattr(info, "entry") or info.present:
            return
        opener, timeout = self.opener, self.download_timeout

        def work(job: Job):
            from tlgui.core.library.download import download_weights

            return download_weights(
                info.architecture, info.entry, progress=lambda d, t: job.report((d, t)),
                cancel=job, opener=opener, timeout=timeout,
            )

        host = urlparse(info.url).netloc
        self._begin("download", f"Downloading {info.file_name} from {host}…", work, self._on_downloaded,
                    self._on_download_failed)

    @Slot()
    def use_selected(self) -> None:
        info = self.selected()
        if info is None or not self.use_button.isEnabled():
            return
        if hasattr(info, "entry"):
            self.weights_chosen.emit(info.architecture, "default" if info.is_default else info.path)
        else:
            self.weights_chosen.emit(info.architecture, info.path)
        self.accept()

    @Slot()
    def cancel(self) -> None:
        if self._job is not None:
            self._job.cancel()
            self.progress.cancel_button.setEnabled(False)
            self.progress.label.setText("Cancelling…")

    def done(self, result: int) -> None:  # Qt override: every way of closing ends here
        self._closed = True
        self._runner.shutdown()
        self._list_runner.shutdown()
        super().done(result)

    # ------------------------------------------------------------------ drag and drop

    def dragEnterEvent(self, event) -> None:
        if library.dropped_weight_files(event.mimeData()) and not self.busy():
            event.acceptProposedAction()
        else:
            event.ignore()

    def dropEvent(self, event) -> None:
        files = library.dropped_weight_files(event.mimeData())
        if not files or self.busy():
            event.ignore()
            return
        event.acceptProposedAction()
        self.import_file(files[0])

    # ------------------------------------------------------------------ jobs

    def _begin(self, op: str, text: str, work, on_done, on_error) -> None:
        if self._closed:
            return
        if self.busy():
            self._say("Please wait until the current import or download has finished.", error=True)
            return
        self._op = op
        self.message.hide()
        self.progress.start(text)
        self._job = self._runner.start(work, on_done, on_error, self._on_progress, name=f"weights-{op}",
                                       on_ended=self._on_job_ended)
        self._update_buttons()

    @Slot(object)
    def _on_progress(self, payload) -> None:
        done, total = payload
        self.progress.set_progress(done, total)

    @Slot()
    def _on_job_ended(self) -> None:
        job, self._job = self._job, None
        self.progress.stop()
        self._update_buttons()
        if job is not None and job.cancelled() and not self._closed:
            what = "Import" if self._op == "import" else "Download"
            self._finish(False, f"{what} cancelled; nothing was saved.")
            self.refresh()  # in case it completed just as Cancel was pressed

    def _finish(self, ok: bool, text: str) -> None:
        self._say(text, error=not ok)
        self.operation_finished.emit(self._op, ok, text)

    @Slot(object)
    def _on_imported(self, result) -> None:
        self._select_after = str(result.path)
        self._finish(True, library.import_message(result))
        self.refresh()

    @Slot(object)
    def _on_import_failed(self, exc: BaseException) -> None:
        path, text = self._import_path, str(exc)
        reason = library.unknown_architecture(text)
        if reason is not None:
            self._finish(False, f"Could not tell which architecture {Path(path).name} is for.")
            self._ask_architecture(path, reason)
            return
        self._finish(False, library.sentence(text))

    def _ask_architecture(self, path: str, reason: str) -> None:
        dialog = ArchitectureDialog(Path(path).name, reason, self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose, True)
        dialog.accepted.connect(lambda: self.import_file(path, dialog.architecture()))
        self._asking = dialog
        dialog.open()  # window-modal, no nested event loop

    @Slot(object)
    def _on_downloaded(self, result) -> None:
        self._select_after = str(result.path)
        size = f"{result.bytes / 2**20:.1f} MB"
        text = (
            f"{result.architecture} {result.entry} was already on this computer."
            if result.already_present
            else f"Downloaded {result.path.name} ({size}); it is available offline now."
        )
        self._finish(True, text)
        self.refresh()

    @Slot(object)
    def _on_download_failed(self, exc) -> None:
        self._finish(False, library.sentence(str(exc)))

    @Slot(object)
    def _on_listed(self, rows) -> None:
        keep = library.row_key(self.selected())
        self.model.set_rows(rows)
        if self._select_after and self._select_where(lambda p: p.path == self._select_after):
            self._select_after = None
        elif keep is not None:
            self._select_where(lambda p: library.row_key(p) == keep)
        elif self._architecture:
            if not self.select(self._architecture) and not self.proxy.rowCount():
                self._say(
                    f"torchvision publishes no pretrained weights for {self._architecture}; "
                    "clear the search to see every architecture.", error=True,
                )
            self._architecture = None  # only the first listing follows the constructor
        self._update_count()
        self._update_buttons()
        self.listed.emit()

    @Slot(object)
    def _on_list_failed(self, exc) -> None:
        self.count_label.setText("Could not read the list")
        self._say(f"Could not list the weights: {exc}", error=True)
        self.listed.emit()

    # ------------------------------------------------------------------ view

    def _select_where(self, test) -> bool:
        for row in range(self.proxy.rowCount()):
            index = self.proxy.index(row, 0)
            if test(index.data(PAYLOAD_ROLE)):
                self.table.selectRow(row)
                self.table.scrollTo(index, QAbstractItemView.ScrollHint.PositionAtCenter)
                return True
        return False

    @Slot()
    def _on_filter_changed(self) -> None:
        self.proxy.set_text(self.search.text())
        self.proxy.set_predicate((lambda p: p.path is not None) if self.only_offline.isChecked() else None)
        self._update_count()

    def _update_count(self) -> None:
        rows = self.model.rows()
        if not rows:
            return
        present = sum(1 for r in rows if r.payload.path is not None)
        shown = self.proxy.rowCount()
        self.count_label.setText(f"{shown} of {len(rows)} shown · {present} on this computer")

    @Slot()
    def _update_buttons(self) -> None:
        info = self.selected()
        busy = self.busy()
        is_entry = info is not None and hasattr(info, "entry")
        present = info is not None and info.path is not None
        self.import_button.setEnabled(not busy)
        self.download_button.setEnabled(not busy and is_entry and not present)
        usable = present and bool(getattr(info, "architecture", None)) and not getattr(info, "problem", None)
        self.use_button.setEnabled(not busy and usable)
        if info is None:
            tip = "Select a row first"
        elif not present:
            tip = "Not on this computer: import or download it first"
        else:
            tip = f"Start from {info.path}"
        self.use_button.setToolTip(tip)
        self.download_button.setToolTip(getattr(info, "url", "") if is_entry and not present else "")

    def _say(self, text: str, error: bool = False) -> None:
        self.message.setText(text)
        self.message.setStyleSheet(_ERROR if error else _OK)
        self.message.show()
