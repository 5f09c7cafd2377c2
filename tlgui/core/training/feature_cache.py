"""Head-only training on cached features: the frozen backbone runs once per run.

When only the head trains, every epoch would otherwise push every image through the same
frozen backbone again. Instead the head module's input is captured once (a forward pre-hook
on the module at ``prepared.head_path``, so any model whose head is the last module applied
works: torchvision, timm, smallcnn; for timm models where that is not so, timm's own
``forward_head(..., pre_logits=True)``), in eval mode, without gradients and in the run's
precision; then the head module alone trains on those tensors. With augmentation on, K
augmented views of each training image are cached (``config.cache_views``).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any, Protocol, cast

import torch
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm

from tlgui.core.base.cancel import StopCheck
from tlgui.core.base.events import Emit, Message, Stage
from tlgui.core.models.inference import autocast_for, to_model_input
from tlgui.core.training.augment import augment_batch
from tlgui.core.training.feature_store import feature_key, load_features, save_features, usable
from tlgui.core.training.prepare import Prepared

_MAX_CACHE_BYTES = 2 * 1024**3
_CHECK_IMAGES = 2  # images whose full forward pass checks that the head is the last module


class _NotCached(Exception):
    """The cache cannot be used for this model or data (the reason is the message)."""


class _Captured(Exception):
    """Raised by the pre-hook: the head's input is captured, the rest of the forward is not needed."""


def trains_head_only(prepared: Prepared) -> bool:
    """Whether every trainable parameter lives in the head module."""
    prefix = prepared.head_path + "."
    trainable = [name for name, p in prepared.model.named_parameters() if p.requires_grad]
    return bool(trainable) and all(name.startswith(prefix) for name in trainable)


def ordered_batches(prepared: Prepared, train: bool, batch_size: int):
    """(uint8 images, labels) in a fixed order, from memory or from the lazy dataset."""
    x, y = (prepared.train_x, prepared.train_y) if train else (prepared.val_x, prepared.val_y)
    if x is not None and y is not None:  # held in memory
        for start in range(0, len(y), batch_size):
            yield x[start : start + batch_size], y[start : start + batch_size]
        return
    lazy = prepared.train_lazy if train else prepared.val_lazy
    workers = prepared.config.num_workers
    loader = torch.utils.data.DataLoader(lazy, batch_size=batch_size, shuffle=False, num_workers=workers,
                                         multiprocessing_context="spawn" if workers > 0 else None)
    label_map = getattr(lazy, "label_map", None)
    for xb, yb in loader:
        yield xb, (torch.from_numpy(label_map)[yb] if label_map is not None else yb)


@dataclass
class Features:
    x: torch.Tensor  # the head module's inputs, float32, on the run's device
    y: torch.Tensor


class _TimmModel(Protocol):
    """The two methods of a timm model that give its head's input (``pre_logits``)."""

    def forward_features(self, x: torch.Tensor) -> torch.Tensor: ...

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor: ...


class HeadInputs:
    """Captures the input of the head module during forward passes of the whole model.

    ``mode`` "hook": a forward pre-hook on the head module (any model whose head is the last
    module applied). "pre_logits": timm's own ``forward_head(forward_features(x),
    pre_logits=True)``, for timm models whose head is called more than once per forward, such
    as distilled ones, which average the head over two tokens."""

    def __init__(self, model: nn.Module, head_path: str):
        self.model, self.head = model, model.get_submodule(head_path)
        self.stop_early = False
        self.last: torch.Tensor | None = None
        self.mode = "hook"

    def modes(self) -> tuple[str, ...]:
        timm_like = callable(getattr(self.model, "forward_head", None)) and hasattr(self.model, "pretrained_cfg")
        return ("hook", "pre_logits") if timm_like else ("hook",)

    def _hook(self, module, args):
        self.last = args[0].detach()
        if self.stop_early:
            raise _Captured

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        if self.mode == "pre_logits":  # chosen only for a model that has timm's two methods
            timm_model = cast(_TimmModel, self.model)
            return timm_model.forward_head(timm_model.forward_features(x), pre_logits=True).detach()
        self.last = None
        handle = self.head.register_forward_pre_hook(self._hook)
        try:
            self.model(x)
        except _Captured:
            pass
        finally:
            handle.remove()
        if self.last is None:
            raise _NotCached("the head module is not called by the model's forward pass")
        return self.last


