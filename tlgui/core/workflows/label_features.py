"""The frozen backbone's features for every image of an unlabelled folder, computed once and stored.

The images are read and turned into model inputs exactly as a head-only training run would
(:func:`choose_inputs`, :func:`fit_statistics`, the decoders), the model is built and its
weights loaded as ``prepare`` does, and the head module's input is captured
(:class:`HeadInputs`) in eval mode, under ``inference_mode`` and in the run's precision, in
batches. The result is stored in the feature store's folder (``cache_dir()/features``, counted
and cleared by ``tlgui cache``) under a key made of the folder listing (every file's path, size
and modification time), the model, its weights file, the image settings, device and precision:
a later call with the same folder finds it without decoding an image or building the model.
Images that fail to decode are listed as skipped with their reason and get no feature row.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from tlgui.core.base.cancel import StopFlag, stop_check
from tlgui.core.base.config import TrainConfig
from tlgui.core.base.errors import ConfigError, TlguiError
from tlgui.core.base.events import Emit, Message, Stage, ignore
from tlgui.core.base.files import atomic_save
from tlgui.core.data.decode import decode_to_tensor
from tlgui.core.data.kinds import unlabelled_folder as unlabelled
from tlgui.core.models.device import resolve_device
from tlgui.core.models.inference import autocast_for, to_model_input
from tlgui.core.training.feature_cache import HeadInputs, _check_head_is_last, _NotCached
from tlgui.core.training.feature_store import _file_identity, _trim, store_dir
from tlgui.core.training.inputs import choose_inputs, fit_statistics
from tlgui.core.training.precision import resolve_precision, use_channels_last
from tlgui.core.training.prepare import _Sources, build_frozen_model, resolve_weights

FORMAT = "tlgui.label-features/1"
CHUNK = 256  # images decoded at a time: memory stays small for 50,000 images


@dataclass
class FolderFeatures:
    paths: list[str]  # readable images, one per feature row, sorted
    x: np.ndarray  # float32 (N, D): the head module's inputs
    skipped: list[tuple[str, str]]  # (path, reason) of images that could not be read
    total: int  # image files in the folder
    reused: bool  # found in the store: no image decoded, no backbone pass
    seconds: float  # the backbone pass (when it ran, or when the stored one ran)
    description: str  # whose features, in words


def feature_config(folder: str, model: str | None = None, weights: str | None = None, run: str | None = None,
                   **settings) -> TrainConfig:
    """The head-only configuration the features belong to: ``--model/--weights`` or a run's model.pt."""
    if run:
        if model or weights:
            raise ConfigError("give either --run RUN_DIR or --model and --weights, not both")
        run_dir = Path(run).expanduser()
        if not (run_dir / "config.json").is_file() or not (run_dir / "model.pt").is_file():
            raise ConfigError(f"{run} is not a tlgui run folder with a trained model (config.json and model.pt)")
        base = TrainConfig.load(run_dir / "config.json")
        # the run's own preprocessing (in model.pt) is used when no image size is forced
        config = TrainConfig(data=folder, model=base.model, weights=str((run_dir / "model.pt").resolve()),
                             freeze="backbone", augment="none", channels=base.channels, intensity=base.intensity,
                             stack=base.stack, seed=base.seed)
    else:
        if not (model and weights):
            raise ConfigError("name the features' model: --model NAME --weights W, or --run RUN_DIR")
        config = TrainConfig(data=folder, model=model, weights=weights, freeze="backbone", augment="none")
    for name, value in settings.items():
        if value is not None:
            setattr(config, name, value)
    return config


def _key(config: TrainConfig, listing: unlabelled.Listing, device: torch.device) -> str:
    weights = config.weights or "none"
    described = {
        "format": FORMAT, "torch": torch.__version__, "listing": listing.fingerprint(), "model": config.model,
        "weights": weights, "weights_file": _file_identity(weights) if Path(weights).expanduser().exists() else None,
        "seed": int(config.seed), "channels": config.channels, "intensity": config.intensity, "stack": config.stack,
        "image_size": config.image_size, "precision": config.precision, "device": device.type,
    }
    return hashlib.blake2b(json.dumps(described, sort_keys=True, default=str).encode(), digest_size=20).hexdigest()


def _load(key: str) -> dict | None:
    path = store_dir() / f"label-{key}.pt"
    if not path.is_file():
        return None
    try:
        record = torch.load(path, map_location="cpu", weights_only=True)
    except Exception:  # noqa: BLE001 - a damaged file is a miss
        return None
    return record if isinstance(record, dict) and record.get("format") == FORMAT else None


def _save(key: str, record: dict, emit: Emit) -> None:
    folder = store_dir()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        atomic_save(record, folder / f"label-{key}.pt")
    except OSError as exc:
        emit(Message(f"could not store the features for next time: {exc}", "warning"))
        return
    _trim(folder, keep=f"label-{key}.pt")


