"""One rank candidate's scores: what the rank writes to its JSON and what its progress events carry
(:class:`tlgui.core.base.events.RankProgress`), so it sits as low as the events do."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from tlgui.core.base.strategy import Strategy


@dataclass
class CandidateResult:
    model: str
    weights: str
    origin: str = ""
    accuracy: float | None = None
    accuracy_std: float | None = None
    train_accuracy: float | None = None
    knn_accuracy: float | None = None
    logme: float | None = None
    seconds_per_image: float | None = None
    parameters: int | None = None
    folds: int | None = None
    features_reused: bool = False
    strategy: Strategy | None = None  # how to train this one (rank_advice.strategy_for)
    problem: str | None = None  # why it could not be scored
    note: str | None = None  # a warning about its score (near chance)

    @property
    def ok(self) -> bool:
        return self.problem is None and self.accuracy is not None

    def to_json(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        for key in ("accuracy", "accuracy_std", "train_accuracy", "knn_accuracy", "logme"):
            out[key] = None if out[key] is None else round(float(out[key]), 4)
        if out["seconds_per_image"] is not None:
            out["seconds_per_image"] = float(f"{out['seconds_per_image']:.4g}")
        out["strategy"] = None if self.strategy is None else Strategy(self.strategy).value  # the plain word
        return out
