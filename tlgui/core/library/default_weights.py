"""``--weights default``: an architecture's published weights, looked for on this computer only.

Where to look depends on its family's ``WEIGHT_KIND``: torchvision's files by name in the torch
hub cache and the library (:mod:`tlgui.core.library.local`), timm's in the Hugging Face hub cache
and the library (:mod:`tlgui.core.library.timm_weights`); a family that publishes none says what
to start from instead. Never a download.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tlgui.core.base.errors import WeightsError
from tlgui.core.library.local import default_weights_path, find_local_weights, weight_file_name, weight_search_dirs
from tlgui.core.library.timm_weights import find_timm_weights
from tlgui.core.models.families import WeightKind
from tlgui.core.models.registry import family_for

if TYPE_CHECKING:
    from torchvision.models import WeightsEnum


@dataclass(frozen=True)
class DefaultWeights:
    """The file ``--weights default`` loads, and what travels with it."""

    kind: WeightKind
    path: Path
    description: str  # for the run log: which weights, from where
    entry: WeightsEnum | None = None  # torchvision weights: their enum member
    pretrained_cfg: dict[str, Any] = field(default_factory=dict)  # timm weights: their preprocessing


@dataclass(frozen=True)
class LocalDefault:
    """Whether an architecture's published weights are here, in words for a status line."""

    published: bool  # its family publishes weights for it at all
    path: Path | None  # the file, when it is on this computer
    status: str  # one line: available, or why not
    detail: str = ""  # the file, or the folders searched


def _torchvision(architecture: str) -> DefaultWeights:
    path, entry = default_weights_path(architecture)
    return DefaultWeights("torchvision", path, f"torchvision {entry.name} ({path.name})", entry)


def _timm(architecture: str) -> DefaultWeights:
    found = find_timm_weights(architecture)
    return DefaultWeights("timm", found.path, found.description, None, dict(found.pretrained_cfg))


def _unpublished(architecture: str) -> DefaultWeights:
    raise WeightsError(default_weights_missing(architecture))


def default_weights_missing(architecture: str) -> str:
    """Why a family that publishes no weights has no ``--weights default``, and what instead."""
    alias = family_for(architecture).STARTING_ALIAS
    instead = f"--weights {alias}, a model.pt" if alias else "a model.pt"
    return f"{architecture} has no published pretrained weights; use {instead} from an earlier run, or --weights none"


def _locate_unpublished(architecture: str) -> LocalDefault:
    return LocalDefault(False, None, f"{architecture} has no published {family_for(architecture).WEIGHTS_LABEL}")


def _locate_torchvision(architecture: str) -> LocalDefault:
    entry = family_for(architecture).default_weight_entry(architecture)
    if entry is None:
        return LocalDefault(False, None, f"torchvision publishes no pretrained weights for {architecture}")
    found = find_local_weights(entry)
    if found is not None:
        return LocalDefault(True, found, "Pretrained ImageNet weights: available offline", str(found))
    return LocalDefault(
        True, None,
        f"Pretrained ImageNet weights: not on this computer (expected {weight_file_name(entry)} in "
        f"{weight_search_dirs()[0]})",
        "Searched: " + "; ".join(str(d) for d in weight_search_dirs()),
    )


def _locate_timm(architecture: str) -> LocalDefault:
    try:
        found = find_timm_weights(architecture)
    except WeightsError as exc:
        return LocalDefault(True, None, f"Pretrained timm weights: {exc}")
    return LocalDefault(True, found.path, f"Pretrained weights: available offline ({found.short})", str(found.path))


@dataclass(frozen=True)
class WeightStore:
    """Where one kind of published weights lives: the strict find (checksums, WeightsError) for
    training, and the quick look for the window."""

    find: Callable[[str], DefaultWeights]
    locate: Callable[[str], LocalDefault]


# a family's WEIGHT_KIND -> its store; a kind with no store publishes nothing ("none")
STORES: dict[WeightKind, WeightStore] = {
    "torchvision": WeightStore(_torchvision, _locate_torchvision),
    "timm": WeightStore(_timm, _locate_timm),
}
_UNPUBLISHED = WeightStore(_unpublished, _locate_unpublished)


def _store(architecture: str) -> WeightStore:
    return STORES.get(family_for(architecture).WEIGHT_KIND, _UNPUBLISHED)


def find_default_weights(architecture: str) -> DefaultWeights:
    """The local file of ``architecture``'s default weights, or WeightsError in one line (no download)."""
    return _store(architecture).find(architecture)


def locate_default_weights(architecture: str) -> LocalDefault:
    """A quick look (no checksum) for the window: are ``architecture``'s published weights here?"""
    return _store(architecture).locate(architecture)