@torch.no_grad()
def capture_features(prepared: Prepared, train: bool, views: int, augment: str, generator, should_stop: StopCheck,
                     batch_size: int = 64, check: bool = True, capture: HeadInputs | None = None) -> Features | None:
    """Head inputs for every image (``views`` augmented views each); None when stopped.
    ``check``: first make sure the model's output is its head applied to the captured input
    (and pick how to capture it); pass the same ``capture`` to later calls."""
    model, device = prepared.model, prepared.device
    capture = capture or HeadInputs(model, prepared.head_path)
    model.eval()
    parts: list[torch.Tensor] = []
    labels: list[torch.Tensor] = []
    for _view in range(views):
        for x, y in ordered_batches(prepared, train, batch_size):
            if should_stop():
                return None
            if augment != "none":
                x = augment_batch(x, augment, generator)
            inputs = to_model_input(x, prepared.preprocessing, device, prepared.channels_last)
            with autocast_for(device, prepared.precision.autocast_dtype):
                if check and not parts:
                    _check_head_is_last(model, capture, inputs[:_CHECK_IMAGES])
                capture.stop_early = True
                feats = capture(inputs)
            parts.append(feats.float())
            labels.append(y.to(device))
            if sum(p.numel() for p in parts) * 4 > _MAX_CACHE_BYTES:
                raise _NotCached("the cached features would not fit in memory")
    return Features(torch.cat(parts), torch.cat(labels))


def _check_head_is_last(model: nn.Module, capture: HeadInputs, inputs: torch.Tensor) -> None:
    """The model's output must be the head applied to the captured input, else caching is wrong;
    leaves ``capture`` in the first mode for which it is.
    A few images are enough (eval mode: each image's output depends on that image alone); the
    whole first batch made resnet18 at 224 px run its first 64 images twice, ~2 s here."""
    capture.stop_early, capture.last = False, None  # the hook keeps the head's last call
    handle = capture.head.register_forward_pre_hook(capture._hook)
    try:
        out = model(inputs).float()
    finally:
        handle.remove()
    tolerance = 1e-2 * (1 + float(out.abs().max()))
    for mode in capture.modes():
        capture.mode = mode
        feats = capture.last if mode == "hook" else capture(inputs)  # a second pass only when needed
        if feats is None:
            continue
        again = capture.head(feats).float()
        if again.shape == out.shape and torch.allclose(again, out, rtol=1e-2, atol=tolerance):
            return
    raise _NotCached("the model does more after its head module")


@torch.no_grad()
def adapt_batchnorm(prepared: Prepared, should_stop: StopCheck, batch_size: int = 64, paths=None) -> int:
    """AdaBN: re-estimate the frozen BatchNorm layers' statistics (or those of ``paths``) in one
    pass over the training images (cumulative averages, nothing else changes). Returns the
    layers updated."""
    model = prepared.model
    layers = [layer for path in (prepared.freeze.frozen_bn if paths is None else paths)
              if isinstance(layer := model.get_submodule(path), _BatchNorm)]  # what frozen_bn lists
    if not layers:
        return 0
    model.eval()
    saved = []
    for layer in layers:
        saved.append(layer.momentum)
        layer.reset_running_stats()
        layer.momentum = None  # cumulative moving average: every batch counts the same
        layer.train()
    try:
        for x, _ in ordered_batches(prepared, True, batch_size):
            if should_stop():
                break
            with autocast_for(prepared.device, prepared.precision.autocast_dtype):
                model(to_model_input(x, prepared.preprocessing, prepared.device, prepared.channels_last))
    finally:
        for layer, momentum in zip(layers, saved, strict=True):
            layer.momentum = momentum
        model.eval()
    return len(layers)


@dataclass
class FeatureCache:
    train: Features
    val: Features
    views: int
    seconds: float
    reused: bool = False  # read from the feature store: no backbone pass this time

    def summary(self) -> dict[str, Any]:
        return {"used": True, "views": self.views, "seconds": round(self.seconds, 3)}


def not_used_summary() -> dict[str, Any]:
    return {"used": False, "views": 0, "seconds": 0.0}


@dataclass(frozen=True)
class CacheOutcome:
    """What :func:`cache_features` did: the cache, or None and, where the model rules it out, why."""

    cache: FeatureCache | None
    not_used: str = ""  # why these features cannot be cached; "" when cached, not head-only, or stopped


