"""What a rank produces: each candidate's scores, progress events, the recommendation, the
whole result (and the result read back from its JSON, for :mod:`rank_store`)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from tlgui.core.base.events import RankProgress, RunStatus, as_run_status
from tlgui.core.base.rank_scores import CandidateResult
from tlgui.core.base.strategy import Strategy

__all__ = ["CandidateResult", "RankProgress", "RankResult", "Recommendation"]


@dataclass(frozen=True)
class Recommendation:
    """The rank's advice: train ``model`` with ``weights`` this ``strategy``, and ``why`` in words."""

    model: str
    weights: str
    strategy: Strategy
    why: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "strategy", Strategy(self.strategy))  # "head" read from JSON becomes HEAD

    def __getitem__(self, key: str) -> str:
        """Read by key, as the dict it replaced was (``rec["strategy"]``)."""
        if key not in ("model", "weights", "strategy", "why"):
            raise KeyError(key)
        return getattr(self, key)

    def to_json(self) -> dict[str, str]:
        return {"model": self.model, "weights": self.weights, "strategy": self.strategy.value, "why": self.why}

    @classmethod
    def from_json(cls, record: dict[str, Any]) -> Recommendation:
        """Raises KeyError or ValueError on a record that is not one."""
        return cls(str(record["model"]), str(record["weights"]), Strategy(record["strategy"]), str(record["why"]))


@dataclass
class RankResult:
    status: RunStatus  # "completed" | "stopped"
    candidates: list[CandidateResult]
    recommendation: Recommendation
    classes: list[str] = field(default_factory=list)
    images: int = 0
    seconds: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return {"candidates": [c.to_json() for c in self.candidates], "recommendation": self.recommendation.to_json(),
                "status": self.status, "classes": self.classes, "images": self.images,
                "seconds": round(self.seconds, 3)}

    @classmethod
    def from_json(cls, record: dict[str, Any]) -> RankResult:
        """The result :meth:`to_json` wrote (keys a newer tlgui added are ignored). Raises
        KeyError, TypeError or ValueError on a record that is not one."""
        names = {f.name for f in dataclasses.fields(CandidateResult)}
        candidates = [CandidateResult(**{k: v for k, v in c.items() if k in names}) for c in record["candidates"]]
        for c in candidates:
            c.strategy = None if c.strategy is None else Strategy(c.strategy)
        return cls(as_run_status(record["status"]), candidates, Recommendation.from_json(record["recommendation"]),
                   list(record.get("classes", [])), int(record.get("images", 0)), float(record.get("seconds", 0.0)))
