"""timm weights in a local Hugging Face hub cache, found without any network call.

A cache copied from a machine with internet looks like::

    HUB/models--timm--resnet18.a1_in1k/
        refs/main                      the snapshot's commit hash
        snapshots/<hash>/model.safetensors -> ../../blobs/<sha256>
        snapshots/<hash>/config.json   {"architecture": ..., "pretrained_cfg": {...}}
        blobs/<sha256>

Only folders and files are read: huggingface_hub is not used (it would try to reach the hub).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from tlgui.core.base.errors import WeightsError

WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")
_PREFIX = "models--timm--"


def hub_cache_dir() -> Path:
    """``HF_HUB_CACHE``, else ``HF_HOME/hub``, else ``~/.cache/huggingface/hub`` (with
    ``XDG_CACHE_HOME`` for ``~/.cache`` where it is set: huggingface_hub's own rule, so the
    cache it filled on this machine is the one found)."""
    for variable in ("HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE"):
        if os.environ.get(variable):
            return Path(os.environ[variable]).expanduser()
    if os.environ.get("HF_HOME"):
        return Path(os.environ["HF_HOME"]).expanduser() / "hub"
    cache_home = os.environ.get("XDG_CACHE_HOME") or "~/.cache"
    return Path(cache_home).expanduser() / "huggingface" / "hub"


@dataclass(frozen=True)
class HubSnapshot:
    """One timm model folder in the hub cache and what it holds."""

    folder: Path  # models--timm--NAME.TAG
    model: str  # NAME
    tag: str | None  # TAG (None for a folder without one)
    revision: str | None = None
    weights: Path | None = None  # model.safetensors or pytorch_model.bin
    config: dict[str, Any] = field(default_factory=dict)
    problem: str | None = None  # why these weights cannot be used

    @property
    def architecture(self) -> str:
        return f"timm:{self.model}"

    @property
    def label(self) -> str:
        return f"{self.model}.{self.tag}" if self.tag else self.model

    @property
    def pretrained_cfg(self) -> dict[str, Any]:
        cfg = self.config.get("pretrained_cfg")
        return dict(cfg) if isinstance(cfg, dict) else {}

    @property
    def num_classes(self) -> int | None:
        value = self.config.get("num_classes", self.pretrained_cfg.get("num_classes"))
        return int(value) if isinstance(value, int) else None


def _snapshot_dir(folder: Path) -> tuple[Path | None, str | None, str | None]:
    """(snapshot folder, revision, problem): refs/main's commit, else the newest snapshot."""
    snapshots = folder / "snapshots"
    ref = folder / "refs" / "main"
    if ref.is_file():
        try:
            revision = ref.read_text(encoding="utf-8").strip()
        except OSError as exc:
            return None, None, f"{ref} cannot be read ({exc.strerror or exc})"
        if revision and (snapshots / revision).is_dir():
            return snapshots / revision, revision, None
    try:
        found = sorted((p for p in snapshots.iterdir() if p.is_dir()), key=lambda p: p.stat().st_mtime)
    except OSError:
        found = []
    if not found:
        return None, None, (
            f"{folder} holds no snapshot (no folder under {snapshots.name}/): copy the whole cache folder"
        )
    return found[-1], found[-1].name, None


def read_snapshot(folder: str | Path) -> HubSnapshot:
    """What one ``models--timm--NAME[.TAG]`` folder holds; problems go into ``problem``."""
    folder = Path(folder)
    name = folder.name[len(_PREFIX):] if folder.name.startswith(_PREFIX) else folder.name
    model, _, tag = name.partition(".")
    snap, revision, problem = _snapshot_dir(folder)
    base = HubSnapshot(folder, model, tag or None, revision)
    if snap is None:
        return replace(base, problem=problem)
    config, problem = _read_config(snap / "config.json")
    weights = None
    for file_name in WEIGHT_FILES:
        candidate = snap / file_name
        if candidate.is_symlink() and not candidate.exists():
            target = os.readlink(candidate)
            return replace(
                base, config=config,
                problem=f"{candidate} is a broken link (its blob {Path(target).name} is missing): "
                "copy the whole cache folder again",
            )
        if candidate.is_file():
            weights = candidate
            break
    if weights is None and problem is None:
        problem = f"{snap} holds no weights ({' or '.join(WEIGHT_FILES)})"
    return replace(base, weights=weights, config=config, problem=problem)


def _read_config(path: Path) -> tuple[dict[str, Any], str | None]:
    if path.is_symlink() and not path.exists():
        return {}, f"{path} is a broken link (its blob is missing): copy the whole cache folder again"
    if not path.exists():
        return {}, None  # timm's defaults for the model are used
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        return {}, f"{path} is not readable JSON ({str(exc).splitlines()[0][:120]})"
    if not isinstance(config, dict):
        return {}, f"{path} is not a JSON object"
    return config, None


def list_hub_snapshots(cache: Path | None = None) -> list[HubSnapshot]:
    """Every timm model folder in the hub cache, by name (usable or not)."""
    cache = cache or hub_cache_dir()
    try:
        folders = sorted(p for p in cache.iterdir() if p.name.startswith(_PREFIX) and p.is_dir())
    except OSError:
        return []
    return [read_snapshot(p) for p in folders]


def find_hub_weights(architecture: str, cache: Path | None = None) -> HubSnapshot:
    """The usable snapshot for ``timm:NAME`` (``timm:NAME.TAG`` for one tag), or one line
    saying what is missing. With several tags, timm's default tag wins, else the first."""
    from tlgui.core.models.timm_zoo import pretrained_cfg_of, split_name

    model, tag = split_name(architecture)
    cache = cache or hub_cache_dir()
    candidates = [s for s in list_hub_snapshots(cache) if s.model == model and (tag is None or s.tag == tag)]
    if not candidates:
        wanted = f"{_PREFIX}{model}.{tag}" if tag else f"{_PREFIX}{model} or {_PREFIX}{model}.TAG"
        raise WeightsError(
            f"pretrained weights for {architecture} are not on this computer: no {wanted} in {cache} "
            "(copy that folder from a Hugging Face cache, import a .safetensors file with "
            "'tlgui weights import FILE', or use --weights none)"
        )
    usable = [s for s in candidates if s.problem is None]
    if not usable:
        raise WeightsError(candidates[0].problem)
    default_tag = pretrained_cfg_of(model).get("tag")
    usable.sort(key=lambda s: (s.tag != default_tag, s.tag or ""))
    return usable[0]


def hub_models_present(cache: Path | None = None) -> dict[str, HubSnapshot]:
    """Usable snapshots by model name (``resnet18``), for marking lists."""
    present: dict[str, HubSnapshot] = {}
    for snap in list_hub_snapshots(cache):
        if snap.problem is None:
            present.setdefault(snap.model, snap)
    return present
