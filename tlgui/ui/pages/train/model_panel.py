"""The model panel: which architecture, and which weights to start from."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import (
    QButtonGroup,
    QComboBox,
    QFileDialog,
    QGridLayout,
    QGroupBox,
    QLabel,
    QLineEdit,
    QPushButton,
    QRadioButton,
    QSizePolicy,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from tlgui import paths
from tlgui.core.library.default_weights import locate_default_weights
from tlgui.core.models.registry import family_for
from tlgui.core.models.zoo import SMALLCNN, architecture_info
from tlgui.ui.base.background import TaskRunner
from tlgui.ui.base.choices import ModelChoice
from tlgui.ui.pages.train.architecture_list import ArchitectureList
from tlgui.ui.pages.train.earlier_models import find_model_files, read_model_files
from tlgui.ui.pages.train.timm_list import TimmArchitectureList

__all__ = ["ModelPanel", "find_local_weights_for", "find_model_files"]

_OK = "color: #1b7a2f;"
_MISSING = "color: #a14a00;"


class ModelPanel(QWidget):
    selection_changed = Signal(object)  # ModelChoice

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("modelPanel")
        self._runner = TaskRunner(self)
        self._runs: list[tuple[str, str, str, int]] = []
        self._arch = SMALLCNN
        self._weights = "demo:source"
        self._emitted: ModelChoice | None = None
        self._updating = False

        arch_box = self._architecture_box()

        self.radio_none = QRadioButton("Random weights (train from scratch)")
        self.radio_none.setObjectName("weightsNone")
        self.radio_default = QRadioButton("Pretrained ImageNet weights")
        self.radio_default.setObjectName("weightsDefault")
        self.pretrained_status = QLabel()
        self.pretrained_status.setObjectName("pretrainedStatus")
        self.pretrained_status.setWordWrap(True)
        self.pretrained_status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.radio_demo = QRadioButton("Demo source model (smallcnn, 10 shapes)")
        self.radio_demo.setObjectName("weightsDemo")
        self.radio_demo.setToolTip("The small network the demo pretrained on 10 shapes")
        self.radio_file = QRadioButton("Weight file:")
        self.radio_file.setObjectName("weightsFile")
        self.file_edit = QLineEdit()
        self.file_edit.setObjectName("weightsFilePath")
        self.file_edit.setPlaceholderText("a .pth, .pt or .safetensors file")
        self.file_edit.editingFinished.connect(self._on_file_edited)
        self.browse_button = QPushButton("Browse…")
        self.browse_button.setObjectName("weightsBrowse")
        self.browse_button.clicked.connect(self._browse)
        self.radio_run = QRadioButton("An earlier run:")
        self.radio_run.setObjectName("weightsRun")
        self.run_combo = QComboBox()
        self.run_combo.setObjectName("weightsRunCombo")
        self.run_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.run_combo.setMinimumContentsLength(10)  # elided: the column fits a laptop screen
        self.run_combo.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.run_combo.activated.connect(self._on_run_activated)
        self.refresh_button = QPushButton("Refresh")
        self.refresh_button.setObjectName("weightsRefresh")
        self.refresh_button.setToolTip("Look again for pretrained files and earlier runs")
        self.refresh_button.clicked.connect(self.refresh)

        self._radios = QButtonGroup(self)
        for radio in self._radio_values().values():
            self._radios.addButton(radio)
            radio.toggled.connect(self._on_radio_toggled)

        weights_box = QGroupBox("Starting weights")
        grid = QGridLayout(weights_box)
        grid.setColumnStretch(1, 1)
        grid.addWidget(self.radio_none, 0, 0, 1, 3)
        grid.addWidget(self.radio_default, 1, 0, 1, 3)
        grid.addWidget(self.pretrained_status, 2, 0, 1, 3)
        grid.addWidget(self.radio_demo, 3, 0, 1, 3)
        grid.addWidget(self.radio_file, 4, 0)
        grid.addWidget(self.file_edit, 4, 1)
        grid.addWidget(self.browse_button, 4, 2)
        grid.addWidget(self.radio_run, 5, 0)
        grid.addWidget(self.run_combo, 5, 1)
        grid.addWidget(self.refresh_button, 5, 2)
        self.pretrained_status.setContentsMargins(24, 0, 0, 4)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(arch_box, 1)
        layout.addWidget(weights_box)

        self.set_choice(ModelChoice(SMALLCNN, "demo:source"))
        self.refresh()

    def _architecture_box(self) -> QGroupBox:
        """torchvision's and timm's searchable lists side by side (tabs), and the chosen one's details."""
        self.architectures = ArchitectureList()
        self.architectures.chosen.connect(self._on_architecture_chosen)
        self.search = self.architectures.search
        self.list = self.architectures.view
        self.timm_architectures = TimmArchitectureList()
        self.timm_architectures.chosen.connect(self._on_architecture_chosen)
        self.source_tabs = QTabWidget()
        self.source_tabs.setObjectName("modelSourceTabs")
        self.source_tabs.addTab(self.architectures, "torchvision")
        self.source_tabs.addTab(self.timm_architectures, "timm")

        self.info = QLabel()
        self.info.setObjectName("modelInfo")
        self.info.setWordWrap(True)

        arch_box = QGroupBox("Architecture")
        arch_layout = QVBoxLayout(arch_box)
        arch_layout.addWidget(self.source_tabs, 1)
        arch_layout.addWidget(self.info)
        return arch_box

    # ------------------------------------------------------------------ public API

    def choice(self) -> ModelChoice:
        return ModelChoice(self._arch, self._weights)

    def set_choice(self, choice: ModelChoice) -> None:
        self._updating = True
        try:
            self._select_architecture(choice.architecture)
            self._show_weights(choice.weights)
        finally:
            self._updating = False
        self._sync()

    def set_locked(self, locked: bool) -> None:
        for child in self.findChildren(QGroupBox):
            child.setEnabled(not locked)

    def refresh(self) -> None:
        """Re-check the pretrained file and re-read the list of earlier runs (in background)."""
        self._update_pretrained_status()
        self.timm_architectures.refresh()
        self.run_combo.clear()
        self.run_combo.addItem("Looking for earlier runs…")
        self.radio_run.setEnabled(self._weights_is_run())
        self._runner.cancel_all()
        self._runner.start(read_model_files, self._on_runs_read, self._on_runs_failed, name="find-runs")

    def runs(self) -> list[tuple[str, str, str, int]]:
        """(path, name, architecture, classes) of the model files found so far."""
        return list(self._runs)

    def wait_idle(self, msecs: int = 10000) -> bool:
        return self._runner.wait(msecs)

    def closeEvent(self, event) -> None:
        self._runner.shutdown()
        super().closeEvent(event)

    # ------------------------------------------------------------------ architecture

    def _browsers(self) -> dict[str, ArchitectureList | TimmArchitectureList]:
        """Each architecture list by the name families give for it (their ``BROWSER``)."""
        return {ArchitectureList.BROWSER: self.architectures, TimmArchitectureList.BROWSER: self.timm_architectures}

    def _select_architecture(self, name: str) -> None:
        shown = self._browsers()[family_for(name).BROWSER]
        shown.select(name)  # raises ModelError naming close matches
        self._clear_other_lists(name)
        self.source_tabs.setCurrentWidget(shown)
        self._arch = name

    def _clear_other_lists(self, name: str) -> None:
        """One architecture is chosen, in the list its family names."""
        shown = self._browsers()[family_for(name).BROWSER]
        for browser in self._browsers().values():
            if browser is not shown:
                browser.clear_choice()

    @Slot(str)
    def _on_architecture_chosen(self, name: str) -> None:
        self._clear_other_lists(name)
        if name != self._arch:
            self._arch = name
            self._fit_weights_to_architecture()
        self._sync()

    def _fit_weights_to_architecture(self) -> None:
        """Keep the weight choice meaningful for the new architecture."""
        alias = family_for(self._arch).STARTING_ALIAS
        if self._weights == "demo:source" and alias != "demo:source":
            self._weights = "default" if find_local_weights_for(self._arch) else "none"
        elif self._weights == "default" and alias is not None:
            self._weights = alias
        elif self._weights_is_run():
            run = self._run_for(self._weights)
            if run is not None and run[2] != self._arch:
                self._weights = "none"
        self._show_weights(self._weights)

    # ------------------------------------------------------------------ weights

    def _radio_values(self) -> dict[str, QRadioButton]:
        return {"none": self.radio_none, "default": self.radio_default, "demo:source": self.radio_demo,
                "file": self.radio_file, "run": self.radio_run}

    def _weights_is_run(self) -> bool:
        return self._run_for(self._weights) is not None

    def _run_for(self, weights: str):
        for run in self._runs:
            if run[0] == weights:
                return run
        return None

    def _show_weights(self, weights: str) -> None:
        """Put the radio buttons (and file/run widgets) in line with ``weights``."""
        self._weights = weights
        self._updating, was = True, self._updating
        try:
            if weights in ("none", "default", "demo:source"):
                self._radio_values()[weights].setChecked(True)
            elif self._run_for(weights) is not None:
                self.radio_run.setChecked(True)
                self.run_combo.setCurrentIndex(self._runs.index(self._run_for(weights)))
            else:
                self.file_edit.setText(weights)
                self.radio_file.setChecked(True)
        finally:
            self._updating = was
        self._update_pretrained_status()

    @Slot(bool)
    def _on_radio_toggled(self, checked: bool) -> None:
        if not checked or self._updating:
            return
        radio = self.sender()
        if radio is self.radio_file:
            text = self.file_edit.text().strip()
            if not text:
                self._browse()
                return
            self._weights = text
        elif radio is self.radio_run:
            self._on_run_activated(self.run_combo.currentIndex())
            return
        else:
            self._weights = next(k for k, r in self._radio_values().items() if r is radio)
        self._sync()

    @Slot()
    def _browse(self) -> None:
        start = self.file_edit.text() or str(paths.models_dir())
        path, _ = QFileDialog.getOpenFileName(
            self, "Choose a weight file", start, "Weight files (*.pth *.pt *.safetensors *.bin);;All files (*)"
        )
        if path:
            self.set_weights_file(path)
        else:
            self._show_weights(self._weights)  # put the radio back

    def set_weights_file(self, path: str) -> None:
        self.file_edit.setText(path)
        self._show_weights(path)
        self._sync()

    @Slot()
    def _on_file_edited(self) -> None:
        text = self.file_edit.text().strip()
        if text and self.radio_file.isChecked() and text != self._weights:
            self._weights = text
            self._sync()

    @Slot(int)
    def _on_run_activated(self, row: int) -> None:
        if not (0 <= row < len(self._runs)):
            self._show_weights(self._weights)
            return
        path, _name, arch, _classes = self._runs[row]
        self._updating = True
        try:
            self._select_architecture(arch)  # a run's weights only fit its own architecture
        finally:
            self._updating = False
        self._show_weights(path)
        self._sync()

    @Slot(object)
    def _on_runs_read(self, rows) -> None:
        self._runs = list(rows)
        self.run_combo.clear()
        for _path, name, arch, classes in self._runs:
            self.run_combo.addItem(f"{name} — {arch}, {classes} classes")
            self.run_combo.setItemData(self.run_combo.count() - 1, _path, Qt.ItemDataRole.ToolTipRole)
        if not self._runs:
            self.run_combo.addItem("No earlier runs yet")
        self.radio_run.setEnabled(bool(self._runs))
        self.run_combo.setEnabled(bool(self._runs))
        self._show_weights(self._weights)  # a path typed as a file may be one of the runs

    @Slot(object)
    def _on_runs_failed(self, exc) -> None:
        self._on_runs_read([])

    def _update_pretrained_status(self) -> None:
        """The demo radio for a family made to start from it; whether its published weights are here."""
        has_demo = family_for(self._arch).STARTING_ALIAS == "demo:source"
        self.radio_demo.setVisible(has_demo)
        local = locate_default_weights(self._arch)
        if not local.published and has_demo:  # nothing published: point to what it starts from instead
            self.radio_default.setEnabled(False)
            self.pretrained_status.setText(f"{local.status}; use the demo source model.")
            self.pretrained_status.setStyleSheet("")
            return
        if not local.published:
            self.radio_default.setEnabled(self._weights == "default")
            self.pretrained_status.setText(f"{local.status}.")
            self.pretrained_status.setStyleSheet(_MISSING)
            return
        self.radio_default.setEnabled(True)
        self.pretrained_status.setText(local.status)
        self.pretrained_status.setToolTip(local.detail)
        self.pretrained_status.setStyleSheet(_OK if local.path is not None else _MISSING)

    # ------------------------------------------------------------------ feedback

    def _sync(self) -> None:
        info = architecture_info(self._arch)
        weights = {"none": "random weights", "default": family_for(self._arch).WEIGHTS_LABEL,
                   "demo:source": "the demo source model"}
        start = weights.get(self._weights)
        if start is None:
            run = self._run_for(self._weights)
            start = f"run “{run[1]}”" if run else Path(self._weights).name
        self.info.setText(
            f"<b>{self._arch}</b> · {info.family} · {info.num_params:,} parameters · "
            f"{info.input_size}×{info.input_size} input · starts from {start}"
        )
        self._update_pretrained_status()
        choice = self.choice()
        if choice != self._emitted and not self._updating:
            self._emitted = choice
            self.selection_changed.emit(choice)


def find_local_weights_for(arch: str) -> Path | None:
    """Where ``arch``'s published weights are on this computer (None: not here, or none published)."""
    return locate_default_weights(arch).path
