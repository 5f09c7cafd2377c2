"""``tlgui train``: one training run, headless, same engine as the window."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from tlgui.core.base.config import AUGMENTATIONS
from tlgui.core.base.errors import ConfigError

if TYPE_CHECKING:  # the events module is imported when a run starts, keeping --help fast
    from tlgui.core.base.events import Event

AUGMENT_HELP = ("random changes to training images: auto (the default: flip-rotate for microscopy-like images, "
                "deeper than 8 bits or not 1 or 3 channels, unless --freeze backbone; none for pictures), none, "
                "flip (left-right), "
                "flip-rotate (all 8 flips and quarter turns), standard (flip and a small shift)")


def register(sub) -> None:
    p = sub.add_parser(
        "train",
        help="train a model (or rerun RUN_DIR/config.json)",
        description="Train an image classifier by transfer learning. "
        "'tlgui train RUN_DIR/config.json' reruns a saved configuration.",
    )
    p.add_argument("config_file", nargs="?", metavar="CONFIG.json", help="rerun a saved config.json")
    p.add_argument("--data",
                   help="image folder (one sub-folder per class), IDX folder, CSV manifest, torchvision:NAME:ROOT, or "
                        "demo:source / demo:target")
    p.add_argument("--val-data", help="separate validation data (otherwise a stratified split of --data)")
    p.add_argument("--model",
                   help="architecture: smallcnn, any torchvision name, or timm:NAME (see 'tlgui layers --list')")
    p.add_argument("--weights",
                   help="none (random), default (torchvision's from the torch hub cache; timm's from the Hugging Face "
                        "hub cache), demo:source, or a file (.pth, .pt, .safetensors)")
    p.add_argument("--freeze", help="none | backbone | upto:PATH | PATH1,PATH2,...")
    p.add_argument("--bn-update-frozen", action="store_true", default=None,
                   help="let frozen BatchNorm layers update their running statistics")
    p.add_argument("--epochs", type=int)
    p.add_argument("--batch-size", type=int)
    p.add_argument("--lr", type=_lr, help="learning rate, or auto: a short range test picks it first "
                   "(config.json keeps \"auto\" and records the pick as lr_found)")
    p.add_argument("--optimizer", choices=("sgd", "adam", "adamw"))
    p.add_argument("--weight-decay", type=float,
                   help="weight decay on weights (never on biases and normalisation layers); "
                        "default 0.01 for adamw, 0 otherwise")
    p.add_argument("--schedule", choices=("constant", "cosine", "onecycle"))
    p.add_argument("--image-size", type=int)
    p.add_argument("--val-split", type=float)
    p.add_argument("--split", choices=("train", "test"),
                   help="split of --data for IDX/torchvision sources (default train)")
    p.add_argument("--val-split-name", choices=("train", "test"), help="split of --val-data (default test)")
    p.add_argument("--augment", choices=AUGMENTATIONS, help=AUGMENT_HELP)
    p.add_argument("--no-group-split", dest="group_split", action="store_false", default=None,
                   help="split images one by one even when class folders hold sub-folders "
                        "(by default each sub-folder, e.g. a patient, stays on one side)")
    p.add_argument("--channels",
                   help="channels of the images the model uses: all (default), or numbers such as 2 or 1,2,3 (1-based)")
    p.add_argument("--intensity",
                   help="how raw values become model inputs: auto (default: dataset for data deeper than 8 bits), "
                        "dataset (a window measured on the training images), image (each image stretched to its own "
                        "range), none, or fixed:LO,HI")
    p.add_argument("--stack", choices=("middle", "max"),
                   help="how a z- or t-stack becomes one image: middle slice (default) or max projection")
    p.add_argument("--corrections", metavar="FILE",
                   help="label corrections, a CSV path,label (label a class name or exclude); "
                        "the image files are not changed")
    p.add_argument("--max-train-images", type=int, help="use at most this many training images (stratified)")
    p.add_argument("--seed", type=int)
    p.add_argument("--device", choices=("auto", "cpu", "cuda", "mps"))
    p.add_argument("--num-workers", type=int, help="DataLoader worker processes for data too big for memory")
    p.add_argument("--sync-bn", action="store_true", default=None,
                   help="under torchrun: synchronise BatchNorm statistics across processes (default: per process)")
    p.add_argument("--precision", choices=("auto", "fp32", "bf16"),
                   help="auto (default): bf16 autocast where the CPU/GPU does bf16 natively, else fp32")
    p.add_argument("--cache-views", type=int,
                   help="head-only training with augmentation: augmented views per image in the feature cache "
                        "(default 2)")
    p.add_argument("--head-epochs", type=int,
                   help="train the head alone for this many of the epochs (on cached features), then unfreeze "
                        "the layers --freeze leaves trainable (default 0)")
    p.add_argument("--layer-lr-decay", type=float,
                   help="discriminative rates: each earlier block group gets this times the next one's rate "
                        "(default 1: one rate for all)")
    p.add_argument("--class-weights", choices=("none", "balanced"),
                   help="balanced: weight the loss by n / (classes * images of the class) from the training split")
    p.add_argument("--out", help="run folder to write (config.json, metrics.csv, summary.json, model.pt)")
    p.add_argument("--overwrite", action="store_true",
                   help="start again in --out, replacing the run there (finished or interrupted)")
    p.add_argument("--resume", action="store_true",
                   help="continue a stopped or interrupted run from its last completed epoch "
                        "(give RUN_DIR/config.json or --out RUN_DIR)")
    p.add_argument("--quiet", action="store_true", help="print only the final line")
    p.set_defaults(func=run)


_FIELDS = {
    "data": "data", "val_data": "val_data", "model": "model", "weights": "weights", "freeze": "freeze",
    "bn_update_frozen": "bn_update_frozen", "epochs": "epochs", "batch_size": "batch_size", "lr": "lr",
    "optimizer": "optimizer", "weight_decay": "weight_decay", "group_split": "group_split", "schedule": "schedule",
    "image_size": "image_size", "val_split": "val_split",
    "split": "split", "val_split_name": "val_split_name", "augment": "augment",
    "max_train_images": "max_train_images", "seed": "seed", "device": "device",
    "num_workers": "num_workers", "out": "out", "sync_bn": "sync_bn", "precision": "precision",
    "cache_views": "cache_views", "channels": "channels", "intensity": "intensity", "stack": "stack",
    "corrections": "corrections",
    "head_epochs": "head_epochs", "layer_lr_decay": "layer_lr_decay", "class_weights": "class_weights",
}


def _lr(text: str):
    from tlgui.core.base.config import parse_lr

    try:
        return parse_lr(text)
    except ConfigError as exc:
        raise argparse.ArgumentTypeError(str(exc).replace("invalid value for --lr: ", "")) from None


def config_from_args(args: argparse.Namespace):
    from tlgui.core.base.config import TrainConfig

    overrides = {f: getattr(args, a) for a, f in _FIELDS.items() if getattr(args, a) is not None}
    if overrides.get("corrections"):
        overrides["corrections"] = str(Path(overrides["corrections"]).expanduser().resolve())
    if getattr(args, "resume", False):
        return _resume_config(args, overrides)
    overrides["corrections_sha256"] = None  # a new run records the corrections file as it is now
    if args.config_file:
        base = TrainConfig.load(args.config_file).to_dict()
        base.update(overrides)
        return TrainConfig.from_dict(base)
    required = (("--data", "data"), ("--model", "model"), ("--out", "out"))
    missing = [flag for flag, key in required if not overrides.get(key)]
    if missing:
        raise ConfigError(f"missing {', '.join(missing)} (or give a saved config.json)")
    return TrainConfig.from_dict(overrides)


def _resume_config(args: argparse.Namespace, overrides: dict):
    from tlgui.core.results.runs import resume_config

    if args.config_file:
        return resume_config(args.config_file, {k: v for k, v in overrides.items() if k != "out"})
    if args.out:
        return resume_config(args.out, {k: v for k, v in overrides.items() if k != "out"})
    raise ConfigError("--resume needs the run: give RUN_DIR/config.json or --out RUN_DIR")


class _Printer:
    """The run's events as lines on stdout (none when quiet)."""

    def __init__(self, quiet: bool):
        self.quiet = quiet

    def __call__(self, event: Event) -> None:
        from tlgui.core.base.events import EpochStats, Message, RunStarted

        if self.quiet:
            return
        if isinstance(event, RunStarted):
            print(
                f"training on {event.device}: {event.train_images} images, {event.val_images} for validation, "
                f"{len(event.classes)} classes; trainable {event.trainable_params:,} of "
                f"{event.trainable_params + event.frozen_params:,} parameters",
                flush=True,
            )
        elif isinstance(event, EpochStats):
            print(
                f"epoch {event.epoch}/{event.epochs}  loss {event.train_loss:.4f}  acc {event.train_accuracy:.3f}  "
                f"val_loss {event.val_loss:.4f}  val_acc {event.val_accuracy:.3f}  {event.seconds:.1f}s",
                flush=True,
            )
        elif isinstance(event, Message):
            print(f"{'warning' if event.level == 'warning' else 'note'}: {event.text}", flush=True)


def run(args: argparse.Namespace) -> int:
    import tlgui.core.workflows  # noqa: F401  (registers --weights demo:source)
    from tlgui.core.training.control import TrainControl
    from tlgui.core.training.distributed import from_env
    from tlgui.core.training.loop import train

    config = config_from_args(args)
    from tlgui.core.training.precision import use_default_threads

    use_default_threads()  # the same measured choice as the window's worker
    control = TrainControl()
    main_process = from_env().main  # under torchrun only rank 0 reports
    try:
        result = train(config, _Printer(args.quiet or not main_process), control, overwrite=args.overwrite,
                       resume=args.resume)
    except KeyboardInterrupt:
        control.stop()
        raise
    s = result.summary
    best = s.get("best_val_accuracy")
    if not main_process:
        return 0 if result.ok else 1
    print(
        f"{result.status}: best val_acc {best:.4f}, {s['epochs_completed']} epoch(s) in {s['train_seconds']:.1f}s; "
        f"model saved to {Path(result.run_dir) / 'model.pt'}"
        if best is not None
        else f"{result.status}: no complete epoch; run folder {result.run_dir}",
        file=sys.stdout,
    )
    return 0 if result.ok else 1
