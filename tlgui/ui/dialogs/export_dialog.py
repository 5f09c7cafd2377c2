"""Export a trained model for use outside tlgui: torch.export (.pt2), ONNX, TorchScript (deprecated by
PyTorch, still offered) or a ready-to-run bundle.

The export runs in the background; afterwards the dialog shows where the files went and
the check the core ran (the exported model's outputs compared with the original's).
"""

from __future__ import annotations

import math
from html import escape
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, QUrl, Signal, Slot
from PySide6.QtWidgets import (
    QButtonGroup,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QRadioButton,
    QVBoxLayout,
    QWidget,
)

from tlgui.ui.base.background import TaskRunner

if TYPE_CHECKING:
    from tlgui.core.results.export import ExportResult

FORMATS = (
    ("pt2", "PyTorch (.pt2)", "recommended: one .pt2 file (torch.export); load it with torch.export.load, or "
     "compile it for C++ with AOTInductor"),
    ("onnx", "ONNX", "one .onnx file for ONNX Runtime, OpenCV, TensorRT and other tools"),
    ("torchscript", "TorchScript", "one .ts file for torch.jit.load. Deprecated by PyTorch: prefer PyTorch (.pt2) "
     "or ONNX"),
    ("bundle", "Bundle", "a folder with the model (.pt2, and .ts as a fallback), its class names, its preprocessing "
     "and a predict.py script"),
)
SUFFIXES = {"pt2": ".pt2", "torchscript": ".ts", "onnx": ".onnx", "bundle": ""}  # bundle: a folder
ONNX_MISSING = "needs extra packages: install tlgui[export]  (pip install 'tlgui[export]')"


def default_target(model_path: str, fmt: str) -> str:
    folder = Path(model_path).expanduser().parent
    stem = Path(model_path).stem or "model"
    if fmt == "bundle":
        return str(folder / f"{stem}-bundle")
    return str(folder / f"{stem}{SUFFIXES[fmt]}")


