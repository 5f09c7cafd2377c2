"""Built-in data sets (MNIST, Fashion-MNIST, CIFAR...): find them on this computer, point
at a folder that holds them, or download them when the user clicks Download.

Every check opens the data with :func:`tlgui.core.sources.open_source` on a background job,
so the message ("found 60,000 training and 10,000 test images") is what training will see.
"""

from __future__ import annotations

from html import escape
from pathlib import Path

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QFileDialog,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QVBoxLayout,
)

from tlgui.core.base.download import CONNECT_TIMEOUT
from tlgui.core.data.builtin_sets import DOWNLOAD_HINT
from tlgui.ui.base.background import Job, TaskRunner
from tlgui.ui.dialogs.weights_table import ProgressRow, push_button

_OK = "color: #1b7a2f;"
_ERROR = "color: #b00020;"
DESCRIPTIONS = {
    "MNIST": ("Handwritten digits 0–9", "28×28 grayscale", "60,000 + 10,000", "about 11 MB"),
    "FashionMNIST": ("Clothing: T-shirt, trouser, … ankle boot (10 classes)", "28×28 grayscale", "60,000 + 10,000",
                     "about 30 MB"),
    "KMNIST": ("Cursive Japanese (Kuzushiji) characters (10 classes)", "28×28 grayscale", "60,000 + 10,000",
               "about 20 MB"),
    "CIFAR10": ("Everyday objects: plane, car, bird, … (10 classes)", "32×32 colour", "50,000 + 10,000",
                "about 163 MB"),
    "CIFAR100": ("Objects in 100 classes", "32×32 colour", "50,000 + 10,000", "about 161 MB"),
    "SVHN": ("House-number digits from Street View (reading it needs scipy)", "32×32 colour", "73,257 + 26,032",
             "about 182 MB"),
    "STL10": ("Objects in 10 classes, larger pictures", "96×96 colour", "5,000 + 8,000", "about 2.5 GB"),
}


def check_root(name: str, root: str, job: Job | None = None) -> tuple[str, str]:
    """Open both splits of ``name`` in ``root``; (spec, sentence) or DataError."""
    from tlgui.core.data.catalog import open_source

    spec = f"torchvision:{name}:{root}"
    train = open_source(spec, "train")
    test = open_source(spec, "test")
    return spec, (
        f"Found {len(train):,} training and {len(test):,} test images in {len(train.classes)} "
        f"classes in {root}."
    )


def probe(name: str, job: Job) -> tuple[str, str] | None:
    """The first remembered/downloaded/system folder that holds ``name`` (None: none does)."""
    from tlgui.core.base.errors import TlguiError
    from tlgui.core.data.dataset_download import candidate_roots

    for root in candidate_roots(name):
        if job.cancelled():
            return None
        try:
            return check_root(name, str(root))
        except (TlguiError, OSError):
            continue
    return None


