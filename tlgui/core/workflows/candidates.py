"""Which backbones ``tlgui rank`` compares: every pretrained backbone on this computer, plus those named.

Found by the weights library itself (what ``tlgui weights list`` and ``tlgui weights models``
show): torchvision weights in the torch hub cache or tlgui's library, custom weights with a
known architecture, timm weights in the Hugging Face hub cache, the user's finished runs, and
the demo's source model when it has been made.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from tlgui.core.base.errors import ConfigError


@dataclass(frozen=True)
class Candidate:
    model: str
    weights: str  # what --weights would say: default, a file path, demo:source
    origin: str  # where it was found, in words


def _torchvision() -> list[Candidate]:
    from tlgui.core.library.catalog import list_custom_weights, list_weights

    found = []
    for row in list_weights():
        if row.present:
            weights = "default" if row.is_default else str(row.path)
            found.append(Candidate(row.architecture, weights, f"torchvision {row.entry} ({row.path})"))
    for custom in list_custom_weights():
        if custom.architecture and custom.problem is None:
            found.append(Candidate(custom.architecture, custom.path, "imported weight file"))
    return found


def _timm() -> list[Candidate]:
    from tlgui.core.library.hub_cache import list_hub_snapshots

    found = []
    for snapshot in list_hub_snapshots():
        if snapshot.weights is not None:  # one with a problem is still listed: its reason shows in the rank
            found.append(Candidate(snapshot.architecture, str(snapshot.weights),
                                   f"Hugging Face hub cache ({snapshot.label})"))
    return found


def _mine() -> list[Candidate]:
    from tlgui.core.library.my_models import list_my_models
    from tlgui.core.workflows.demo import demo_source_dir

    demo = demo_source_dir() / "model.pt"
    found = []
    if demo.is_file():
        found.append(Candidate("smallcnn", "demo:source", "the demo's source model"))
    for model in list_my_models():
        if model.ok and model.architecture and model.status != "failed" and Path(model.path) != demo:
            found.append(Candidate(model.architecture, model.path, f"my model {model.name}"))
    return found


def find_candidates() -> list[Candidate]:
    """Every pretrained backbone on this computer (no network, no model built)."""
    return _torchvision() + _timm() + _mine()


def parse_models(spec: str) -> list[Candidate]:
    """``auto`` and/or ``NAME`` / ``NAME=WEIGHTS``, comma separated; duplicates dropped."""
    out: list[Candidate] = []
    for part in (p.strip() for p in (spec or "auto").split(",")):
        if not part:
            continue
        if part == "auto":
            out.extend(find_candidates())
            continue
        model, _, weights = part.partition("=")
        if not model.strip():
            raise ConfigError(f"--models {spec}: {part!r} names no model (NAME or NAME=WEIGHTS)")
        out.append(Candidate(model.strip(), weights.strip() or "default", "named with --models"))
    seen, unique = set(), []
    for candidate in out:
        if (candidate.model, candidate.weights) not in seen:
            seen.add((candidate.model, candidate.weights))
            unique.append(candidate)
    return unique
