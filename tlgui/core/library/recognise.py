"""Recognising which architecture a weight file is for, by its name and its content.

* :func:`recognise_file` / :func:`recognise_state` compare a state dict's keys and shapes
  with candidate architectures built on the meta device: first those the file name points
  at, then those of similar published parameter count.
* :func:`load_for_inspection` reads a file safely (weights only, memory-mapped).

Also home of the cancel flag convention shared by long calls (import, downloads): ``cancel``
is a ``threading.Event`` or a callable returning bool; cancelling raises :class:`Cancelled`.
Importing into the library is in :mod:`tlgui.core.weights_import`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import torch

from tlgui.core.base.cancel import Cancelled, StopFlag, is_cancelled
from tlgui.core.base.errors import TlguiError, WeightsError
from tlgui.core.library.local import weight_file_name
from tlgui.core.library.recognise_timm import timm_content_candidates, timm_name_candidates
from tlgui.core.models.safe_load import is_safetensors, safe_load
from tlgui.core.models.state_dicts import extract_state_dict, normalise_keys


def load_for_inspection(path: str | Path) -> Any:
    """``torch.load(weights_only=True)``, memory-mapped when the file format allows it.

    Tensors stay on disk until touched, so keys and shapes of a large file are cheap to
    read. Anything that ``mmap`` cannot open goes through :func:`weights.safe_load`, which
    gives the plain-language refusal (not found, not a weight file, carries code).
    """
    path = Path(path).expanduser()
    if path.is_file() and path.stat().st_size > 0 and is_safetensors(path):
        return safe_load(path)  # plain tensors by design; safe_load explains a damaged file
    if path.is_file() and path.stat().st_size > 0:
        _check_magic(path)
        try:
            return torch.load(path, map_location="cpu", weights_only=True, mmap=True)
        except Exception:  # noqa: BLE001 - legacy format, code, junk: safe_load explains
            pass
    try:
        return safe_load(path)
    except TlguiError:
        raise
    except Exception as exc:  # noqa: BLE001 - e.g. KeyError from torch's unpickler on junk
        raise WeightsError(
            f"{path} is not a PyTorch weight file ({type(exc).__name__} while reading it)"
        ) from None


def _check_magic(path: Path) -> None:
    """torch.save writes a zip archive (or, long ago, a binary pickle): refuse anything else
    up front, so junk is not mistaken for a file that carries code."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(4)
    except OSError as exc:
        raise WeightsError(f"cannot read {path}: {exc.strerror or exc}") from None
    if not (head.startswith(b"PK\x03\x04") or head.startswith(b"\x80")):
        raise WeightsError(f"{path} is not a PyTorch weight file (it is neither a zip archive nor a pickle)")


def _shapes(state: dict[str, torch.Tensor]) -> dict[str, tuple[int, ...]]:
    return {k: tuple(v.shape) for k, v in state.items() if not k.endswith("num_batches_tracked")}


@lru_cache(maxsize=256)
def _signature(architecture: str, in_channels: int) -> tuple[dict[str, tuple[int, ...]], str]:
    """Keys and shapes of ``architecture`` with a 1000-class head, and the head's path."""
    from tlgui.core.models.zoo import build_model, find_head_path

    model = build_model(architecture, 1000, in_channels, device="meta")
    return _shapes(model.state_dict()), find_head_path(model)


@dataclass(frozen=True)
class Fit:
    """How a state dict compares with an architecture."""

    architecture: str
    ok: bool
    num_classes: int | None
    in_channels: int
    head_path: str
    problem: str = ""  # plain words when not ok


def _in_channels_of(architecture: str, shapes: dict[str, tuple[int, ...]]) -> int:
    from tlgui.core.models.registry import family_for

    return family_for(architecture).input_channels(architecture, shapes)


def _more(items: list[str], limit: int = 4) -> str:
    extra = f" (and {len(items) - limit} more)" if len(items) > limit else ""
    return "; ".join(items[:limit]) + extra


def compare_with(architecture: str, state: dict[str, torch.Tensor], source: str = "the file") -> Fit:
    """Compare keys and shapes of ``state`` with ``architecture`` (any head size allowed).

    Extra keys are accepted only for auxiliary classifiers (GoogLeNet, Inception v3).
    """
    shapes = _shapes(normalise_keys(state))
    in_channels = _in_channels_of(architecture, shapes)
    expected, head = _signature(architecture, in_channels)
    head_prefix = head + "."
    missing, mismatched = [], []
    num_classes = None
    for key, shape in expected.items():
        got = shapes.get(key)
        if got is None:
            missing.append(key)
        elif key.startswith(head_prefix):
            # the head may have any number of classes; its other dimensions must agree
            if len(got) != len(shape) or got[1:] != shape[1:]:
                mismatched.append(f"{key} {got} vs model {shape}")
            elif key == head + ".weight":
                num_classes = got[0]
        elif got != shape:
            mismatched.append(f"{key} {got} vs model {shape}")
    extra = [k for k in shapes if k not in expected and "aux" not in k.lower()]
    problem = ""
    if missing and len(missing) >= len(mismatched):  # mostly absent: another architecture
        problem = (
            f"weights in {source} lack layers {architecture} needs: {_more(missing)} "
            "(is it a file for a different architecture?)"
        )
    elif mismatched:
        problem = f"weights in {source} do not fit {architecture}: {_more(mismatched)}"
    elif extra:
        problem = (
            f"weights in {source} have layers {architecture} does not: {_more(extra)} "
            "(is it a file for a different, larger architecture?)"
        )
    return Fit(architecture, not problem, num_classes, in_channels, head, problem)