class BuiltinDatasetDialog(QDialog):
    """Choose one of torchvision's data sets from a local folder (or download it)."""

    dataset_chosen = Signal(str)  # an open_source spec, e.g. "torchvision:FashionMNIST:/data"
    checked = Signal(bool, str)  # a folder was checked: (usable, message)
    download_finished = Signal(bool, str)  # (ok, message)

    opener = None  # the download opener (None: urllib); tests set a fake one
    download_timeout = CONNECT_TIMEOUT

    def __init__(self, parent=None, name: str | None = None, opener=None):
        super().__init__(parent)
        from tlgui.core.data.builtin_sets import KNOWN_TORCHVISION
        from tlgui.core.data.dataset_download import default_root

        self.setObjectName("builtinDatasetDialog")
        self.setWindowTitle("Built-in data sets")
        if opener is not None:
            self.opener = opener
        self._check_runner = TaskRunner(self)
        self._download_runner = TaskRunner(self)
        self._job: Job | None = None
        self._generation = 0
        self._spec: str | None = None
        self._closed = False

        self.name_combo = QComboBox()
        self.name_combo.setObjectName("builtinName")
        self.name_combo.addItems(list(KNOWN_TORCHVISION))
        self.about = QLabel()
        self.about.setObjectName("builtinAbout")
        self.about.setWordWrap(True)
        self.status = QLabel()
        self.status.setObjectName("builtinStatus")
        self.status.setWordWrap(True)
        self.status.setTextFormat(Qt.TextFormat.PlainText)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.status.setMinimumHeight(2 * self.fontMetrics().height())
        self.status.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        where = QLabel(f"Download… saves into <code>{escape(str(default_root()))}</code>")
        where.setObjectName("builtinDownloadFolder")
        where.setWordWrap(True)
        where.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.progress = ProgressRow("builtinProgress")
        self.progress.cancel_clicked.connect(self.cancel)

        self.locate_button = push_button("Locate folder…", "builtinLocate", self.locate)
        self.locate_button.setToolTip(
            "A folder you would give torchvision as root=, a folder of IDX files, "
            "or e.g. /usr/share/datasets/fashion-mnist"
        )
        self.download_button = push_button("Download…", "builtinDownload", self.download)
        self.use_button = push_button("Use this data set", "builtinUse", self.use)
        self.use_button.setDefault(True)

        top = QHBoxLayout()
        top.addWidget(QLabel("Data set:"))
        top.addWidget(self.name_combo, 1)
        found_box = QGroupBox("On this computer")
        found = QVBoxLayout(found_box)
        found.addWidget(self.status)
        found.addWidget(self.progress)
        found.addWidget(where)
        buttons = QHBoxLayout()
        buttons.addWidget(self.locate_button)
        buttons.addWidget(self.download_button)
        buttons.addStretch(1)
        buttons.addWidget(self.use_button)
        buttons.addWidget(push_button("Close", "builtinClose", self.reject))
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.about)
        layout.addSpacing(6)
        layout.addWidget(found_box)
        layout.addStretch(1)
        layout.addLayout(buttons)
        self.resize(660, 280)

        if name and self.name_combo.findText(name, Qt.MatchFlag.MatchFixedString) >= 0:
            self.name_combo.setCurrentIndex(self.name_combo.findText(name, Qt.MatchFlag.MatchFixedString))
        self.name_combo.currentTextChanged.connect(self._on_name_changed)
        self._on_name_changed(self.name())

    # ------------------------------------------------------------------ public API

    def name(self) -> str:
        return self.name_combo.currentText()

    def spec(self) -> str | None:
        """The spec of the data set found for the current name (None: not found yet)."""
        return self._spec

    @Slot()
    def locate(self) -> None:
        start = str(Path.home())
        path = QFileDialog.getExistingDirectory(self, f"Locate the folder that holds {self.name()}", start)
        if path:
            self.check_folder(path)

    def check_folder(self, root: str) -> None:
        """Check (in the background) that ``root`` holds the current data set; emits ``checked``."""
        name = self.name()
        self._start_check(f"Reading {name} in {root}…", lambda job: check_root(name, root, job))

    @Slot()
    def download(self) -> None:
        """Download the current data set into the app's data folder (only on this click)."""
        from tlgui.core.data.dataset_download import default_root, download_dataset

        if self._job is not None or self._closed:
            return
        name, root, opener, timeout = self.name(), default_root(), self.opener, self.download_timeout

        def work(job: Job):
            return download_dataset(name, root, job.report, job, opener, timeout)

        self._check_runner.cancel_all()  # a probe still running must not overwrite the status
        self._generation += 1
        self._say(f"Downloading {name}…", "")
        self.progress.start(f"Connecting for {name}…")
        self._job = self._download_runner.start(
            work, self._on_downloaded, self._on_download_failed, self._on_progress, name="dataset-download",
            on_ended=self._on_download_ended,
        )
        self._set_busy(True)

    @Slot()
    def use(self) -> None:
        if self._spec:
            self.dataset_chosen.emit(self._spec)
            self.accept()

    @Slot()
    def cancel(self) -> None:
        if self._job is not None:
            self._job.cancel()
            self.progress.cancel_button.setEnabled(False)
            self.progress.label.setText("Cancelling…")

    def busy(self) -> bool:
        return self._check_runner.busy() or self._job is not None

    def wait_idle(self, msecs: int = 10000) -> bool:
        return self._download_runner.wait(msecs) and self._check_runner.wait(msecs)

    def done(self, result: int) -> None:  # Qt override: every way of closing ends here
        self._closed = True
        self._download_runner.shutdown()
        self._check_runner.shutdown()
        super().done(result)

    # ------------------------------------------------------------------ checking

    @Slot(str)
    def _on_name_changed(self, name: str) -> None:
        about, pixels, count, size = DESCRIPTIONS.get(name, ("", "", "", ""))
        self.about.setText(f"{about}<br>{pixels} · {count} training + test images · download {size}")
        self.download_button.setToolTip(f"Download {name} from its published source ({size})")
        self._start_check(f"Looking for {name} on this computer…", lambda job: probe(name, job))

    def _start_check(self, text: str, work) -> None:
        from tlgui.core.base.errors import TlguiError

        if self._closed:
            return  # a late signal after closing must not start new jobs
        self._generation += 1
        generation = self._generation

        def run(job: Job):
            try:
                return generation, work(job), None
            except (TlguiError, OSError) as exc:  # plain words for the status line
                return generation, None, exc

        self._spec = None
        self._update_buttons()
        self._say(text, "")
        self._check_runner.cancel_all()
        self._check_runner.start(run, self._on_checked, self._on_check_crashed, name="dataset-check")

    @Slot(object)
    def _on_checked(self, outcome) -> None:
        generation, result, error = outcome
        if generation != self._generation:
            return  # the user picked another data set meanwhile
        if error is not None:
            self._on_check_crashed(error)
            return
        if result is None:
            text = f"{self.name()} is not on this computer yet: locate a folder that holds it, or download it."
            self._say(text, "")
            self.checked.emit(False, text)
            return
        from tlgui.core.data.dataset_download import remember_root

        spec, text = result
        self._spec = spec
        remember_root(self.name(), spec.split(":", 2)[2])
        self._say(text, _OK)
        self._update_buttons()
        self.checked.emit(True, text)

    @Slot(object)
    def _on_check_crashed(self, exc) -> None:
        # in this dialog the Download… button is right here
        text = (str(exc).strip() or type(exc).__name__).replace(DOWNLOAD_HINT, "Download… can fetch them")
        text = text[:1].upper() + text[1:]
        self._say(text, _ERROR)
        self.checked.emit(False, text)

    # ------------------------------------------------------------------ downloading

    @Slot(object)
    def _on_progress(self, p) -> None:
        part = f" ({p.index + 1} of {p.count})" if p.count > 1 else ""
        verb = {"verify": "Checking", "extract": "Unpacking"}.get(p.stage, "Downloading")
        self.progress.set_progress(p.done, p.total if p.stage != "extract" else None,
                                   text=f"{verb} {p.file_name}{part}")

    @Slot(object)
    def _on_downloaded(self, result) -> None:
        self.download_finished.emit(True, result.message)
        self.check_folder(str(result.root))

    @Slot(object)
    def _on_download_failed(self, exc) -> None:
        text = str(exc).strip()
        text = text[:1].upper() + text[1:]
        self._say(text, _ERROR)
        self.download_finished.emit(False, text)

    @Slot()
    def _on_download_ended(self) -> None:
        job, self._job = self._job, None
        self.progress.stop()
        self._set_busy(False)
        if job is not None and job.cancelled():
            text = "Download cancelled; nothing more was saved."
            self._say(text, _ERROR)
            self.download_finished.emit(False, text)

    def _set_busy(self, busy: bool) -> None:
        for widget in (self.name_combo, self.locate_button, self.download_button):
            widget.setEnabled(not busy)
        self._update_buttons()

    def _update_buttons(self) -> None:
        self.use_button.setEnabled(self._spec is not None and self._job is None)

    def _say(self, text: str, style: str) -> None:
        self.status.setText(text)
        self.status.setStyleSheet(style)

