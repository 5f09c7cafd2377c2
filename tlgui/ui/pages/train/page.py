"""The Train page: the data and model tabs, the layer tree, the training panel and the plots.

The page owns these panels and wires them to each other; the main window creates one and talks to
it through its methods. PyTorch takes seconds to import, so the page first shows "Loading PyTorch…"
where the data, model and layer panels will be; :meth:`TrainPage.install_panels` puts them there
once a background thread has imported torch.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, NamedTuple

from PySide6.QtCore import Signal, Slot
from PySide6.QtWidgets import QGroupBox, QLabel, QSplitter, QVBoxLayout, QWidget

from tlgui.ui.base.errors import show_error
from tlgui.ui.pages.train import layout, panels
from tlgui.ui.pages.train.training_panel import TrainingPanel
from tlgui.ui.widgets.scrolling import ScrollingTabs

if TYPE_CHECKING:
    from tlgui.core.base.config import TrainConfig
    from tlgui.core.models.layers import FreezePlan
    from tlgui.settings import Settings
    from tlgui.ui.base.choices import DatasetChoice, DatasetSummary, ModelChoice
    from tlgui.ui.pages.train.dataset_panel import DatasetPanel
    from tlgui.ui.pages.train.model_panel import ModelPanel
    from tlgui.ui.widgets.layer_tree import LayerTreePanel
    from tlgui.ui.widgets.plots import TrainingPlots

log = logging.getLogger(__name__)


class BuiltPanels(NamedTuple):
    """The Train page's torch-backed panels, once they exist."""

    dataset: DatasetPanel
    model: ModelPanel
    layers: LayerTreePanel