def _norm_name(text: str) -> str:
    return re.sub(r"[^0-9a-z]+", "_", text.lower()).strip("_")


def _strip_hash(file_name: str) -> str:
    stem = Path(file_name).stem
    return re.sub(r"-[0-9a-f]{8,}$", "", stem)


def _published_stems() -> dict[str, str]:
    """Normalised file stem of every published weights file -> architecture."""
    from tlgui.core.models.zoo import list_architectures, weight_entries

    stems: dict[str, str] = {}
    for name in list_architectures():
        for entry in weight_entries(name):
            stems.setdefault(_norm_name(_strip_hash(weight_file_name(entry))), name)
    return stems


def name_candidates(file_name: str) -> list[str]:
    """Architectures a file name points at, best first (``resnet18-f37072fd.pth`` -> resnet18)."""
    from tlgui.core.models.zoo import list_architectures

    stem = _norm_name(_strip_hash(file_name))
    found = []
    published = _published_stems().get(stem)
    if published:
        found.append(published)
    by_prefix = sorted(
        (a for a in list_architectures() if stem.startswith(_norm_name(a))), key=len, reverse=True
    )
    found += [a for a in by_prefix if a not in found]
    return found


def _param_numel(state: dict[str, torch.Tensor]) -> int:
    return sum(
        v.numel() for k, v in state.items()
        if v.is_floating_point() and not k.endswith(("running_mean", "running_var"))
    )


def _content_candidates(state: dict[str, torch.Tensor]) -> list[str]:
    """Architectures worth comparing with ``state`` by content, most likely first.

    Torchvision architectures are ranked by how near their published parameter count is to
    the file's (no model is built for that); a head for another number of classes moves the
    count, but not by more than the window allows. Architectures that publish no count (smallcnn)
    are tried first when their key count fits.
    """
    from tlgui.core.models.registry import FAMILIES, family_for
    from tlgui.core.models.zoo import list_architectures, weight_entries

    numel = _param_numel(state)
    scored = []
    for name in list_architectures():
        entries = weight_entries(name)
        params = entries[0].meta.get("num_params") if entries else None
        if not params:
            continue
        ratio = numel / params
        if 0.2 <= ratio <= 3.0:
            scored.append((abs(ratio - 1.0), name))
    ranked = [name for _, name in sorted(scored)]
    by_keys = [name for family in FAMILIES for name in family.KEY_COUNT_CANDIDATES]
    for name in reversed(by_keys):
        if len(_shapes(state)) == len(_signature(name, family_for(name).input_channels(name))[0]):
            ranked.insert(0, name)
    return ranked


@dataclass(frozen=True)
class Recognition:
    """Which architecture a state dict is for (``architecture`` None: not recognised)."""

    architecture: str | None
    num_classes: int | None = None
    in_channels: int = 3
    head_path: str | None = None
    by_name: bool = False  # the file name pointed at it (else found by content alone)
    reason: str = ""  # why nothing was recognised


def _candidates(state, file_name: str, hint_path: Path | None) -> tuple[list[str], list[str]]:
    """(named, by content): timm names first for safetensors files and hub-cache folders."""
    named = name_candidates(file_name) if file_name else []
    timm_named = timm_name_candidates(hint_path, file_name)
    timm_first = file_name.endswith(".safetensors") or (
        hint_path is not None and any(p.name.startswith("models--timm--") for p in hint_path.parents)
    )
    named = timm_named + named if timm_first else named + timm_named
    # torchvision by parameter count (no model built), then a bounded timm shortlist
    return named, _content_candidates(state) + timm_content_candidates(state)


def recognise_state(
    state: dict[str, torch.Tensor], file_name: str = "", cancel: StopFlag = None, hint_path: Path | None = None
) -> Recognition:
    """Recognise the architecture of ``state``: candidates from the file name (and, for timm,
    the folders around ``hint_path``) first, then architectures of similar parameter count,
    then a bounded timm shortlist; each compared by keys and shapes on the meta device
    (built once per process and cached)."""
    state = normalise_keys(state)
    tried: set[str] = set()
    named, by_content = _candidates(state, file_name, hint_path)
    first_problem = ""
    for arch in named + by_content:
        if arch in tried:
            continue
        tried.add(arch)
        if is_cancelled(cancel):
            raise Cancelled("recognising the weight file was cancelled")
        fit = compare_with(arch, state, file_name or "the file")
        if fit.ok:
            return Recognition(arch, fit.num_classes, fit.in_channels, fit.head_path, arch in named)
        if arch in named and not first_problem:
            first_problem = fit.problem
    reason = first_problem or f"its {len(state)} layers match no known architecture"
    heads = {k.split(".", 1)[0] for k in state}
    if len(heads) == 1 and all("." in k for k in state):
        reason += f"; every key starts with {next(iter(heads))!r}, a wrapper's prefix?"
    return Recognition(None, reason=reason)


def recognise_file(path: str | Path, cancel: StopFlag = None) -> Recognition:
    """Load ``path`` safely (weights only) and recognise its architecture."""
    path = Path(path).expanduser()
    state = extract_state_dict(load_for_inspection(path), path)
    return recognise_state(state, path.name, cancel, hint_path=path)
