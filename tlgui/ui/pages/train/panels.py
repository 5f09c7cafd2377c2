"""The Train page's torch-backed panels: built once PyTorch has loaded, filled from the settings,
and read back into a TrainConfig. The main window calls these; it keeps no page logic itself."""

from __future__ import annotations

import logging

from tlgui import paths
from tlgui.ui.base.choices import DatasetChoice, ModelChoice
from tlgui.ui.base.errors import show_error
from tlgui.workers.training import new_run_dir

log = logging.getLogger(__name__)

DEMO_NOTE = (
    "Everything is set up for the built-in demo: a small network that learned "
    "10 shapes is taught 6 new ones from only 30 pictures each. Press Train."
)


def install_panels(window) -> None:
    """Create the data, model and layer panels and put them where the placeholders were."""
    from tlgui.ui.pages.train.dataset_panel import DatasetPanel
    from tlgui.ui.pages.train.model_panel import ModelPanel
    from tlgui.ui.widgets.layer_tree import LayerTreePanel

    window.dataset_panel = DatasetPanel()
    window.model_panel = ModelPanel()
    window.layer_panel = LayerTreePanel()
    window.left_tabs.removeTab(1)
    window.left_tabs.removeTab(0)
    window.left_tabs.addTab(window.dataset_panel, "1. Data")
    window.left_tabs.addTab(window.model_panel, "2. Model")
    window._placeholders[1].setParent(None)
    window.layer_box.layout().addWidget(window.layer_panel)
    for label in window._placeholders:
        label.deleteLater()
    window._placeholders = []
    training = window.training_panel  # the recipe's settings reach the layer tree and the LR finder
    window.layer_panel.set_lr_decay(training.layer_lr_decay.value())
    training.layer_lr_decay.valueChanged.connect(window.layer_panel.set_lr_decay)
    training.lr_finder.config_source = lambda: build_config(window, out="")


def restore_choices(window, s) -> None:
    """Apply the remembered (or demo) model, data set and freeze plan; a stale one is skipped."""
    try:
        window.model_panel.set_choice(ModelChoice(s.model, s.weights))
    except Exception:  # noqa: BLE001 - a remembered model that no longer exists
        log.warning("remembered model %r is not available", s.model, exc_info=True)
    try:
        window.dataset_panel.set_choice(DatasetChoice(s.data, s.val_data, s.split, float(s.val_split)))
    except Exception:  # noqa: BLE001
        log.warning("remembered data set %r is not usable", s.data, exc_info=True)
    try:
        window.dataset_panel.set_image_choices(s.image_values)
    except Exception:  # noqa: BLE001
        log.warning("remembered image values %r are not usable", s.image_values, exc_info=True)
    try:
        from tlgui.core.models.layers import FreezePlan

        window.layer_panel.set_plan(FreezePlan.parse(s.freeze, s.bn_update_frozen))
    except Exception:  # noqa: BLE001
        log.warning("remembered freeze plan %r is not usable", s.freeze, exc_info=True)


def ready_note(s) -> str:
    if s.data.startswith("demo:") and s.weights == "demo:source":
        return DEMO_NOTE
    return "Ready. Check the settings, then press Train."


def update_architecture(window, summary) -> None:
    """Show the chosen model's layers for the data set's classes and channels."""
    if window.model_panel is None or window.layer_panel is None:
        return
    from tlgui.core.models.zoo import model_input_channels

    arch = window.model_panel.choice().architecture
    if summary is not None and len(summary.classes) >= 2:
        num_classes, channels = len(summary.classes), int(summary.channels)
    else:
        num_classes, channels = 2, model_input_channels(arch)
    try:
        window.layer_panel.set_architecture(arch, num_classes, channels)
    except Exception as exc:  # noqa: BLE001 - never let a panel take the window down
        log.exception("cannot show the layers of %s", arch)
        show_error(window, f"The layers of {arch} cannot be shown: {exc}")


def build_config(window, out: str | None = None):
    """The TrainConfig the panels describe, with a fresh run folder (``out=""``: none, for the
    learning-rate finder, which writes nothing). Raises on bad input."""
    from tlgui.core.base.config import TrainConfig

    if window.model_panel is None:
        raise RuntimeError("the window is still loading")
    model = window.model_panel.choice()
    data = window.dataset_panel.choice()
    plan = window.layer_panel.plan()
    values = window.training_panel.values()
    values.update(window.dataset_panel.image_choices())  # channels, intensity, stack (ConfigError)
    if out is None:
        out = new_run_dir(paths.runs_dir(), model.architecture)
    config = TrainConfig(
        data=data.data,
        val_data=data.val_data,
        split=data.split,
        val_split=float(data.val_split),
        model=model.architecture,
        weights=model.weights,
        freeze=plan.to_spec(),
        bn_update_frozen=bool(plan.bn_update_frozen),
        out=str(out),
        **values,
    )
    fixes = getattr(window, "corrections", None)  # (data, CSV) set by "Retrain with corrections"
    if fixes and fixes[0] == data.data:
        config.corrections = fixes[1]
    return config.validate()
