"""What the transfer check produces: each strategy's result, and the verdict in plain words
(did transfer help, by how many points, beyond the noise of the validation set?)."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

from tlgui.core.base.events import RunStatus

LABELS = {"scratch": "from scratch", "head": "head only", "finetune": "fine-tune"}


@dataclass
class StrategyResult:
    name: str
    status: RunStatus  # "completed" | "stopped"
    best_val_accuracy: float | None
    final_val_accuracy: float | None
    seconds: float  # training time (train_seconds of the run)
    val_accuracy_per_epoch: list[float] = field(default_factory=list)
    train_accuracy_per_epoch: list[float] = field(default_factory=list)
    epochs_completed: int = 0
    weights: str = "none"
    freeze: str = "none"
    run_dir: str = ""
    trainable_params: int = 0
    frozen_params: int = 0
    train_images: int = 0
    val_images: int = 0

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("name")
        return data


def percent_text(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.1f}%"


def _noise_points(a: float, b: float, n: int) -> float:
    """Rough standard error, in points, of a difference of two accuracies on n images."""
    if n <= 0:
        return 0.0
    p = min(max((a + b) / 2, 0.0), 1.0)
    return 100 * math.sqrt(2 * p * (1 - p) / n)


def verdict_text(results: dict[str, StrategyResult], source: str, epochs: int,
                 stopped: bool = False) -> tuple[str, dict[str, float]]:
    """(plain-words verdict, gains in points over scratch) from final validation accuracies."""
    final = {k: r.final_val_accuracy for k, r in results.items() if r.final_val_accuracy is not None}
    missing = [LABELS[k] for k in results if k not in final]
    tail = ""
    if stopped:
        tail = " Stopped early: these figures cover only the epochs that finished."
    if missing:
        tail += f" No complete epoch for: {', '.join(missing)}."
    if not final:
        return ("No strategy finished an epoch, so there is nothing to compare." + tail).strip(), {}
    transfer = {k: accuracy for k, accuracy in final.items() if k != "scratch"}
    if "scratch" not in final:
        parts = [f"{LABELS[k]} reached {percent_text(accuracy)}" for k, accuracy in transfer.items()]
        return (
            f"No from-scratch baseline was run, so this cannot tell whether transfer helped; "
            f"after {epochs} epochs {' and '.join(parts)}." + tail
        ), {}
    base = final["scratch"]
    if not transfer:
        return f"Only training from scratch was run: {percent_text(base)} after {epochs} epochs." + tail, {}
    gains = {k: round(100 * (accuracy - base), 2) for k, accuracy in transfer.items()}
    text = _gains_sentence(gains, final, source, epochs)
    text += _help_sentence(results, gains, transfer, base)
    seconds = ", ".join(f"{LABELS[k]} {r.seconds:.1f}s" for k, r in results.items())
    text += f" Training time: {seconds}."
    return (text + tail), gains


def _gains_sentence(gains: dict[str, float], final: dict[str, float], source: str, epochs: int) -> str:
    """The points each transfer strategy gained over scratch, as one sentence."""
    base = final["scratch"]
    parts = []
    if "finetune" in gains:
        parts.append(
            f"fine-tuning from {source} gave {gains['finetune']:+.1f} points over training from scratch after "
            f"{epochs} epochs ({percent_text(final['finetune'])} vs {percent_text(base)})"
        )
        if "head" in gains:
            parts.append(f"training the head alone gave {gains['head']:+.1f} ({percent_text(final['head'])})")
    else:
        parts.append(
            f"training only the head on top of {source} gave {gains['head']:+.1f} points over training from "
            f"scratch after {epochs} epochs ({percent_text(final['head'])} vs {percent_text(base)})"
        )
    first = "; ".join(parts)
    return first[0].upper() + first[1:] + "."


def _help_sentence(results: dict[str, StrategyResult], gains: dict[str, float], transfer: dict[str, float],
                   base: float) -> str:
    """Whether the best transfer strategy beat scratch by more than the validation set's noise."""
    best = max(transfer, key=lambda k: transfer[k])
    gain = gains[best]
    val_images = results["scratch"].val_images
    noise = max(1.0, _noise_points(base, transfer[best], val_images))
    if gain >= noise:
        text = f" Transfer helped: {LABELS[best]} is the better choice here."
        if (
            best == "finetune"
            and "head" in gains
            and gains["finetune"] - gains["head"] < noise
            and results["head"].seconds < results["finetune"].seconds
        ):
            text += " Training the head alone did nearly as well, in less time."
        return text
    if gain > -noise:
        return (
            f" Transfer did NOT clearly help: the best transfer strategy ({LABELS[best]}) is within "
            f"{noise:.1f} points of training from scratch, about the noise of {val_images} validation images."
        )
    return (
        f" Transfer did NOT help here: training from scratch did best, {-gain:.1f} points ahead of "
        f"{LABELS[best]}. The source model's features may not suit this data (different image kind, size "
        "or colour), or more epochs are needed."
    )