class ExportDialog(QDialog):
    exported = Signal(object)  # tlgui.core.export.ExportResult

    def __init__(self, model_path: str, parent: QWidget | None = None):
        super().__init__(parent)
        from tlgui.core.results.export import onnx_available

        self.setObjectName("exportDialog")
        self.setWindowTitle("Export model")
        self.model_path = str(model_path)
        self.export_result: ExportResult | None = None  # (not "result": that would hide QDialog.result())
        self.last_error = ""
        self._auto_target = True
        self._runner = TaskRunner(self)

        path = Path(self.model_path)
        model_label = QLabel(f"Model: <b>{escape(path.parent.name + '/' + path.name)}</b>", wordWrap=True)
        model_label.setToolTip(self.model_path)

        box = QGroupBox("Format")
        grid = QGridLayout(box)
        self.format_group = QButtonGroup(self)
        self.format_buttons: dict[str, QRadioButton] = {}
        for row, (key, title, text) in enumerate(FORMATS):
            button = QRadioButton(title, objectName=f"format_{key}")
            note = QLabel(text, wordWrap=True)
            note.setStyleSheet("color: gray;")  # a description, not a disabled option
            if key == "onnx" and not onnx_available():
                button.setEnabled(False)
                note.setText(ONNX_MISSING)
                note.setObjectName("onnxMissingLabel")
                button.setToolTip(ONNX_MISSING)
            self.format_group.addButton(button, row)
            self.format_buttons[key] = button
            grid.addWidget(button, row, 0, Qt.AlignmentFlag.AlignTop)
            grid.addWidget(note, row, 1)
        grid.setColumnStretch(1, 1)
        self.format_buttons["pt2"].setChecked(True)
        self.format_group.idToggled.connect(self._on_format)

        self.target_edit = QLineEdit(default_target(self.model_path, "pt2"), objectName="exportTargetEdit")
        self.target_edit.textEdited.connect(self._on_target_edited)
        choose = QPushButton("Choose…", objectName="exportChooseButton")
        choose.clicked.connect(self._choose_target)
        target_row = QHBoxLayout()
        target_row.addWidget(QLabel("Save to:"))
        target_row.addWidget(self.target_edit, 1)
        target_row.addWidget(choose)

        self.progress = QProgressBar()
        self.progress.setObjectName("exportProgress")
        self.progress.setVisible(False)
        self.progress.setRange(0, 0)
        self.status = QLabel("", objectName="exportStatus", wordWrap=True)
        self.status.setTextFormat(Qt.TextFormat.RichText)
        self.status.setOpenExternalLinks(True)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextBrowserInteraction)

        self.buttons = QDialogButtonBox()
        self.export_button = self.buttons.addButton("Export", QDialogButtonBox.ButtonRole.AcceptRole)
        self.export_button.setObjectName("exportButton")
        self.close_button = self.buttons.addButton(QDialogButtonBox.StandardButton.Close)
        self.close_button.setObjectName("exportCloseButton")
        self.export_button.clicked.connect(self.start_export)
        self.close_button.clicked.connect(self.reject)

        layout = QVBoxLayout(self)
        layout.addWidget(model_label)
        layout.addWidget(box)
        layout.addLayout(target_row)
        layout.addWidget(self.progress)
        layout.addWidget(self.status, 1)
        layout.addWidget(self.buttons)
        self.resize(560, self.sizeHint().height())

    # -- public -----------------------------------------------------------------------
    def fmt(self) -> str:
        for key, button in self.format_buttons.items():
            if button.isChecked():
                return key
        return "pt2"

    def set_format(self, fmt: str) -> None:
        self.format_buttons[fmt].setChecked(True)

    def busy(self) -> bool:
        return self._runner.busy()

    def wait_idle(self, msecs: int = 60000) -> bool:
        return self._runner.wait(msecs)

    @Slot()
    def start_export(self) -> None:
        target = self.target_edit.text().strip()
        if not target:
            self._error("Choose where to save the export first.")
            return
        fmt, model = self.fmt(), self.model_path
        from tlgui.core.results.export import existing_export, export_model

        existing = existing_export(fmt, target)
        overwrite = existing is not None and self.confirm_replace(existing)
        if existing is not None and not overwrite:
            self._error(f"{existing} already exists; choose another name to keep it.")
            return
        self.export_result, self.last_error = None, ""
        self.status.setStyleSheet("")
        self.status.setText(f"Exporting to {escape(target)}…")
        self.progress.setVisible(True)
        self.export_button.setEnabled(False)
        self._runner.start(lambda job: export_model(model, fmt, target, on_stage=job.report, overwrite=overwrite),
                           self._on_done, self._on_error, self._on_stage, name="export")

    def confirm_replace(self, existing: Path) -> bool:
        """Ask before replacing an earlier export (tests answer through this method)."""
        what = "folder" if existing.is_dir() else "file"
        answer = QMessageBox.question(
            self, "Replace the earlier export?",
            f"The {what} {existing} already exists.\nReplace it with this export?",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No, QMessageBox.StandardButton.No,
        )
        return answer == QMessageBox.StandardButton.Yes

    # -- results ----------------------------------------------------------------------
    @Slot(object)
    def _on_stage(self, text) -> None:
        self.status.setText(escape(str(text)) + "…")

    @Slot(object)
    def _on_done(self, result) -> None:
        from tlgui.core.results.export import TOLERANCE

        self.export_result = result
        self.progress.setVisible(False)
        self.export_button.setEnabled(True)
        url = QUrl.fromLocalFile(result.path).toString()
        diff = result.max_abs_diff
        if isinstance(diff, float) and math.isnan(diff):
            check = "The outputs could not be compared (onnxruntime is not installed)."
        elif result.faithful:
            check = (f"✔ Check passed: the exported model gives the same outputs as the original "
                     f"(largest difference {diff:.1e}, allowed {TOLERANCE:.0e}).")
        else:
            check = (f"⚠ The exported model's outputs differ slightly from the original's "
                     f"(largest difference {diff:.1e}); predictions should still agree.")
        details = "<br>".join(escape(c) for c in result.checks)
        files = ", ".join(escape(Path(f).name) for f in result.files) if result.format == "bundle" else ""
        self.status.setText(
            f"<b>Exported.</b> Saved to <a href='{url}'>{escape(result.path)}</a><br>{check}"
            + (f"<br>Files in the folder: {files}" if files else "")
            + f"<br><span style='color:gray'>{details}</span>")
        # grow to show the result, keeping the width the user chose
        layout = self.layout()
        if layout is not None:
            self.resize(self.width(), max(self.height(), layout.totalHeightForWidth(self.width())))
        self.exported.emit(result)

    @Slot(object)
    def _on_error(self, exc) -> None:
        from tlgui.workers.training import describe_exception

        self.progress.setVisible(False)
        self.export_button.setEnabled(True)
        self._error("Export failed: " + describe_exception(exc).replace("Training stopped because of", "because of"))

    def _error(self, message: str) -> None:
        self.last_error = message
        self.status.setStyleSheet("color: #c0392b;")
        self.status.setText(escape(message))

    # -- inputs -----------------------------------------------------------------------
    @Slot(int, bool)
    def _on_format(self, _id: int, checked: bool) -> None:
        if not checked:
            return
        fmt = self.fmt()
        if self._auto_target or not self.target_edit.text().strip():
            self.target_edit.setText(default_target(self.model_path, fmt))
            return
        # keep the user's place, fix the ending: a bundle is a folder, the others a file
        path = Path(self.target_edit.text().strip())
        if path.suffix.lower() in SUFFIXES.values():
            self.target_edit.setText(str(path.with_suffix(SUFFIXES[fmt])))

    @Slot(str)
    def _on_target_edited(self, _text: str) -> None:
        self._auto_target = False

    @Slot()
    def _choose_target(self) -> None:
        current = self.target_edit.text().strip() or default_target(self.model_path, self.fmt())
        if self.fmt() == "bundle":
            path = QFileDialog.getExistingDirectory(self, "Choose an empty folder for the bundle",
                                                    str(Path(current).parent))
        else:
            suffix = SUFFIXES[self.fmt()]
            path, _ = QFileDialog.getSaveFileName(self, "Export model as", current, f"Model (*{suffix})")
        if path:
            self.target_edit.setText(path)
            self._auto_target = False

    def reject(self) -> None:  # Qt override: closing waits for a running export to end
        if self._runner.busy():
            self.status.setText(self.status.text() + "<br>Finishing the export before closing…")
            self._runner.wait(120000)
        super().reject()

    def closeEvent(self, event) -> None:  # Qt override
        self._runner.wait(120000)
        super().closeEvent(event)
