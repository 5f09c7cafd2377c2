"""The plain-words advice beside the labelling queue: keep labelling, stop, or change the features."""

from __future__ import annotations

import numpy as np

from tlgui.core.workflows.label_estimate import wilson
from tlgui.core.workflows.label_strategies import FEW_LABELS

NEAR_CHANCE = 0.15  # as a share of the way from chance to 100 % (the rank's rule)
HIGH = 0.95


def near_chance(accuracy: float, classes: int) -> bool:
    chance = 1.0 / max(1, classes)
    return accuracy - chance < NEAR_CHANCE * (1 - chance)


def clearly_above_chance(accuracy: float, count: int, chance: float) -> bool:
    """Whether ``accuracy`` over ``count`` images is above chance by more than luck explains
    (the lower end of its Wilson 90 % interval at least 5 points above chance)."""
    low, _high = wilson(round(accuracy * count), count)
    return low >= chance + 0.05


def hint_for(classes: list[str], counts: np.ndarray, estimate, remaining: int, separation: float | None = None) -> str:
    """One or two sentences for the user (see the module docstring). ``separation``: the
    k-fold accuracy over all labels (biased, but near chance only when the features do not
    separate the classes)."""
    if len(classes) < 2:
        return "Add the classes (at least two) and label a first image of each."
    if remaining == 0:
        return "Every readable image is labelled: train on these labels."
    empty = [c for c, n in zip(classes, counts, strict=True) if n == 0]
    if empty:
        return (f"Label a first image of {', '.join(empty[:5])}: the model suggests classes once every class "
                "has a label.")
    if int(np.min(counts)) < FEW_LABELS:
        return f"Keep labelling: typical images first, until every class has {FEW_LABELS} labels."
    chance = 1.0 / len(classes)
    if separation is not None and not clearly_above_chance(separation, int(np.sum(counts)), chance) and (
            estimate is None or estimate.low <= chance + NEAR_CHANCE * (1 - chance)):
        shown = f"; estimated accuracy {estimate.accuracy:.0%}" if estimate is not None else ""
        return (f"After {int(np.min(counts))}+ labels per class the model is still near chance ({separation:.0%} "
                f"of the labelled images right in cross-validation{shown}; chance is {chance:.0%}): the pretrained "
                "features do not separate these classes, and more labels will help little. Try other backbones "
                "on the Which model? page, or fine-tune (train with more layers unfrozen) on the labels you have.")
    if estimate is None:
        return ("Keep labelling: the accuracy estimate starts once a few of the randomly drawn images "
                "(about one in five) are labelled.")
    shown = f"{estimate.accuracy:.0%} ({estimate.low:.0%} to {estimate.high:.0%})"
    if near_chance(estimate.accuracy, len(classes)) and estimate.high < chance + 0.3:
        return (f"The estimated accuracy stays near chance ({shown}; chance is {chance:.0%}) after "
                f"{int(np.min(counts))}+ labels per class: the pretrained features do not separate these classes, "
                "and more labels will help little. Try other backbones on the Which model? page, or fine-tune "
                "(train with more layers unfrozen) on the labels you have.")
    if estimate.low >= HIGH:
        return f"Estimated accuracy {shown}: more labels stop paying off here; train on these labels."
    return (f"Estimated accuracy {shown}. Keep labelling; the interval narrows as more of the randomly drawn "
            "images are labelled.")