def build_feature_cache(prepared: Prepared, generator: torch.Generator, emit: Emit, should_stop: StopCheck,
                        adapt_bn: tuple[str, ...] | None = None) -> FeatureCache | None:
    """Run the frozen backbone once over training and validation images; None when the cache
    does not apply (not head-only, the model does more after its head, too big) or on stop.
    ``adapt_bn``: BatchNorm layers to re-estimate on these images first (AdaBN); by default
    every frozen one with ``--bn-update-frozen``, else none."""
    return cache_features(prepared, generator, emit, should_stop, adapt_bn).cache


def cache_features(prepared: Prepared, generator: torch.Generator, emit: Emit, should_stop: StopCheck,
                   adapt_bn: tuple[str, ...] | None = None) -> CacheOutcome:
    """:func:`build_feature_cache`, with why the cache was not used (the rank names it)."""
    config = prepared.config
    if not trains_head_only(prepared):
        return CacheOutcome(None)
    started = time.perf_counter()
    views = 1 if config.augment == "none" else int(config.cache_views)
    if adapt_bn is None:
        adapt_bn = prepared.freeze.frozen_bn if config.bn_update_frozen else ()
    key = feature_key(prepared) if usable(prepared) and not adapt_bn else None
    stored = load_features(key) if key else None
    if stored is not None:  # the same backbone, weights, preprocessing and images as before (e.g. tlgui rank)
        device = prepared.device
        emit(Message(f"feature cache: reused the stored features of these {len(stored['train_y']):,} training and "
                     f"{len(stored['val_y']):,} validation images (no backbone pass)"))
        return CacheOutcome(FeatureCache(Features(stored["train_x"].to(device), stored["train_y"].to(device)),
                                         Features(stored["val_x"].to(device), stored["val_y"].to(device)), 1,
                                         float(stored["seconds"]), reused=True))
    emit(Stage("cache", "Running the frozen backbone once over the images"))
    try:
        if adapt_bn and adapt_batchnorm(prepared, should_stop, paths=adapt_bn):
            emit(Message("frozen BatchNorm statistics re-estimated on this data in one pass (AdaBN)"
                         if config.bn_update_frozen else
                         f"BatchNorm statistics of the {len(adapt_bn)} layer(s) that train after the head phase "
                         "re-estimated on this data first (AdaBN): the head then fits the features they will give"))
        capture = HeadInputs(prepared.model, prepared.head_path)
        train = capture_features(prepared, True, views, config.augment, generator, should_stop, capture=capture)
        val = (capture_features(prepared, False, 1, "none", generator, should_stop, check=False, capture=capture)
               if train is not None else None)  # the same model: checked once is enough
    except _NotCached as exc:
        emit(Message(f"feature cache not used: {exc}; the backbone runs every epoch", "info"))
        return CacheOutcome(None, str(exc))
    if train is None or val is None:
        return CacheOutcome(None)
    seconds = time.perf_counter() - started
    if key:
        save_features(key, train.x, train.y, val.x, val.y, seconds)
    count = len(train.y) // views
    what = f"{views} augmented views of each of {count:,}" if views > 1 else f"{count:,}"
    emit(Message(f"feature cache: the frozen backbone ran once over {what} training and {len(val.y):,} "
                 f"validation images in {seconds:.1f} s; the head trains on the cached features"))
    return CacheOutcome(FeatureCache(train, val, views, seconds))


class CachedBatches:
    """Shuffled minibatches of cached features (the training batches of a cached run)."""

    def __init__(self, features: Features, batch_size: int, generator: torch.Generator):
        self.features, self.batch_size, self.generator = features, batch_size, generator

    def __len__(self) -> int:
        return max(1, math.ceil(len(self.features.y) / self.batch_size))

    def __iter__(self):
        n = len(self.features.y)
        order = torch.randperm(n, generator=self.generator).to(self.features.x.device)
        for start in range(0, n, self.batch_size):
            index = order[start : start + self.batch_size]
            yield self.features.x[index], self.features.y[index]


@torch.no_grad()
def head_loss_accuracy(head: nn.Module, features: Features, criterion) -> tuple[float, float]:
    """Loss and accuracy of the head on cached features, in eval mode."""
    was_training = head.training
    head.eval()
    try:
        logits = torch.cat([head(features.x[s : s + 4096]).float() for s in range(0, len(features.y), 4096)])
    finally:
        head.train(was_training)
    return float(criterion(logits, features.y)), float((logits.argmax(1) == features.y).float().mean())
