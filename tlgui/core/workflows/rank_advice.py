"""The rank's recommendation: which backbone, and head only, fine-tune or from scratch, in plain words.

Rules of thumb, stated with the numbers behind them: a probe near chance means no backbone's
features fit these classes (train from scratch); few images per class favour the head alone
(fine-tuning would overfit); many images per class and a probe short of its training fit or of
100 % leave room that fine-tuning can take. A transfer check that already ran on this data
(``compare.json`` under the runs folder) measured the answer instead of guessing it, and wins
when it was made with the same model.
"""

from __future__ import annotations

import json
import statistics
from pathlib import Path
from typing import Any

from tlgui.core.training.strategy import Strategy
from tlgui.core.workflows.rank_results import Recommendation

FEW_PER_CLASS = 200  # below this many images per class, fine-tuning a deep model tends to overfit
NEAR_CHANCE = 0.15


def _same_data(a: str | None, b: str | None) -> bool:
    if not a or not b:
        return False
    if a == b:
        return True
    try:
        return Path(a).expanduser().resolve() == Path(b).expanduser().resolve()
    except OSError:
        return False


def previous_check(data: str, folders: list[Path] | None = None) -> dict[str, Any] | None:
    """The newest finished transfer check (compare.json) made on ``data``, or None."""
    from tlgui.paths import runs_dir

    found = []
    for folder in folders or [runs_dir()]:
        for path in Path(folder).glob("*/compare.json"):
            try:
                report = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue
            if isinstance(report, dict) and _same_data(report.get("data"), data) and report.get("best_strategy"):
                found.append((path.stat().st_mtime, str(path), report))
    if not found:
        return None
    _, newest, report = max(found)
    return {**report, "path": newest}


def _check_words(check: dict[str, Any]) -> str:
    parts = []
    for name in (Strategy.SCRATCH, Strategy.HEAD, Strategy.FINETUNE):
        entry = check.get(name) or {}
        if entry.get("final_val_accuracy") is not None:
            parts.append(f"{name} {entry['final_val_accuracy']:.0%}")
    return (f"the transfer check already run on this data with {check.get('model')} measured "
            f"{', '.join(parts)} ({check['path']})")


def _facts(counts: list[int]) -> tuple[int, float]:
    """(median images per class, the share of the commonest class: accuracy by guessing it)."""
    per_class = int(statistics.median(counts)) if counts else 0
    return per_class, (max(counts) / max(1, sum(counts)) if counts else 0.0)


def strategy_for(candidate, counts: list[int], check: dict[str, Any] | None = None) -> tuple[Strategy, str]:
    """(strategy, reason in words) for training this scored candidate on this data."""
    per_class, chance = _facts(counts)
    room = candidate.accuracy - chance
    if room < NEAR_CHANCE * (1 - chance):
        strategy, reason = Strategy.SCRATCH, ("no backbone's features separate these classes much better than "
                                              "guessing, so there is little to transfer")
    elif per_class < FEW_PER_CLASS:
        strategy, reason = Strategy.HEAD, ("with this few images per class, fine-tuning every layer tends to overfit; "
                                    "the head alone on these features is the safe choice")
    elif candidate.accuracy < 0.95:
        strategy, reason = Strategy.FINETUNE, ("there are enough images per class to adapt the backbone, and the probe "
                                        "leaves room above it")
    else:
        strategy, reason = Strategy.HEAD, "the head alone already separates the classes almost perfectly"
    if check is not None:
        measured = check.get("best_strategy")
        if check.get("model") == candidate.model and measured in list(Strategy):
            strategy, reason = Strategy(measured), f"{_check_words(check)}, so {measured} is what this data rewards"
        else:
            reason += f"; {_check_words(check)}"
    return strategy, reason


def recommend(ordered: list, counts: list[int], check: dict[str, Any] | None = None) -> Recommendation:
    """The advice for candidates ``ordered`` best first."""
    per_class, chance = _facts(counts)
    best = next((c for c in ordered if c.ok), None)
    if best is None:
        return Recommendation("smallcnn", "none", Strategy.SCRATCH,
                              "no backbone could be scored on this data (see each one's reason): train a small "
                              "model from scratch, or add pretrained weights that fit it")
    facts = (f"{per_class} images per class; the best probe ({best.model}) reaches {best.accuracy:.0%} "
             f"(± {best.accuracy_std or 0:.0%}) against {chance:.0%} by chance and {best.train_accuracy:.0%} "
             f"on the images it was fitted on")
    strategy, reason = strategy_for(best, counts, check)
    weights = best.weights if strategy.uses_weights else "none"
    return Recommendation(best.model, weights, strategy, f"{facts}: {reason}.")
