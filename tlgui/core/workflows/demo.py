"""The built-in demo's source model and recipe: pretrained once on the source shapes, then transferred."""

from __future__ import annotations

from tlgui.core.base.cancel import PausableControl
from tlgui.core.base.events import Emit, ignore
from tlgui.core.library.aliases import register_weights_alias
from tlgui.core.models.zoo import SMALLCNN

DEMO_SOURCE_EPOCHS = 6


def demo_source_dir():
    from tlgui.paths import models_dir

    return models_dir() / "demo-source"


def ensure_demo_source_model(on_event: Emit | None = None, control: PausableControl | None = None):
    """Path of the demo's pretrained source model, training it first (~10 s) if absent."""
    from tlgui.core.base.config import TrainConfig
    from tlgui.core.base.events import Stage
    from tlgui.core.training.loop import train

    run_dir = demo_source_dir()
    model = run_dir / "model.pt"
    if model.is_file():
        return model
    emit = on_event or ignore
    emit(Stage("pretrain", "Pretraining the demo source model on 10 shapes (once, about 10 s)"))

    def forward(event):
        # the source run's own batches would confuse a listener plotting the target run
        if isinstance(event, Stage):
            emit(event)

    config = TrainConfig(
        data="demo:source", val_data="demo:source", model="smallcnn", weights="none", freeze="none",
        epochs=DEMO_SOURCE_EPOCHS, batch_size=64, lr=3e-3, optimizer="adam", schedule="onecycle",
        seed=0, device="auto", out=str(run_dir),
    )
    result = train(config, forward, control, overwrite=True)
    if result.status != "completed":
        from tlgui.core.base.cancel import Cancelled

        # a Stop, not a failure: the worker reports it as "stopped before training began"
        raise Cancelled("pretraining the demo source model was stopped before it finished")
    return model


# The demo's recipe: every strategy (scratch, head only, fine-tune) gets the same settings.
DEMO_EPOCHS = 12


DEMO_BATCH_SIZE = 16  # the target has 180 training images: small batches give enough steps


DEMO_LR = 3e-3


def demo_compare_config(out: str, epochs: int = DEMO_EPOCHS, seed: int = 0):
    """The transfer check on the demo: validation is the target's held-out test split."""
    from tlgui.core.workflows.compare import CompareConfig

    return CompareConfig(
        data="demo:target", val_data="demo:target", model="smallcnn", weights="demo:source", out=out,
        epochs=epochs, batch_size=DEMO_BATCH_SIZE, lr=DEMO_LR, seed=seed, optimizer="adam", schedule="cosine",
    )


register_weights_alias("demo:source", SMALLCNN, ensure_demo_source_model)