class TrainPage(QWidget):
    """The "Train" tab. ``training_values``: the training panel's remembered settings."""

    plan_described = Signal(str)  # the layer tree's freeze plan changed: its one-line summary

    def __init__(self, training_values: dict[str, Any], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("trainPage")
        self.training_panel = TrainingPanel()
        self.training_panel.set_values(training_values)
        self.training_panel.settings_box.setTitle("4. Train")
        # built by install_panels, once PyTorch has loaded
        self.dataset_panel: DatasetPanel | None = None
        self.model_panel: ModelPanel | None = None
        self.layer_panel: LayerTreePanel | None = None
        self.plots: TrainingPlots | None = None  # built by build_plots, right after the first paint
        # (data, CSV) set by "Retrain with corrections": build_config applies it while that data set is chosen
        self.corrections: tuple[str, str] | None = None
        self._dataset_summary: DatasetSummary | None = None

        self._placeholders: list[QLabel] = [layout.loading_label(), layout.loading_label()]
        self.left_tabs = ScrollingTabs(column=True, objectName="leftTabs")  # the data and model panels scroll
        self.left_tabs.setDocumentMode(True)
        self.left_tabs.addTab(self._placeholders[0], "1. Data")
        self.left_tabs.addTab(QWidget(), "2. Model")
        self.layer_box = QGroupBox("3. Layers to train")
        self._layer_box_layout = QVBoxLayout(self.layer_box)
        self._layer_box_layout.setContentsMargins(4, 4, 4, 4)
        self._layer_box_layout.addWidget(self._placeholders[1])
        right = QWidget()
        right_layout = QVBoxLayout(right)
        right_layout.setContentsMargins(0, 0, 0, 0)
        right_layout.addWidget(self.training_panel)
        self.plots_holder = layout.plots_holder()
        self.top_splitter = layout.top_splitter(self.left_tabs, self.layer_box, right)
        self.main_splitter = layout.main_splitter(self.top_splitter, self.plots_holder)
        page_layout = QVBoxLayout(self)
        page_layout.setContentsMargins(6, 6, 6, 6)
        page_layout.addWidget(self.main_splitter)

    def splitters(self) -> tuple[QSplitter, ...]:
        """The splitters whose positions the window remembers (by objectName)."""
        return (self.top_splitter, self.main_splitter)

    # ------------------------------------------------------------------ building
    def build_plots(self) -> TrainingPlots:
        """Create the plots in their holder (once; later calls return the same plots)."""
        if self.plots is not None:
            return self.plots
        # deferred: pyqtgraph takes ~0.3 s to import
        from tlgui.ui.widgets.plots import TrainingPlots

        self.plots = TrainingPlots()
        self.plots.reset(epochs=self.training_panel.epochs.value())
        holder_layout = self.plots_holder.layout()
        assert holder_layout is not None  # made with the holder (layout.plots_holder)
        holder_layout.addWidget(self.plots)
        return self.plots

    def install_panels(self, settings: Settings) -> None:
        """Create the data, model and layer panels where the placeholders were, apply the
        remembered (or demo) choices and wire the panels to each other."""
        from tlgui.ui.pages.train.dataset_panel import DatasetPanel
        from tlgui.ui.pages.train.model_panel import ModelPanel
        from tlgui.ui.widgets.layer_tree import LayerTreePanel

        self.dataset_panel = dataset_panel = DatasetPanel()
        self.model_panel = model_panel = ModelPanel()
        self.layer_panel = layer_panel = LayerTreePanel()
        self.left_tabs.removeTab(1)
        self.left_tabs.removeTab(0)
        self.left_tabs.addTab(dataset_panel, "1. Data")
        self.left_tabs.addTab(model_panel, "2. Model")
        self._placeholders[1].setParent(None)
        self._layer_box_layout.addWidget(layer_panel)
        for label in self._placeholders:
            label.deleteLater()
        self._placeholders = []
        training = self.training_panel  # the recipe's settings reach the layer tree and the LR finder
        layer_panel.set_lr_decay(training.layer_lr_decay.value())
        training.layer_lr_decay.valueChanged.connect(layer_panel.set_lr_decay)
        training.lr_finder.config_source = lambda: self.build_config(out="")

        panels.restore_choices(self, settings)
        model_panel.selection_changed.connect(self._on_model_changed)
        dataset_panel.dataset_changed.connect(self._on_dataset_changed)
        dataset_panel.dataset_loaded.connect(self._on_dataset_loaded)
        layer_panel.plan_changed.connect(self._on_plan_changed)
        self._dataset_summary = dataset_panel.summary()
        self._update_architecture()

    # ------------------------------------------------------------------ panel wiring
    @Slot(object)
    def _on_model_changed(self, _choice: ModelChoice) -> None:
        self._update_architecture()

    @Slot(object)
    def _on_dataset_changed(self, _choice: DatasetChoice) -> None:
        # emitted after a successful open, or when only the validation share changed
        if self.dataset_panel is not None:
            self._dataset_summary = self.dataset_panel.summary()
        self._update_architecture()

    @Slot(object)
    def _on_dataset_loaded(self, summary: DatasetSummary) -> None:
        self._dataset_summary = summary
        self._update_architecture()

    @Slot(object)
    def _on_plan_changed(self, _plan: FreezePlan) -> None:
        if self.layer_panel is not None:
            self.plan_described.emit(self.layer_panel.summary_text())

    def _update_architecture(self) -> None:
        """Show the chosen model's layers for the data set's classes and channels."""
        if self.model_panel is None or self.layer_panel is None:
            return
        from tlgui.core.models.zoo import model_input_channels

        arch = self.model_panel.choice().architecture
        summary = self._dataset_summary
        if summary is not None and len(summary.classes) >= 2:
            num_classes, channels = len(summary.classes), int(summary.channels)
        else:
            num_classes, channels = 2, model_input_channels(arch)
        try:
            self.layer_panel.set_architecture(arch, num_classes, channels)
        except Exception as exc:  # noqa: BLE001 - never let a panel take the window down
            log.exception("cannot show the layers of %s", arch)
            show_error(self.window(), f"The layers of {arch} cannot be shown: {exc}")

    # ------------------------------------------------------------------ what the page says
    def has_panels(self) -> bool:
        """True once the torch-backed panels exist."""
        return self.model_panel is not None

    def built_panels(self) -> BuiltPanels:
        """The torch-backed panels; raises RuntimeError while PyTorch is still loading."""
        if self.dataset_panel is None or self.model_panel is None or self.layer_panel is None:
            raise RuntimeError("the window is still loading")
        return BuiltPanels(self.dataset_panel, self.model_panel, self.layer_panel)

    def build_config(self, out: str | None = None) -> TrainConfig:
        """The TrainConfig the panels describe, with a fresh run folder (``out=""``: none).
        Raises on bad input, or while PyTorch is still loading."""
        return panels.build_config(self, out)

    def remember_choices(self, s: Settings) -> None:
        """Copy the page's current choices into ``s`` (not saved yet); a half-typed value keeps
        the last good one."""
        if self.model_panel is not None:
            model = self.model_panel.choice()
            s.model, s.weights = model.architecture, model.weights
        if self.dataset_panel is not None:
            data = self.dataset_panel.choice()
            s.data, s.val_data = data.data, data.val_data
            s.split, s.val_split = data.split, float(data.val_split)
            try:
                s.image_values = dict(self.dataset_panel.image_choices())
            except Exception:  # noqa: BLE001 - a half-typed value: keep the last good one
                pass
        if self.layer_panel is not None:
            plan = self.layer_panel.plan()
            s.freeze, s.bn_update_frozen = plan.to_spec(), bool(plan.bn_update_frozen)
        try:
            s.training = self.training_panel.values()
        except ValueError:
            pass  # keep the last good training values

    # ------------------------------------------------------------------ commands
    def set_locked(self, locked: bool) -> None:
        """Choices read-only (a run or another job is going on) or editable again."""
        for panel in (self.model_panel, self.dataset_panel, self.layer_panel):
            if panel is not None:
                panel.set_locked(locked)
        self.training_panel.set_locked(locked)

    def show_data_tab(self) -> None:
        if self.dataset_panel is not None:
            self.left_tabs.setCurrentWidget(self.dataset_panel)

    def show_model_tab(self) -> None:
        if self.model_panel is not None:
            self.left_tabs.setCurrentWidget(self.model_panel)

    def shutdown(self) -> None:
        """The window closes: stop the page's timers and background jobs."""
        self.training_panel.lr_finder.shutdown()  # a Find still running
        if self.plots is not None:
            self.plots.timer.stop()
        for panel in (self.model_panel, self.dataset_panel, self.layer_panel):
            if panel is not None:
                panel.close()  # panels stop their own background jobs on close
