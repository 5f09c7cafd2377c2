"""Finding torchvision's published weight files on this computer (torch hub cache, the library)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import torch

from tlgui.core.base.errors import WeightsError
from tlgui.core.library.integrity import check_named_checksum
from tlgui.core.models.zoo import default_weight_entry

if TYPE_CHECKING:
    from torchvision.models import WeightsEnum


def hub_checkpoints_dir() -> Path:
    return Path(torch.hub.get_dir()) / "checkpoints"


def weight_search_dirs() -> list[Path]:
    from tlgui.paths import weights_dir

    return [hub_checkpoints_dir(), weights_dir()]


def weight_file_name(entry: WeightsEnum) -> str:
    return entry.url.rsplit("/", 1)[-1]


def find_local_weights(entry: WeightsEnum) -> Path | None:
    name = weight_file_name(entry)
    for folder in weight_search_dirs():
        candidate = folder / name
        if candidate.is_file():
            return candidate
    return None


def default_weights_path(architecture: str) -> tuple[Path, WeightsEnum]:
    """The local file of torchvision's default weights, or a clear error (no download)."""
    entry = default_weight_entry(architecture)
    if entry is None:
        raise WeightsError(f"torchvision publishes no pretrained weights for {architecture}")
    found = find_local_weights(entry)
    if found is not None:
        check_named_checksum(found, f" ({found}): delete it and import or download it again")
    if found is None:
        folders = " or ".join(str(d) for d in weight_search_dirs())
        raise WeightsError(
            f"pretrained weights for {architecture} are not on this computer: expected "
            f"{weight_file_name(entry)} in {folders} (import the file with "
            "'tlgui weights import FILE', or use --weights none)"
        )
    return found, entry
