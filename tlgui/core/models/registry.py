"""The registry of model families: which family a ``--model`` name belongs to.

The families are asked in order; the first whose ``owns(name)`` is true answers for it. torchvision
comes last and also answers for names nobody owns (its checks then name close matches). A family
is a module of :mod:`tlgui.core.models.families` listed here, or one that a higher layer (or a
plug-in) adds with :func:`register_family`.
"""

from __future__ import annotations

from tlgui.core.base import ordered
from tlgui.core.models.families import ModelFamily, smallcnn, timm_models, torchvision_models

FAMILIES: list[ModelFamily] = [timm_models, smallcnn, torchvision_models]

FALLBACK: ModelFamily = torchvision_models


def family_for(name: str | None) -> ModelFamily:
    """The first family that owns ``name`` (torchvision when none does)."""
    text = str(name or "")
    return next((family for family in FAMILIES if family.owns(text)), FALLBACK)


def register_family(family: ModelFamily, before: ModelFamily | None = None) -> None:
    """Ask ``family`` before ``before`` (default: before every family already listed). Registering
    a family again moves it."""
    ordered.place(FAMILIES, family, before)


def unregister_family(family: ModelFamily) -> None:
    ordered.remove(FAMILIES, family)


def family_rank(name: str) -> int:
    """Where ``name``'s family stands in the registry (lists show earlier families first)."""
    family = family_for(name)
    return FAMILIES.index(family) if family in FAMILIES else len(FAMILIES)


def browser_of(name: str) -> str:
    """Which architecture list of the window shows ``name``."""
    return family_for(name).BROWSER
