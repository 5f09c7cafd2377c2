"""The main window: builds the frame and wires the panels, the plots and the training session.

It holds no training logic. PyTorch takes seconds to import, so the window first shows a
light frame (training panel, plots, "Loading PyTorch...") and builds the model, dataset and
layer-tree panels once a background thread has imported torch.
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING

from PySide6.QtCore import QEvent, QObject, QTimer, Signal, Slot
from PySide6.QtGui import QCloseEvent, QShowEvent
from PySide6.QtWidgets import QMainWindow, QSplitter, QWidget

from tlgui.settings import Settings, load_settings, save_settings
from tlgui.ui.base.errors import show_error
from tlgui.ui.pages.train import panels as train_panels
from tlgui.ui.pages.train.page import TrainPage
from tlgui.ui.pages.train.training_panel import TrainingPanel
from tlgui.ui.pages.train.training_session import TrainingSession
from tlgui.ui.shell import window_state
from tlgui.ui.shell.chrome import build_status_bar, confirm_close
from tlgui.ui.shell.startup import ImportWorker, gpu_name, heavy_loaded
from tlgui.ui.shell.workspace import Workspace
from tlgui.ui.widgets.scrolling import ScrollingTabs

if TYPE_CHECKING:
    from tlgui.core.base.config import TrainConfig
    from tlgui.core.base.events import RunResult
    from tlgui.ui.pages.train.dataset_panel import DatasetPanel
    from tlgui.ui.pages.train.model_panel import ModelPanel
    from tlgui.ui.widgets.layer_tree import LayerTreePanel
    from tlgui.ui.widgets.plots import TrainingPlots
    from tlgui.workers.training import TrainingController

AUTO_CONFIRM_ENV = "TLGUI_AUTO_CONFIRM"  # "1": closing during training does not ask


class MainWindow(QMainWindow):
    """The tlgui window. ``MainWindow()`` needs no arguments; first start shows the demo."""

    ready_changed = Signal(bool)  # Train can (True) or cannot (False) be pressed
    panels_built = Signal()  # model/dataset/layer panels exist (after PyTorch loaded)
    run_finished = Signal(object)  # RunResult, once the training thread has ended

    def __init__(self, settings: Settings | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("mainWindow")
        self.setWindowTitle("tlgui — transfer learning")
        self.settings = settings if settings is not None else load_settings()
        # closing during training asks first, unless this is True (tests, scripted use)
        self.auto_confirm_close = os.environ.get(AUTO_CONFIRM_ENV, "") == "1"
        self.persist_settings = True  # the self-test leaves the user's settings alone
        self.import_seconds = 0.0
        self._ready = False
        self._closing = False  # no new run may start once the window is closing
        self._loader: ImportWorker | None = None

        self.session = TrainingSession(self)  # the training run: start, events, resume, finish
        self.session.run_finished.connect(self.run_finished)
        # the Train page's frame, with placeholders and the plots' holder (plots: right after the first paint)
        self.train_page = TrainPage(self.settings.training)
        # pages: "Train" is built here; the others come from the workspace
        self.pages = ScrollingTabs(objectName="pageTabs")  # every page scrolls when the window is small
        self.pages.setDocumentMode(True)
        self.pages.addTab(self.train_page, "Train")
        self.setCentralWidget(self.pages)
        labels = build_status_bar(self)
        self.device_label, self.run_label, self.elapsed_label = labels.device, labels.run, labels.elapsed
        self._connect()
        self.workspace = Workspace(self, self.pages)
        self._restore_geometry()

        self.training_panel.reset_progress("Loading PyTorch…")
        if "pyqtgraph" in sys.modules:
            self._build_plots()
        else:
            self.installEventFilter(self)  # builds the plots once the window has painted
        if heavy_loaded():
            self._build_panels(gpu_name())
        else:
            self.statusBar().showMessage("Loading PyTorch… (the first start takes a few seconds)")
            self._loader = ImportWorker()
            self._loader.finished.connect(self._on_imports_done)
            self._loader.start()

    # ------------------------------------------------------------------ construction
    def _connect(self) -> None:
        tp = self.training_panel
        tp.train_requested.connect(self.start_training)
        tp.pause_requested.connect(self.pause_training)
        tp.resume_requested.connect(self.resume_training)
        tp.stop_requested.connect(self.stop_training)
        self.train_page.plan_described.connect(self._on_plan_described)

    @property
    def controller(self) -> TrainingController:
        """The training thread's controller (its signals feed the plots and the session)."""
        return self.session.controller

    @property
    def last_result(self) -> RunResult | None:
        return self.session.last_result

    @property
    def last_error(self) -> tuple[str, str] | None:
        return self.session.last_error

    # ------------------------------------------------------------------ the Train page's parts
    # Read-only, for the training session, the self-test and the tests: the page owns them.
    @property
    def training_panel(self) -> TrainingPanel:
        return self.train_page.training_panel

    @property
    def dataset_panel(self) -> DatasetPanel | None:
        return self.train_page.dataset_panel

    @property
    def model_panel(self) -> ModelPanel | None:
        return self.train_page.model_panel

    @property
    def layer_panel(self) -> LayerTreePanel | None:
        return self.train_page.layer_panel

    @property
    def plots(self) -> TrainingPlots | None:
        return self.train_page.plots

    @property
    def corrections(self) -> tuple[str, str] | None:
        return self.train_page.corrections

    @property
    def left_tabs(self) -> ScrollingTabs:
        return self.train_page.left_tabs

    @property
    def main_splitter(self) -> QSplitter:
        return self.train_page.main_splitter

    @property
    def _plots_holder(self) -> QWidget:
        return self.train_page.plots_holder

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:  # Qt override
        if obj is self and event.type() == QEvent.Type.Paint and self.plots is None:
            self.removeEventFilter(self)
            QTimer.singleShot(0, self._build_plots)
        return super().eventFilter(obj, event)

    @Slot()
    def _build_plots(self) -> None:
        if self.plots is not None:
            return
        plots = self.train_page.build_plots()
        self.controller.batches.connect(plots.add_batches)
        self.controller.epoch_finished.connect(plots.add_epoch)

    @Slot()
    def _on_imports_done(self) -> None:
        loader, self._loader = self._loader, None
        if loader is None:
            return
        self.import_seconds = loader.seconds
        if loader.error is not None:
            self.training_panel.reset_progress("PyTorch could not be loaded")
            show_error(
                self,
                "PyTorch could not be loaded, so training is not possible. "
                f"Is it installed correctly? ({type(loader.error).__name__}: {loader.error})",
                loader.details,
            )
            return
        self._build_panels(loader.gpu_name)

    def _build_panels(self, gpu: str | None = None) -> None:
        """Create the torch-backed panels and apply the remembered (or demo) choices."""
        self._build_plots()  # normally done already, right after the first paint
        self.train_page.install_panels(self.settings)
        self.training_panel.set_devices(gpu)
        self.device_label.setText(f"Device: GPU ({gpu})" if gpu else "Device: CPU")
        self.training_panel.reset_progress("Ready")
        self.training_panel.set_note(train_panels.ready_note(self.settings))
        self.statusBar().showMessage("Ready. Press Train to start.", 8000)
        self._set_ready(True)
        self.panels_built.emit()

    @Slot(str)
    def _on_plan_described(self, summary: str) -> None:
        if self.controller.is_running() is False:
            self.statusBar().showMessage(summary, 5000)

    # ------------------------------------------------------------------ readiness / state
    def is_ready(self) -> bool:
        return self._ready

    def _set_ready(self, ready: bool) -> None:
        self.training_panel.set_ready(ready)
        if ready != self._ready:
            self._ready = ready
            self.ready_changed.emit(ready)

    def set_busy_elsewhere(self, busy: bool) -> None:
        """Another job (the transfer check) runs: no Train, choices read-only, until it ends."""
        if self.controller.is_running() or self._closing:
            return
        self.set_locked(busy)
        self._set_ready(not busy and self.train_page.has_panels())

    def refresh_ready(self) -> None:
        """Train is possible once the panels exist, unless the window is closing."""
        self._set_ready(self.train_page.has_panels() and not self._closing)

    def set_locked(self, locked: bool) -> None:
        self.train_page.set_locked(locked)

    # ------------------------------------------------------------------ config
    def build_config(self) -> TrainConfig:
        """The TrainConfig the panels describe, with a fresh run folder. Raises on bad input."""
        return self.train_page.build_config()

    # ------------------------------------------------------------------ commands
    @Slot()
    def start_training(self) -> None:
        if self.controller.is_running() or not self._ready or self._closing:
            return
        try:
            config = self.build_config()
        except Exception as exc:  # noqa: BLE001 - bad settings: say so, stay usable
            self.session.show_failure(str(exc) or type(exc).__name__, None)
            return
        if self.persist_settings:
            self.remember_choices()
            save_settings(self.settings)
        self.session.start(config)

    def resume_run(self, run_dir: str) -> None:
        """Continue a stopped run from its last completed epoch, with its own settings."""
        if self.controller.is_running() or not self._ready or self._closing:
            return
        from tlgui.core.results.runs import resume_config

        try:
            config = resume_config(run_dir)
        except Exception as exc:  # noqa: BLE001
            self.session.show_failure(f"This run cannot be resumed: {exc}", None)
            return
        self.session.start(config, resume=True)

    @Slot()
    def pause_training(self) -> None:
        self.session.pause()

    @Slot()
    def resume_training(self) -> None:
        self.session.resume()

    @Slot()
    def stop_training(self) -> None:
        self.session.stop()

    # ------------------------------------------------------------------ settings
    def remember_choices(self) -> None:
        window_state.remember(self)

    def _restore_geometry(self) -> None:
        window_state.restore(self)

    # ------------------------------------------------------------------ closing
    def showEvent(self, event: QShowEvent) -> None:  # Qt override
        if self._closing:  # shown again after a close
            self._closing = False
            self._set_ready(self.train_page.has_panels() and not self.controller.is_running())
        super().showEvent(event)

    def closeEvent(self, event: QCloseEvent) -> None:  # Qt override
        if self.controller.is_running():
            if not self.auto_confirm_close and not confirm_close(self):
                event.ignore()
                return
            self.statusBar().showMessage("Stopping training…")
        self._closing = True
        self._set_ready(False)
        self.session.shutdown()
        if self._loader is not None:
            self._loader.wait()  # an import cannot be interrupted; it ends by itself
            self._loader = None
        self.workspace.shutdown()
        if self.persist_settings:
            self.remember_choices()
            save_settings(self.settings)
        self.train_page.shutdown()  # a Find still running, the plots' timer, the panels' jobs
        super().closeEvent(event)
