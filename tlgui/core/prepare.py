"""Everything that happens before the first batch: data, weights, model, freeze plan.

Each step raises a :class:`TlguiError` with one sentence naming the value at fault, so the
CLI can exit 2 and the GUI can show it, before any file in the run folder is touched.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from . import data as data_mod
from .checkpoint import is_tlgui_checkpoint
from .config import TrainConfig
from .errors import ConfigError, DataError, ModelError, WeightsError
from .events import Message, Stage
from .layers import FreezePlan, FreezeReport, apply_freeze
from .models import SMALLCNN, build_model, check_architecture, find_head_path, weight_entries
from .preprocessing import Preprocessing, default_preprocessing
from .weights import (
    default_weights_path,
    extract_state_dict,
    load_into_model,
    safe_load,
    verify_hash_prefix,
)

_GRAY_MODES = {"1", "L", "LA", "I", "I;16", "I;16B", "I;16L", "F"}


@dataclass
class WeightSource:
    """What --weights resolved to."""

    kind: str  # "none" | "torchvision" | "tlgui" | "state_dict"
    path: str | None = None
    state: dict[str, torch.Tensor] | None = None
    checkpoint: dict[str, Any] | None = None
    entry: Any = None  # torchvision weights enum member, when known
    description: str = "random initialisation"


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

    @property
    def train_count(self) -> int:
        return len(self.train_y) if self.train_y is not None else len(self.train_lazy)

    @property
    def val_count(self) -> int:
        return len(self.val_y) if self.val_y is not None else len(self.val_lazy)


def resolve_device(spec: str) -> torch.device:
    if spec == "cpu":
        return torch.device("cpu")
    if spec == "cuda":
        if not torch.cuda.is_available():
            raise ConfigError("--device cuda: no CUDA GPU is available on this computer (use --device cpu or auto)")
        return torch.device("cuda")
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def device_label(device: torch.device) -> str:
    if device.type == "cuda":
        return f"GPU: {torch.cuda.get_device_name(device)}"
    return "CPU"


def resolve_weights(config: TrainConfig, emit: Callable[[object], None], control=None) -> WeightSource:
    spec = (config.weights or "none").strip()
    if spec == "none":
        return WeightSource("none")
    if spec == "default":
        path, entry = default_weights_path(config.model)
        state = extract_state_dict(safe_load(path), path)
        return WeightSource("torchvision", str(path), state, None, entry, f"torchvision {entry.name} ({path.name})")
    if spec == "demo:source":
        from .demo import ensure_demo_source_model

        if config.model != SMALLCNN:
            raise WeightsError("--weights demo:source only fits --model smallcnn")
        path = ensure_demo_source_model(emit, control)
        spec = str(path)
    path = Path(spec).expanduser()
    if not path.exists():
        raise WeightsError(f"weight file not found: {path} (use none, default, demo:source or a file path)")
    if verify_hash_prefix(path) is False:
        raise WeightsError(
            f"{path.name}: the checksum does not match the one in its file name; the file is damaged or not the original"
        )
    obj = safe_load(path)
    if is_tlgui_checkpoint(obj):
        arch = obj.get("architecture")
        if arch != config.model:
            raise WeightsError(f"{path} holds a {arch} model but --model is {config.model}; use --model {arch}")
        return WeightSource("tlgui", str(path), obj["state_dict"], obj, None, f"tlgui model {path}")
    state = extract_state_dict(obj, path)
    entry = next((e for e in weight_entries(config.model) if e.url.rsplit("/", 1)[-1] == path.name), None)
    return WeightSource("state_dict", str(path), state, None, entry, f"weight file {path.name}")


def detect_channels(images: data_mod.ImageSet, sample: int = 24) -> int:
    if images.arrays is not None:
        return 3 if images.arrays.ndim == 4 and images.arrays.shape[-1] >= 3 else 1
    step = max(1, len(images) // sample)
    for index in range(0, len(images), step):
        try:
            mode = images.load(index).mode
        except DataError:
            continue
        if mode not in _GRAY_MODES:
            return 3
    return 1


def _split_indices(config: TrainConfig, train_set, val_set):
    labels = train_set.labels
    if val_set is None:
        train_idx, val_idx = data_mod.stratified_split(labels, config.val_split, config.seed)
    else:
        train_idx, val_idx = np.arange(len(train_set)), np.arange(len(val_set))
    if config.max_train_images and len(train_idx) > config.max_train_images:
        keep = data_mod.stratified_subset(labels[train_idx], config.max_train_images, config.seed)
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


def prepare(config: TrainConfig, emit: Callable[[object], None], control=None) -> Prepared:
    config.validate()
    check_architecture(config.model)
    device = resolve_device(config.device)
    should_stop = (lambda: control.stopped) if control is not None else None

    emit(Stage("data", f"Opening {config.data}"))
    train_set = data_mod.open_source(config.data, config.split)
    val_set = data_mod.open_source(config.val_data, config.val_split_name) if config.val_data else None
    classes = list(train_set.classes)
    if len(classes) < 2:
        raise DataError(f"{config.data} has only one class ({classes[0] if classes else 'none'}); at least 2 are needed")
    messages = list(train_set.warnings) + (list(val_set.warnings) if val_set else [])
    skipped = list(train_set.skipped) + (list(val_set.skipped) if val_set else [])
    if skipped:
        messages.append(f"skipped {len(skipped)} unreadable or non-image file(s), e.g. {skipped[0][0]} ({skipped[0][1]})")

    weights = resolve_weights(config, emit, control)
    ckpt = weights.checkpoint
    if ckpt is not None:
        in_channels = int(ckpt.get("in_channels", 3))
    elif config.model == SMALLCNN:
        in_channels = detect_channels(train_set)
    else:
        in_channels = 3
    if ckpt is not None and config.image_size is None:
        prep = Preprocessing.from_dict(ckpt["preprocessing"])
    else:
        prep = default_preprocessing(config.model, weights.entry, config.image_size)
        if config.model == SMALLCNN:
            prep.channels = in_channels
            prep.mean, prep.std = [0.5] * in_channels, [0.5] * in_channels

    emit(Stage("model", f"Building {config.model}"))
    # re-seed here: resolving the weights may have trained the demo source model, which
    # draws random numbers; the same seed must give the same run either way
    torch.manual_seed(config.seed)
    model = build_model(config.model, len(classes), in_channels)
    head_path = find_head_path(model)
    if weights.state is not None:
        keep_head = ckpt is not None and list(ckpt.get("classes", [])) == classes
        report = load_into_model(model, weights.state, head_path, keep_head, weights.description)
        messages.append(report.message)
        if ckpt is not None and not keep_head:
            messages.append(
                f"the source model knew {len(ckpt.get('classes', []))} classes, this data has {len(classes)}: "
                "treating it as a new task"
            )
    freeze = apply_freeze(model, FreezePlan.parse(config.freeze, config.bn_update_frozen), head_path)
    if freeze.trainable_params == 0:
        raise ModelError(f"--freeze {config.freeze} freezes every layer: nothing is left to train")
    model.to(device)
    if device.type == "cuda":
        model.to(memory_format=torch.channels_last)

    train_idx, val_idx = _split_indices(config, train_set, val_set)
    val_source = val_set if val_set is not None else train_set
    total = len(train_idx) + len(val_idx)
    prepared = Prepared(
        config, device, model, head_path, classes, in_channels, prep, freeze, weights,
        None, None, None, None, skipped=skipped, messages=messages,
    )
    if data_mod.fits_in_memory(total, prep):
        def progress(done, count, what):
            emit(Stage("decode", f"Decoding {what} images: {done:,} of {count:,}"))

        tx, ty, bad = data_mod.decode_to_tensor(
            train_set, train_idx, prep, lambda d, n: progress(d, n, "training"), should_stop
        )
        vx, vy, vbad = data_mod.decode_to_tensor(
            val_source, val_idx, prep, lambda d, n: progress(d, n, "validation"), should_stop
        )
        if val_set is not None:
            vy = torch.from_numpy(_val_label_map(classes, val_set))[vy]
        bad = bad + vbad
        if bad:
            skipped.extend(bad)
            messages.append(f"skipped {len(bad)} image(s) that failed to decode, e.g. {bad[0][0]} ({bad[0][1]})")
        if len(ty) == 0:
            raise DataError(f"{config.data}: none of the training images could be read")
        if len(vy) == 0:
            raise DataError(f"{config.val_data or config.data}: none of the validation images could be read")
        prepared.train_x, prepared.train_y, prepared.val_x, prepared.val_y = tx, ty, vx, vy
    else:
        prepared.train_lazy = data_mod.LazyImageDataset(train_set, train_idx, prep)
        prepared.val_lazy = data_mod.LazyImageDataset(val_source, val_idx, prep)
        if val_set is not None:
            prepared.val_lazy.label_map = _val_label_map(classes, val_set)
    for text in messages:
        emit(Message(text, "warning" if "skipped" in text or "imbalance" in text else "info"))
    return prepared
