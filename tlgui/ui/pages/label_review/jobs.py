"""Background work of the Check labels page (never on the GUI thread): the label check of a
run's data and the suspects' thumbnails, plain and with the run model's heatmap."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

MAX_SHOWN = 60  # the top of the ranking shown (every flagged one too, up to MAX_FLAGGED)
MAX_FLAGGED = 200
SIDE = 120  # thumbnail side


@dataclass
class ReviewData:
    run_dir: str
    data: str  # the data set the run trained on (what the corrections apply to)
    classes: list[str]
    suspects: list[dict]  # the most suspicious labels first; "flagged" (absent: True) marks confident learning's
    method: str
    images: int = 0  # images checked (every one is ranked; ``suspects`` is the top of that ranking)
    plain: dict[str, np.ndarray] = field(default_factory=dict)  # path -> RGB thumbnail
    heat: dict[str, np.ndarray] = field(default_factory=dict)  # path -> RGB thumbnail with heatmap


def check_run(run_dir: str, folds: int, job) -> ReviewData:
    """Worker thread: check the labels of ``run_dir``'s data with its settings (its corrections
    left out, so corrected images are checked again), then draw the suspects' thumbnails."""
    import tlgui.core.workflows  # noqa: F401  (registers --weights demo:source)
    from tlgui.core.base.config import TrainConfig
    from tlgui.core.base.events import Stage
    from tlgui.core.workflows.label_check import check_labels

    config = TrainConfig.load(Path(run_dir) / "config.json")
    config.corrections = config.corrections_sha256 = None

    def emit(event) -> None:
        if isinstance(event, Stage):
            job.report(event.detail or event.name)

    result = check_labels(config, folds, emit, job)
    review = ReviewData(run_dir, config.data, result.classes, top_of_ranking(result.suspects), result.method,
                        images=len(result.suspects))
    job.report("Drawing the suspects and where the model looked…")
    _thumbnails(review, Path(run_dir) / "model.pt", job)
    return review


def top_of_ranking(ranked: list[dict]) -> list[dict]:
    """The first MAX_SHOWN of the ranking, and the flagged ones further down (up to MAX_FLAGGED in all)."""
    return [s for i, s in enumerate(ranked) if i < MAX_SHOWN or s.get("flagged", True)][:MAX_FLAGGED]


def _thumbnails(review: ReviewData, model: Path, job) -> None:
    from PIL import Image

    from tlgui.core.data.image_kind import read_reduced
    from tlgui.ui.widgets.gallery import thumbnail_array

    explainer = None
    if model.is_file():
        from tlgui.core.models.checkpoint import load_checkpoint
        from tlgui.core.results.explain import Explainer

        explainer = Explainer(load_checkpoint(model), "cpu")
    for suspect in review.suspects:
        if job.cancelled():
            return
        path = suspect["path"]
        try:
            # a big JPEG decoded at reduced scale, still at least the model's input size (as training reads it)
            image = read_reduced(path, max(SIDE, explainer.prep.resize if explainer is not None else 0))
            review.plain[path] = thumbnail_array(image, SIDE)
            if explainer is not None:
                review.heat[path] = thumbnail_array(Image.fromarray(explainer.explain(image).overlay), SIDE)
        except Exception:  # noqa: BLE001 - a file that went away gets a blank tile, not a failed review
            continue
