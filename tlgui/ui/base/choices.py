"""Plain values that panels emit and the main window collects into a TrainConfig.

Panels never hold a live model; these are the only things they hand over.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ModelChoice:
    architecture: str  # a name from tlgui.core.models.list_architectures()
    weights: str  # "none" | "default" | "demo:source" | path to a weight file or model.pt


@dataclass(frozen=True)
class DatasetChoice:
    data: str  # a spec accepted by tlgui.core.data.open_source
    val_data: str | None = None
    split: str = "train"
    val_split: float = 0.2


@dataclass(frozen=True)
class DatasetSummary:
    """What the dataset panel learned when it opened the data (for the layer tree's head)."""

    spec: str
    classes: tuple[str, ...]
    counts: tuple[int, ...]
    skipped: int
    channels: int  # 1 or 3, as found in the data
    source: str = ""  # the kind of data, e.g. "CSV list (one image file and its label per row)"
