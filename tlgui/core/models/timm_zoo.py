"""timm (PyTorch Image Models) architectures, named ``timm:NAME`` or ``timm:NAME.TAG``.

timm is an optional extra (``pip install 'tlgui[timm]'``). Models are always created with
``pretrained=False``, so timm never reaches for the network; weights are loaded by tlgui
itself from the Hugging Face hub cache or a file (see :mod:`tlgui.core.library.hub_cache`).
"""

from __future__ import annotations

import difflib
import functools
import math
import os
from typing import Any, Protocol, cast

import torch
from torch import nn

from tlgui.core.base.errors import ModelError
from tlgui.core.base.preprocessing import _RESAMPLE, IMAGENET_MEAN, IMAGENET_STD, Preprocessing
from tlgui.core.models.heads import init_new_head

TIMM_PREFIX = "timm:"
INSTALL_HINT = "pip install 'tlgui[timm]'"


def split_name(name: str) -> tuple[str, str | None]:
    """``timm:resnet18.a1_in1k`` -> (``resnet18``, ``a1_in1k``); no tag -> None."""
    bare = name.removeprefix(TIMM_PREFIX)
    base, _, tag = bare.partition(".")
    return base, tag or None


def import_timm():
    """The timm module, or one line saying which extra to install."""
    # timm never downloads with pretrained=False; this keeps huggingface_hub offline too,
    # should anything inside it look for a file. Forced, not a default: a shell that exports
    # HF_HUB_OFFLINE=0 must not let a lookup reach the network (it is read when timm first
    # imports huggingface_hub)
    os.environ["HF_HUB_OFFLINE"] = "1"
    try:
        import timm
    except ImportError:
        raise ModelError(f"timm models need the timm extra, which is not installed: {INSTALL_HINT}") from None
    return timm


@functools.lru_cache(maxsize=1)
def timm_model_names() -> tuple[str, ...]:
    """Every architecture timm can build (``timm.list_models()``), without the prefix."""
    return tuple(import_timm().list_models())


def timm_available() -> bool:
    try:
        import_timm()
    except ModelError:
        return False
    return True


def check_timm(name: str) -> str:
    base, _tag = split_name(name)
    names = timm_model_names()
    if base in set(names):
        return name
    close = difflib.get_close_matches(base.lower(), names, n=4, cutoff=0.6)
    hint = f"; did you mean {', '.join(TIMM_PREFIX + c for c in close)}?" if close else (
        "; run 'tlgui layers --list' for all names"
    )
    raise ModelError(f"unknown timm model {name!r}{hint}")


def build_timm(name: str, num_classes: int, in_channels: int = 3, device: torch.device | None = None) -> nn.Module:
    """A randomly initialised timm model (``pretrained=False``: no download, ever)."""
    timm = import_timm()
    base, _tag = split_name(check_timm(name))
    device = device or torch.device("cpu")
    try:
        with device:
            return _small_head(tie_distillation_head(
                timm.create_model(base, pretrained=False, num_classes=num_classes, in_chans=in_channels)))
    except (RuntimeError, NotImplementedError) as exc:
        if device.type != "meta":
            raise ModelError(f"timm could not build {name}: {str(exc).splitlines()[0][:160]}") from None
    # a few architectures compute values while building that a meta tensor cannot hold
    model = timm.create_model(base, pretrained=False, num_classes=num_classes, in_chans=in_channels)
    return tie_distillation_head(model).to("meta")


def _small_head(model: nn.Module) -> nn.Module:
    """The new head re-initialised by the rule of timm's own ``reset_classifier`` (see heads.py)."""
    path = timm_head_path(model)
    if path is not None:
        init_new_head(model.get_submodule(path))
    return model


def tie_distillation_head(model: nn.Module) -> nn.Module:
    """One classifier for distilled models (DeiT/PiT distilled, LeViT, EfficientFormer).

    They average a second classifier, ``head_dist``, with the first. For new classes both
    are new, and tlgui trains "the head": left apart, head-only training kept ``head_dist``
    at its random start and averaged it into every prediction. Made the same module, the
    output is the head applied to both tokens, averaged, and everything that trains, freezes,
    counts or exports the head covers all of it."""
    classifiers = _classifier(model)
    if not isinstance(classifiers, (tuple, list)) or len(classifiers) < 2:
        return model
    first, extra = classifiers[0], {id(module) for module in classifiers[1:]}
    for path, module in list(model.named_modules()):
        if id(module) in extra and type(module) is type(first) and path:
            parent, _, attribute = path.rpartition(".")
            setattr(model.get_submodule(parent) if parent else model, attribute, first)
    return model


class _TimmModel(Protocol):
    def get_classifier(self) -> nn.Module | tuple[nn.Module, ...] | list[nn.Module]: ...


def _classifier(model: nn.Module) -> nn.Module | tuple[nn.Module, ...] | list[nn.Module]:
    """timm's ``model.get_classifier()``: a method of every timm model that ``nn.Module``'s typing lacks."""
    return cast(_TimmModel, model).get_classifier()


def timm_head_path(model: nn.Module) -> str | None:
    """Dotted path of ``model.get_classifier()`` (the first one, for distilled models)."""
    classifier = _classifier(model)
    if isinstance(classifier, (tuple, list)):
        classifier = classifier[0]
    for path, module in model.named_modules():
        if module is classifier and path:
            return path
    return None


def pretrained_cfg_of(name: str) -> dict[str, Any]:
    """timm's default pretrained config for ``name`` (with its tag when given), as a dict."""
    timm = import_timm()
    base, tag = split_name(name)
    cfg = timm.models.get_pretrained_cfg(f"{base}.{tag}" if tag else base, allow_unregistered=True)
    if cfg is None:
        cfg = timm.models.get_pretrained_cfg(base, allow_unregistered=True)
    return cfg.to_dict() if cfg is not None else {}


def timm_preprocessing(name: str, cfg: dict[str, Any] | None = None, image_size: int | None = None) -> Preprocessing:
    """Input size, mean, std, interpolation and crop_pct from ``cfg`` (a snapshot's
    ``pretrained_cfg``), filling gaps with timm's defaults for the model."""
    defaults = pretrained_cfg_of(name)
    merged = {**defaults, **{k: v for k, v in (cfg or {}).items() if v is not None}}
    input_size = merged.get("input_size") or (3, 224, 224)
    crop = int(input_size[-1])
    crop_pct = float(merged.get("crop_pct") or 0.875)
    if image_size is not None:
        crop = int(image_size)
    # timm's eval transform: resize the shorter side to floor(crop / crop_pct), centre crop
    resize = max(crop, int(math.floor(crop / crop_pct)))
    interpolation = str(merged.get("interpolation") or "bilinear")
    mean = [float(v) for v in (merged.get("mean") or IMAGENET_MEAN)]
    std = [float(v) for v in (merged.get("std") or IMAGENET_STD)]
    channels = int(input_size[0]) if len(input_size) == 3 else 3
    if len(mean) != channels:
        mean, std = list(IMAGENET_MEAN), list(IMAGENET_STD)
        channels = 3
    return Preprocessing(
        resize=resize, crop=crop, channels=channels, mean=mean, std=std,
        interpolation=interpolation if interpolation in _RESAMPLE else "bilinear",
    )


def timm_pretrained_tags(name: str) -> tuple[str, ...]:
    """The pretrained tags timm knows for ``name`` (e.g. ``a1_in1k``), default first."""
    timm = import_timm()
    base, _tag = split_name(name)
    tags = [n.partition(".")[2] for n in timm.list_pretrained(f"{base}.*") if n.partition(".")[0] == base]
    return tuple(t for t in tags if t)
