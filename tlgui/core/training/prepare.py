"""Everything that happens before the first batch: data, weights, model, freeze plan.

Each step raises a :class:`TlguiError` with one sentence naming the value at fault, so the
CLI can exit 2 and the GUI can show it, before any file in the run folder is touched.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import nn

from tlgui.core.base.cancel import Cancelled, PausableControl
from tlgui.core.base.config import TrainConfig
from tlgui.core.base.errors import DataError, ModelError, WeightsError
from tlgui.core.base.events import Emit, Stage, as_message, warning
from tlgui.core.base.preprocessing import Preprocessing
from tlgui.core.data.catalog import open_source
from tlgui.core.data.corrections import correct_sets
from tlgui.core.data.decode import LazyImageDataset, decode_to_tensor, fits_in_memory
from tlgui.core.data.decode_cache import DecodeCache
from tlgui.core.data.grouping import leak_free_split
from tlgui.core.data.sources import ImageSet
from tlgui.core.data.split import stratified_subset
from tlgui.core.library.aliases import is_weights_alias, resolve_weights_alias
from tlgui.core.library.default_weights import find_default_weights
from tlgui.core.library.integrity import check_named_checksum
from tlgui.core.library.timm_weights import check_safetensors_fit, pretrained_cfg_near
from tlgui.core.models.checkpoint import is_tlgui_checkpoint
from tlgui.core.models.device import resolve_device
from tlgui.core.models.families import WeightKind
from tlgui.core.models.layers import FreezePlan, FreezeReport, apply_freeze
from tlgui.core.models.safe_load import is_safetensors, safe_load
from tlgui.core.models.state_dicts import extract_state_dict, load_into_model
from tlgui.core.models.zoo import build_model, check_architecture, find_head_path, weight_entries
from tlgui.core.results.run_split import SplitRow, split_rows, stored_indices
from tlgui.core.training.inputs import choose_inputs, detect_channels, fit_statistics
from tlgui.core.training.precision import PrecisionChoice, resolve_precision, use_channels_last

if TYPE_CHECKING:
    from torchvision.models import WeightsEnum

__all__ = ["Prepared", "WeightSource", "detect_channels", "prepare"]


@dataclass
class WeightSource:
    """What --weights resolved to."""

    kind: WeightKind
    path: str | None = None
    state: dict[str, torch.Tensor] | None = None
    checkpoint: dict[str, Any] | None = None
    entry: WeightsEnum | None = None  # torchvision weights enum member, when known
    description: str = "random initialisation"
    pretrained_cfg: dict[str, Any] | None = None  # timm weights: their preprocessing


@dataclass
class Prepared:
    config: TrainConfig
    device: torch.device
    model: nn.Module
    head_path: str
    classes: list[str]
    in_channels: int
    preprocessing: Preprocessing
    freeze: FreezeReport
    weights: WeightSource
    train_x: torch.Tensor | None  # uint8 (N, C, H, W) when the data fits in memory
    train_y: torch.Tensor | None
    val_x: torch.Tensor | None
    val_y: torch.Tensor | None
    train_lazy: Any = None  # LazyImageDataset when it does not
    val_lazy: Any = None
    skipped: list[tuple[str, str]] = field(default_factory=list)
    messages: list[str] = field(default_factory=list)
    precision: PrecisionChoice = field(default_factory=lambda: PrecisionChoice("fp32", None))
    channels_last: bool = False  # the model (and so its inputs) use the channels_last layout
    split: list[SplitRow] = field(default_factory=list)  # what split.csv records

    @property
    def train_count(self) -> int:
        return len(self.train_y) if self.train_y is not None else len(self.train_lazy)

    @property
    def val_count(self) -> int:
        return len(self.val_y) if self.val_y is not None else len(self.val_lazy)


def resolve_weights(config: TrainConfig, emit: Emit, control: PausableControl | None = None) -> WeightSource:
    spec = (config.weights or "none").strip()
    if spec == "none":
        return WeightSource("none")
    if spec == "default":
        found = find_default_weights(config.model)
        state = extract_state_dict(safe_load(found.path), found.path)
        return WeightSource(found.kind, str(found.path), state, None, found.entry, found.description,
                            found.pretrained_cfg or None)
    if is_weights_alias(spec):  # e.g. demo:source, registered by the demo workflow
        spec = str(resolve_weights_alias(spec, config.model, emit, control))
    path = Path(spec).expanduser()
    if not path.exists():
        raise WeightsError(f"weight file not found: {path} (use none, default, demo:source or a file path)")
    if path.is_file():
        check_named_checksum(path)
    obj = safe_load(path)
    if is_tlgui_checkpoint(obj):
        arch = obj.get("architecture")
        if arch != config.model:
            raise WeightsError(f"{path} holds a {arch} model but --model is {config.model}; use --model {arch}")
        return WeightSource("tlgui", str(path), obj["state_dict"], obj, None, f"tlgui model {path}")
    state = extract_state_dict(obj, path)
    if is_safetensors(path):
        check_safetensors_fit(config.model, state, path)
    # torchvision files are known by name; timm files carry their pretrained_cfg beside them
    entry = next((e for e in weight_entries(config.model) if e.url.rsplit("/", 1)[-1] == path.name), None)
    return WeightSource("state_dict", str(path), state, None, entry, f"weight file {path.name}",
                        pretrained_cfg_near(path) or None)


def _split_indices(config: TrainConfig, train_set, val_set, stored=None, messages=None):
    """(train_idx, val_idx): the run's stored split when ``stored`` (split.csv rows, on
    resume), else a new leak-free one (sub-folder groups and copies on one side)."""
    if stored is not None:
        train_idx = stored_indices(train_set, config.data, stored, "train", config.out)
        # a validation set is opened from --val-data only
        val_source, val_spec = (val_set, config.val_data or config.data) if val_set is not None else (
            train_set, config.data)
        val_idx = stored_indices(val_source, val_spec, stored, "val", config.out)
        return train_idx, val_idx
    labels = train_set.labels
    if val_set is None:
        train_idx, val_idx, report = leak_free_split(train_set, config.val_split, config.seed, config.group_split)
        if messages is not None:
            messages.extend(report.messages())
    else:
        train_idx, val_idx = np.arange(len(train_set)), np.arange(len(val_set))
    if config.max_train_images and len(train_idx) > config.max_train_images:
        keep = stratified_subset(labels[train_idx], config.max_train_images, config.seed)
        train_idx = train_idx[keep]
    if len(train_idx) == 0 or len(val_idx) == 0:
        raise DataError(f"{config.data}: too few images to make a training and a validation set")
    return train_idx, val_idx


def _val_label_map(train_classes: list[str], val_set) -> np.ndarray:
    unknown = [c for c in val_set.classes if c not in train_classes]
    if unknown:
        raise DataError(
            f"validation data {val_set.name} has classes the training data lacks: {', '.join(unknown[:5])}"
        )
    return np.array([train_classes.index(c) for c in val_set.classes], dtype=np.int64)


@dataclass
class _Sources:
    """The opened training (and optional validation) sets, with what opening them reported."""

    train_set: ImageSet
    val_set: ImageSet | None
    classes: list[str]
    messages: list[str]
    skipped: list[tuple[str, str]]


def prepare(config: TrainConfig, emit: Emit, control: PausableControl | None = None, device=None,
            stored_split=None) -> Prepared:
    """data -> weights -> preprocessing -> model -> freeze -> tensors, each step failing in one sentence.

    ``device``: where to train (a torchrun process's own GPU); default from ``config.device``.
    ``stored_split``: the rows of a run's split.csv, reused as they are (resume)."""
    config.validate()
    check_architecture(config.model)
    device = device if device is not None else resolve_device(config.device)
    sources = open_sources(config, emit)
    weights = resolve_weights(config, emit, control)
    in_channels, prep = choose_inputs(config, weights, sources.train_set, sources.messages)
    model, head_path, freeze = build_frozen_model(config, weights, sources, in_channels, emit)
    model.to(device)
    precision = resolve_precision(config.precision, device)
    if precision.note:
        sources.messages.append(precision.note)
    prepared = Prepared(
        config, device, model, head_path, sources.classes, in_channels, prep, freeze, weights,
        None, None, None, None, skipped=sources.skipped, messages=sources.messages,
        precision=precision, channels_last=use_channels_last(model),
    )
    load_images(prepared, sources, emit, control, stored_split)
    for text in prepared.messages:
        emit(as_message(text))  # each note's level was set where it was written
    return prepared


def open_sources(config: TrainConfig, emit: Emit) -> _Sources:
    emit(Stage("data", f"Opening {config.data}"))
    train_set = open_source(config.data, config.split)
    val_set = open_source(config.val_data, config.val_split_name) if config.val_data else None
    sets: list[tuple[ImageSet, str]] = [(train_set, config.data)]
    if val_set is not None and config.val_data:
        sets.append((val_set, config.val_data))
    sha, corrected = correct_sets(config.corrections, config.corrections_sha256, sets, config.out or None)
    config.corrections_sha256 = sha  # recorded in config.json; a resume checks the file is unchanged
    classes = list(train_set.classes)
    if len(classes) < 2:
        only = classes[0] if classes else "none"
        raise DataError(f"{config.data} has only one class ({only}); at least 2 are needed")
    messages = list(train_set.warnings) + (list(val_set.warnings) if val_set else []) + corrected
    skipped = list(train_set.skipped) + (list(val_set.skipped) if val_set else [])
    if skipped:
        messages.append(warning(f"skipped {len(skipped)} unreadable or non-image file(s), e.g. {skipped[0][0]} "
                                f"({skipped[0][1]})"))
    return _Sources(train_set, val_set, classes, messages, skipped)


def build_frozen_model(config: TrainConfig, weights: WeightSource, sources: _Sources, in_channels: int, emit):
    """Build the model for these classes, load the weights into it, apply the freeze plan."""
    emit(Stage("model", f"Building {config.model}"))
    # re-seed here: resolving the weights may have trained the demo source model, which
    # draws random numbers; the same seed must give the same run either way
    torch.manual_seed(config.seed)
    classes, ckpt = sources.classes, weights.checkpoint
    model = build_model(config.model, len(classes), in_channels)
    head_path = find_head_path(model)
    if weights.state is not None:
        keep_head = ckpt is not None and list(ckpt.get("classes", [])) == classes
        report = load_into_model(model, weights.state, head_path, keep_head, weights.description)
        sources.messages.append(report.message)
        if ckpt is not None and not keep_head:
            sources.messages.append(
                f"the source model knew {len(ckpt.get('classes', []))} classes, this data has {len(classes)}: "
                "treating it as a new task"
            )
    freeze = apply_freeze(model, FreezePlan.parse(config.freeze, config.bn_update_frozen), head_path)
    if freeze.trainable_params == 0:
        raise ModelError(f"--freeze {config.freeze} freezes every layer: nothing is left to train")
    return model, head_path, freeze


def _lazy_decode_cache(count: int, prep, messages: list[str]) -> DecodeCache | None:
    """The decode cache for images decoded during each epoch, or None when they would not fit
    in its limit: read in the same order every epoch, they would push each other out (oldest
    first) and every read would be a miss plus a write."""
    cache = DecodeCache()
    needed = count * prep.channels * prep.crop * prep.crop
    if needed > cache.limit:
        messages.append(warning(
            f"image cache not used: these {count:,} images take {needed / 1024**3:.1f} GB decoded, more than its "
            f"limit of {cache.limit / 1024**3:.1f} GB (the Image cache limit setting, or tlgui cache limit GB); "
            "they are decoded again every epoch"))
        return None
    return cache


def load_images(prepared: Prepared, sources: _Sources, emit: Emit, control: PausableControl | None,
                stored_split=None) -> None:
    """Split, then decode into uint8 tensors when they fit in memory, else lazy datasets."""
    config, prep, classes = prepared.config, prepared.preprocessing, prepared.classes
    train_set, val_set = sources.train_set, sources.val_set
    train_idx, val_idx = _split_indices(config, train_set, val_set, stored_split, prepared.messages)
    val_source = val_set if val_set is not None else train_set
    prepared.split = split_rows(train_set, config.data, train_idx, "train") + split_rows(
        val_source, config.val_data or config.data, val_idx, "val")
    fit_statistics(prep, train_set, train_idx, config.seed, prepared.messages)
    if not fits_in_memory(len(train_idx) + len(val_idx), prep):
        cache = _lazy_decode_cache(len(train_idx) + len(val_idx), prep, prepared.messages)
        prepared.train_lazy = LazyImageDataset(train_set, train_idx, prep, cache)
        prepared.val_lazy = LazyImageDataset(val_source, val_idx, prep, cache)
        if val_set is not None:
            prepared.val_lazy.label_map = _val_label_map(classes, val_set)
        return

    def progress(done, count, what):
        emit(Stage("decode", f"Decoding {what} images: {done:,} of {count:,}"))

    cache = DecodeCache()  # decoded images on disk: the next run, evaluation and resume skip decoding
    tx, ty, bad = decode_to_tensor(train_set, train_idx, prep, lambda d, n: progress(d, n, "training"), control,
                                   cache)
    vx, vy, vbad = decode_to_tensor(val_source, val_idx, prep, lambda d, n: progress(d, n, "validation"),
                                    control, cache)
    if cache.problem:
        prepared.messages.append(warning(f"image cache not used: {cache.problem}; decoding without it"))
    if control is not None and control.stopped:
        raise Cancelled("stopped while the images were being decoded; nothing was saved")
    if val_set is not None:
        vy = torch.from_numpy(_val_label_map(classes, val_set))[vy]
    bad = bad + vbad
    if bad:
        prepared.skipped.extend(bad)
        prepared.messages.append(warning(f"skipped {len(bad)} image(s) that failed to decode, e.g. {bad[0][0]} "
                                         f"({bad[0][1]})"))
    if len(ty) == 0:
        raise DataError(f"{config.data}: none of the training images could be read")
    if len(vy) == 0:
        raise DataError(f"{config.val_data or config.data}: none of the validation images could be read")
    prepared.train_x, prepared.train_y, prepared.val_x, prepared.val_y = tx, ty, vx, vy
