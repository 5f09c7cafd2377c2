"""The Train page's choices read back into a TrainConfig, and remembered choices put back into its
panels. The functions take anything that exposes the page's panels (:class:`TrainPanels`): the page
itself, or the main window, which forwards them."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Protocol

from tlgui import paths
from tlgui.ui.base.choices import DatasetChoice, ModelChoice
from tlgui.workers.training import new_run_dir

if TYPE_CHECKING:
    from tlgui.core.base.config import TrainConfig
    from tlgui.settings import Settings
    from tlgui.ui.pages.train.dataset_panel import DatasetPanel
    from tlgui.ui.pages.train.model_panel import ModelPanel
    from tlgui.ui.pages.train.training_panel import TrainingPanel
    from tlgui.ui.widgets.layer_tree import LayerTreePanel

log = logging.getLogger(__name__)

DEMO_NOTE = (
    "Everything is set up for the built-in demo: a small network that learned "
    "10 shapes is taught 6 new ones from only 30 pictures each. Press Train."
)


class TrainPanels(Protocol):
    """The Train page's panels; the torch-backed three are None until PyTorch has loaded."""

    @property
    def model_panel(self) -> ModelPanel | None: ...

    @property
    def dataset_panel(self) -> DatasetPanel | None: ...

    @property
    def layer_panel(self) -> LayerTreePanel | None: ...

    @property
    def training_panel(self) -> TrainingPanel: ...

    @property
    def corrections(self) -> tuple[str, str] | None:
        """(data, CSV) set by "Retrain with corrections": applied while that data set is chosen."""
        ...


def restore_choices(source: TrainPanels, s: Settings) -> None:
    """Apply the remembered (or demo) model, data set and freeze plan; a stale one is skipped."""
    model_panel, dataset_panel, layer_panel = source.model_panel, source.dataset_panel, source.layer_panel
    if model_panel is None or dataset_panel is None or layer_panel is None:
        raise RuntimeError("the window is still loading")
    try:
        model_panel.set_choice(ModelChoice(s.model, s.weights))
    except Exception:  # noqa: BLE001 - a remembered model that no longer exists
        log.warning("remembered model %r is not available", s.model, exc_info=True)
    try:
        dataset_panel.set_choice(DatasetChoice(s.data, s.val_data, s.split, float(s.val_split)))
    except Exception:  # noqa: BLE001
        log.warning("remembered data set %r is not usable", s.data, exc_info=True)
    try:
        dataset_panel.set_image_choices(s.image_values)
    except Exception:  # noqa: BLE001
        log.warning("remembered image values %r are not usable", s.image_values, exc_info=True)
    try:
        from tlgui.core.models.layers import FreezePlan

        layer_panel.set_plan(FreezePlan.parse(s.freeze, s.bn_update_frozen))
    except Exception:  # noqa: BLE001
        log.warning("remembered freeze plan %r is not usable", s.freeze, exc_info=True)


def ready_note(s: Settings) -> str:
    if s.data.startswith("demo:") and s.weights == "demo:source":
        return DEMO_NOTE
    return "Ready. Check the settings, then press Train."


def build_config(source: TrainPanels, out: str | None = None) -> TrainConfig:
    """The TrainConfig the panels describe, with a fresh run folder (``out=""``: none, for the
    learning-rate finder, which writes nothing). Raises on bad input."""
    from tlgui.core.base.config import TrainConfig

    model_panel, dataset_panel, layer_panel = source.model_panel, source.dataset_panel, source.layer_panel
    if model_panel is None or dataset_panel is None or layer_panel is None:
        raise RuntimeError("the window is still loading")
    model = model_panel.choice()
    data = dataset_panel.choice()
    plan = layer_panel.plan()
    values = source.training_panel.values()
    values.update(dataset_panel.image_choices())  # channels, intensity, stack (ConfigError)
    if out is None:
        out = str(new_run_dir(paths.runs_dir(), model.architecture))
    config = TrainConfig(
        data=data.data,
        val_data=data.val_data,
        split=data.split,
        val_split=float(data.val_split),
        model=model.architecture,
        weights=model.weights,
        freeze=plan.to_spec(),
        bn_update_frozen=bool(plan.bn_update_frozen),
        out=out,
        **values,
    )
    fixes = source.corrections
    if fixes and fixes[0] == data.data:
        config.corrections = fixes[1]
    return config.validate()
