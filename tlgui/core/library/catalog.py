"""The weights library: which published weights are on this computer.

* :func:`list_weights` tells, for every torchvision weights entry, whether its file is
  present (torch hub cache or the app's own ``weights_dir()``), its size, published
  ImageNet accuracy and parameter count. It only reads the weights enums (no model is
  built), so listing all architectures takes a fraction of a second.
* :func:`list_custom_weights` lists the *custom* weights under ``weights_dir()/custom/``
  with what their JSON sidecars say.

Recognising weight files is in :mod:`tlgui.core.weights_recognise`, importing them in
:mod:`tlgui.core.weights_import`.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, TypedDict, cast

from tlgui.core.base.errors import WeightsError
from tlgui.core.library.local import hub_checkpoints_dir, weight_file_name

CUSTOM_DIR = "custom"


_MIB = 1 << 20


def library_dirs() -> list[Path]:
    """Folders searched for weight files; the import target (``weights_dir()``) first."""
    from tlgui.paths import weights_dir

    return [weights_dir(), hub_checkpoints_dir()]


def custom_dir() -> Path:
    from tlgui.paths import weights_dir

    return weights_dir() / CUSTOM_DIR


@dataclass(frozen=True)
class WeightInfo:
    """One torchvision weights entry and whether its file is on this computer."""

    architecture: str
    entry: str  # e.g. "IMAGENET1K_V1"
    is_default: bool
    file_name: str  # torchvision's name, e.g. "resnet18-f37072fd.pth"
    url: str
    path: str | None  # the local file, when present
    size_bytes: int | None  # of the local file when present, else the published size
    acc1: float | None  # published ImageNet-1K top-1 accuracy, percent
    acc5: float | None
    num_params: int | None

    @property
    def present(self) -> bool:
        return self.path is not None

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "present": self.present}


class WeightsSidecar(TypedDict, total=False):
    """The JSON file an import writes beside a custom weight file (``NAME.json``); every key is
    optional to a reader, since the user may have edited or copied it."""

    format: str  # importing.SIDECAR_FORMAT
    format_version: int
    architecture: str
    num_classes: int | None
    in_channels: int
    head_path: str | None
    sha256: str
    original_name: str  # the file's name before import
    imported: str  # ISO 8601 time
    pretrained_cfg: dict[str, Any]  # timm files: the pretrained_cfg found beside them


@dataclass(frozen=True)
class CustomWeights:
    """A weight file imported with a named architecture (not torchvision's published one)."""

    path: str
    architecture: str | None
    num_classes: int | None
    original_name: str | None
    imported: str | None
    size_bytes: int
    problem: str | None = None  # the sidecar is missing or unreadable

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _listing(folder: Path) -> dict[str, Path]:
    try:
        return {entry.name: Path(entry.path) for entry in os.scandir(folder) if entry.is_file()}
    except OSError:
        return {}


def list_weights(architectures: Iterable[str] | None = None) -> list[WeightInfo]:
    """Every weights entry of ``architectures`` (default: all), present or not.

    Reads the weights enums only; each search folder is listed once.
    """
    from tlgui.core.models.zoo import default_weight_entry, list_architectures, weight_entries

    names = list(architectures) if architectures is not None else list(list_architectures())
    # hub first: that is the order weights.find_local_weights uses
    present: dict[str, Path] = {}
    for folder in reversed(library_dirs()):
        present.update(_listing(folder))
    rows = []
    for name in names:
        entries = weight_entries(name)
        if not entries:
            continue
        default = default_weight_entry(name)
        for entry in entries:
            meta = entry.meta
            file_name = weight_file_name(entry)
            local = present.get(file_name)
            size = None
            if local is not None:
                try:
                    size = local.stat().st_size
                except OSError:
                    local = None
            if size is None and meta.get("_file_size") is not None:
                size = int(float(meta["_file_size"]) * _MIB)
            metrics = meta.get("_metrics", {}).get("ImageNet-1K", {})
            rows.append(
                WeightInfo(
                    architecture=name,
                    entry=entry.name,
                    is_default=entry is default,
                    file_name=file_name,
                    url=entry.url,
                    path=str(local) if local is not None else None,
                    size_bytes=size,
                    acc1=metrics.get("acc@1"),
                    acc5=metrics.get("acc@5"),
                    num_params=meta.get("num_params"),
                )
            )
    return rows


def list_custom_weights() -> list[CustomWeights]:
    """Weight files under ``weights_dir()/custom`` with what their sidecars say."""
    folder = custom_dir()
    rows = []
    for name, path in sorted(_listing(folder).items()):
        if name.endswith(".json") or name.startswith("."):
            continue
        sidecar = path.with_suffix(".json")
        info: WeightsSidecar = {}
        problem = None
        try:
            raw = json.loads(sidecar.read_text(encoding="utf-8"))
            if isinstance(raw, dict):
                info = cast(WeightsSidecar, raw)
            else:
                problem = f"{sidecar.name} is not a JSON object"
        except FileNotFoundError:
            problem = f"no {sidecar.name} next to it: its architecture is unknown"
        except (OSError, ValueError) as exc:
            problem = f"cannot read {sidecar.name}: {exc}"
        rows.append(
            CustomWeights(
                str(path), info.get("architecture"), info.get("num_classes"), info.get("original_name"),
                info.get("imported"), path.stat().st_size, problem,
            )
        )
    return rows


def find_entry(architecture: str, entry: str | None = None):
    """torchvision's weights enum member for ``architecture`` (its default when ``entry`` is None)."""
    from tlgui.core.models.zoo import check_architecture, default_weight_entry, weight_entries

    architecture = check_architecture(architecture)
    entries = weight_entries(architecture)
    if not entries:
        raise WeightsError(f"torchvision publishes no pretrained weights for {architecture}")
    if entry is None or entry.upper() == "DEFAULT":
        return default_weight_entry(architecture)
    for member in entries:
        if member.name.upper() == entry.upper():
            return member
    names = ", ".join(m.name for m in entries)
    raise WeightsError(f"{architecture} has no weights entry {entry!r}; it has {names}")
