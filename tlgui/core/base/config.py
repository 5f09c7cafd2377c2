"""TrainConfig: every setting of a run, as plain data that round-trips through JSON."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from tlgui.core.base.errors import ConfigError

CONFIG_SCHEMA_VERSION = 1


OPTIMIZERS = ("sgd", "adam", "adamw")


SCHEDULES = ("constant", "cosine", "onecycle")


DEVICES = ("auto", "cpu", "cuda", "mps")


SPLITS = ("train", "test")


AUGMENTATIONS = ("auto", "none", "flip", "flip-rotate", "standard")


PRECISIONS = ("auto", "fp32", "bf16")


CLASS_WEIGHTS = ("none", "balanced")


STACK_RULES = ("middle", "max")  # tlgui.core.base.pixels.STACK_RULES


INTENSITY_CHOICES = ("auto", "dataset", "image", "none")  # and fixed:LO,HI


@dataclass
class TrainConfig:
    data: str
    model: str
    out: str = ""
    val_data: str | None = None
    weights: str = "none"  # "none" | "default" | "demo:source" | path to .pth/.pt
    freeze: str = "none"  # "none" | "backbone" | "upto:PATH" | "P1,P2,..."
    bn_update_frozen: bool = False  # let frozen BatchNorm layers update running stats
    epochs: int = 5
    batch_size: int = 64
    lr: float | str | None = None  # None: a sensible default for the optimizer; "auto": the LR finder picks
    optimizer: str = "adam"
    schedule: str = "cosine"
    momentum: float = 0.9
    weight_decay: float | None = None  # None: the optimizer's usual (0.01 for AdamW, else 0)
    image_size: int | None = None
    val_split: float = 0.2
    split: str = "train"
    val_split_name: str = "test"  # split of --val-data for IDX/torchvision sources
    # "auto": flip-rotate for microscopy-like images (deeper than 8 bits or not 1/3 channels), else none
    augment: str = "auto"
    seed: int = 0
    device: str = "auto"
    num_workers: int = 0
    max_train_images: int | None = None  # cap (stratified) for quick runs
    checkpoint_every: int = 1  # epochs between resumable checkpoints
    sync_bn: bool = False  # under torchrun: synchronise BatchNorm statistics across processes
    precision: str = "auto"  # "auto" (bf16 where the hardware does it natively) | "fp32" | "bf16"
    cache_views: int = 2  # augmented views per image in the head-only feature cache
    group_split: bool = True  # keep each sub-folder of a class (a patient, a plate) on one side of the split
    channels: str = "all"  # "all" or 1-based channel numbers of the files, e.g. "2" or "1,2,3"
    intensity: str = "auto"  # "auto" (dataset for data deeper than 8 bits) | dataset | image | none | fixed:LO,HI
    stack: str = "middle"  # how a z/t stack becomes one image: "middle" slice or "max" projection
    # label corrections (tlgui.core.data.corrections): a CSV path,label applied when the data is opened
    corrections: str | None = None
    corrections_sha256: str | None = None  # the file's SHA-256 when the run started (resume checks it)
    # issue 21, the fine-tuning recipe
    head_epochs: int = 0  # first train the head alone (on cached features) for this many of the epochs
    layer_lr_decay: float = 1.0  # each earlier block group gets this times the next one's learning rate
    class_weights: str = "none"  # "none" | "balanced": loss weights n / (k * n_c) from the training split
    lr_found: float | None = None  # with lr "auto": the rate the finder picked (written by the run)
    schema_version: int = CONFIG_SCHEMA_VERSION

    def validate(self) -> TrainConfig:
        def bad(name: str, value: Any, allowed: str) -> ConfigError:
            return ConfigError(f"invalid value for {name}: {value!r} ({allowed})")

        if self.optimizer not in OPTIMIZERS:
            raise bad("--optimizer", self.optimizer, "choose " + ", ".join(OPTIMIZERS))
        if self.schedule not in SCHEDULES:
            raise bad("--schedule", self.schedule, "choose " + ", ".join(SCHEDULES))
        if self.device not in DEVICES:
            raise bad("--device", self.device, "choose " + ", ".join(DEVICES))
        if self.split not in SPLITS:
            raise bad("--split", self.split, "choose train or test")
        if self.augment not in AUGMENTATIONS:
            raise bad("--augment", self.augment, "choose " + ", ".join(AUGMENTATIONS))
        if int(self.epochs) < 1:
            raise bad("--epochs", self.epochs, "must be at least 1")
        if int(self.batch_size) < 1:
            raise bad("--batch-size", self.batch_size, "must be at least 1")
        self.lr = parse_lr(self.lr)
        self._validate_recipe(bad)
        if not (0 < float(self.val_split) < 1):
            raise bad("--val-split", self.val_split, "must be between 0 and 1")
        if self.image_size is not None and not (8 <= int(self.image_size) <= 1024):
            raise bad("--image-size", self.image_size, "must be between 8 and 1024")
        if self.precision not in PRECISIONS:
            raise bad("--precision", self.precision, "choose " + ", ".join(PRECISIONS))
        if not (1 <= int(self.cache_views) <= 32):
            raise bad("--cache-views", self.cache_views, "must be between 1 and 32")
        if int(self.num_workers) < 0:
            raise bad("--num-workers", self.num_workers, "must be 0 or more")
        if self.stack not in STACK_RULES:
            raise bad("--stack", self.stack, "choose " + ", ".join(STACK_RULES))
        parse_intensity(self.intensity)
        parse_channels(self.channels)
        if self.weight_decay is not None and not (0 <= float(self.weight_decay) < 10):
            raise bad("--weight-decay", self.weight_decay, "must be 0 or a positive number below 10")
        return self

    def _validate_recipe(self, bad) -> None:
        if not (0 <= int(self.head_epochs) < int(self.epochs)):
            raise bad("--head-epochs", self.head_epochs, f"must be 0 or more and below --epochs ({self.epochs})")
        if int(self.head_epochs) and (self.freeze or "none").strip() == "backbone":
            raise bad("--head-epochs", self.head_epochs,
                      "needs layers to unfreeze afterwards, but --freeze is backbone")
        if not (0 < float(self.layer_lr_decay) <= 1):
            raise bad("--layer-lr-decay", self.layer_lr_decay, "must be above 0 and at most 1 (1: one rate for all)")
        if self.class_weights not in CLASS_WEIGHTS:
            raise bad("--class-weights", self.class_weights, "choose " + ", ".join(CLASS_WEIGHTS))
        if not self.lr_auto:
            self.lr_found = None  # a rate given by hand: a finder's old pick no longer applies
        if self.lr_found is not None and not (0 < float(self.lr_found) < 10):
            raise bad("lr_found", self.lr_found, "must be a positive number below 10")

    @property
    def lr_auto(self) -> bool:
        return self.lr == "auto"

    def resolved_weight_decay(self) -> float:
        if self.weight_decay is not None:
            return float(self.weight_decay)
        return 0.01 if self.optimizer == "adamw" else 0.0

    def resolved_lr(self) -> float:
        """The base learning rate; with "auto" the finder's pick (the default until it has run)."""
        if self.lr_auto and self.lr_found is not None:
            return float(self.lr_found)
        if self.lr is not None and not self.lr_auto:
            return float(self.lr)
        return 0.01 if self.optimizer == "sgd" else 1e-3

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> TrainConfig:
        raw = migrate_config(dict(raw))
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(raw) - known)
        if unknown:
            raise ConfigError(f"unknown setting(s) in configuration: {', '.join(unknown)}")
        for required in ("data", "model"):
            if not raw.get(required):
                raise ConfigError(f"configuration is missing {required!r}")
        return cls(**raw).validate()

    @classmethod
    def load(cls, path: str | Path) -> TrainConfig:
        path = Path(path)
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(f"configuration file not found: {path}") from None
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ConfigError(f"cannot read configuration {path}: {exc}") from None
        if not isinstance(raw, dict):
            raise ConfigError(f"configuration {path} is not a JSON object")
        return cls.from_dict(raw)