def folder_features(folder, *, model=None, weights=None, run=None, emit: Emit | None = None,
                    should_stop: StopFlag = None, batch_size: int = 64, **settings) -> FolderFeatures:
    """The features of every readable image under ``folder`` (see the module docstring).
    ``settings``: TrainConfig fields (device, precision, channels, intensity, stack, image_size)."""
    emit = emit or ignore
    listing = unlabelled.list_images(folder)
    if not listing.files:
        raise TlguiError(f"{listing.root} holds no image files (at any depth)")
    config = feature_config(str(listing.root), model, weights, run, **settings)
    config.validate()
    device = resolve_device(config.device)
    key = _key(config, listing, device)
    stored = _load(key)
    if stored is not None:
        return FolderFeatures(list(stored["paths"]), stored["x"].numpy(), [tuple(s) for s in stored["skipped"]],
                              int(stored["total"]), True, float(stored["seconds"]), str(stored["description"]))
    started = time.perf_counter()
    paths, x, skipped, description = _extract(config, listing, device, emit, should_stop, batch_size)
    seconds = time.perf_counter() - started
    _save(key, {"format": FORMAT, "paths": paths, "x": torch.from_numpy(x), "skipped": [list(s) for s in skipped],
                "total": len(listing.files), "seconds": seconds, "description": description}, emit)
    emit(Message(f"features: the frozen backbone ran once over {len(paths):,} images in {seconds:.1f} s "
                 f"({len(skipped)} unreadable); stored for the next call"))
    return FolderFeatures(paths, x, skipped, len(listing.files), False, seconds, description)


def _build(config: TrainConfig, images, device: torch.device, emit: Emit):
    """(model, head path, preprocessing, precision, channels_last) as a head-only run builds them."""
    source = resolve_weights(config, emit)
    messages: list[str] = []
    in_channels, prep = choose_inputs(config, source, images, messages)
    fit_statistics(prep, images, np.arange(len(images)), config.seed, messages)
    known = list((source.checkpoint or {}).get("classes") or ["a", "b"])  # the head is never used
    # only the class names and the message list are read from the sources here
    sources = _Sources(train_set=images, val_set=None, classes=known, messages=messages, skipped=[])
    model, head_path, _freeze = build_frozen_model(config, source, sources, in_channels, emit)
    model.to(device).eval()
    for text in messages:
        emit(Message(text, "info"))
    return model, head_path, prep, resolve_precision(config.precision, device), use_channels_last(model), source


def _extract(config: TrainConfig, listing, device, emit: Emit, should_stop: StopFlag, batch_size):
    images = unlabelled.image_set(listing)
    files = images.paths
    if files is None:  # an unlabelled folder's set is always one file per image
        raise TlguiError(f"{listing.root}: not a folder of image files")
    model, head_path, prep, precision, channels_last, source = _build(config, images, device, emit)
    capture = HeadInputs(model, head_path)
    stop = stop_check(should_stop)
    parts: list[np.ndarray] = []
    paths: list[str] = []
    skipped: list[tuple[str, str]] = []
    checked = False
    emit(Stage("features", f"Running the frozen backbone once over {len(images):,} images"))
    with torch.inference_mode():
        for start in range(0, len(images), CHUNK):
            if stop():
                raise TlguiError("stopped before the features of every image were computed; nothing was stored")
            chunk = np.arange(start, min(start + CHUNK, len(images)))
            tx, _ty, bad = decode_to_tensor(images, chunk, prep, None, None, cache=None)
            skipped += bad
            failed = {p for p, _reason in bad}
            paths += [files[i] for i in chunk if files[i] not in failed]
            for first in range(0, len(tx), batch_size):
                inputs = to_model_input(tx[first : first + batch_size], prep, device, channels_last)
                with autocast_for(device, precision.autocast_dtype):
                    if not checked:
                        _check(model, capture, inputs)
                        checked = True
                    capture.stop_early = True
                    parts.append(capture(inputs).float().flatten(1).cpu().numpy())
            emit(Stage("features", f"Features of {min(start + CHUNK, len(images)):,} of {len(images):,} images"))
    if not paths:
        example = f" (first: {skipped[0][0]}: {skipped[0][1]})" if skipped else ""
        raise TlguiError(f"none of the {len(images):,} images under {listing.root} could be read{example}")
    return paths, np.concatenate(parts).astype(np.float32), skipped, f"{config.model} ({source.description})"


def _check(model, capture: HeadInputs, inputs: torch.Tensor) -> None:
    try:
        _check_head_is_last(model, capture, inputs[:2])
    except _NotCached as exc:
        raise TlguiError(f"the frozen features cannot be read from this model: {exc}") from None