def migrate_config(raw: dict[str, Any]) -> dict[str, Any]:
    """Bring an older config.json up to the current schema (none older exist yet)."""
    version = raw.get("schema_version", CONFIG_SCHEMA_VERSION)
    if version > CONFIG_SCHEMA_VERSION:
        raise ConfigError(
            f"configuration was written by a newer tlgui (schema {version}); please update tlgui"
        )
    raw["schema_version"] = CONFIG_SCHEMA_VERSION
    return raw


def parse_lr(value: Any) -> float | str | None:
    """``--lr``: a positive number below 10, or "auto" (the learning-rate finder picks it)."""
    if value is None:
        return None
    if isinstance(value, str) and value.strip().lower() == "auto":
        return "auto"
    try:
        lr = float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"invalid value for --lr: {value!r} (a number such as 0.001, or auto)") from None
    if not (0 < lr < 10):
        raise ConfigError(f"invalid value for --lr: {value!r} (must be a positive number below 10, or auto)")
    return lr


def parse_channels(text: str | None, available: int | None = None) -> list[int] | None:
    """``--channels``: "all" (None), "2" or "1,2,3" (1-based) -> 0-based indices, checked."""
    text = (text or "all").strip().lower()
    if text in ("all", ""):
        return None
    try:
        chosen = [int(part) - 1 for part in text.replace(" ", "").split(",") if part]
    except ValueError:
        raise ConfigError(f"invalid value for --channels: {text!r} "
                          "(use all, or channel numbers like 2 or 1,2,3)") from None
    if not chosen or min(chosen) < 0 or len(set(chosen)) != len(chosen):
        raise ConfigError(f"invalid value for --channels: {text!r} (channel numbers start at 1, each once)")
    if available is not None and max(chosen) >= available:
        raise ConfigError(f"--channels {text}: the images have {available} channel{'' if available == 1 else 's'}")
    return chosen


def parse_intensity(text: str | None) -> tuple[str, list[float] | None]:
    """``--intensity``: auto | dataset | image | fixed:LO,HI | none -> (mode, [LO, HI] or None)."""
    text = (text or "auto").strip().lower()
    if text.startswith("fixed:"):
        try:
            low, high = (float(v) for v in text[6:].split(","))
        except ValueError:
            raise ConfigError(f"invalid value for --intensity: {text!r} "
                              "(use fixed:LO,HI, e.g. fixed:100,4095)") from None
        if not high > low:
            raise ConfigError(f"invalid value for --intensity: {text!r} (HI must be above LO)")
        return "fixed", [low, high]
    if text in INTENSITY_CHOICES:
        return text, None
    raise ConfigError(f"invalid value for --intensity: {text!r} (choose auto, dataset, image, none or fixed:LO,HI)")
