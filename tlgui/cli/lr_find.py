"""``tlgui lr-find``: the learning-rate range test on its own, its curve and pick."""

from __future__ import annotations

import argparse
import json

from tlgui.cli.train import AUGMENT_HELP
from tlgui.core.base.config import AUGMENTATIONS

_FIELDS = ("data", "val_data", "model", "weights", "freeze", "batch_size", "optimizer", "weight_decay", "image_size",
           "augment", "seed", "device", "max_train_images", "layer_lr_decay", "class_weights", "channels",
           "intensity", "stack", "split", "precision")


def register(sub) -> None:
    p = sub.add_parser("lr-find", help="find a learning rate: a short range test (what --lr auto runs)",
                       description="Train for 100 steps with the rate growing from 1e-7 to 1, and pick the rate "
                       "where the smoothed loss falls fastest (at most a tenth of where it is lowest). "
                       "Nothing is saved.")
    p.add_argument("--data", required=True, help="training data, as for 'tlgui train'")
    p.add_argument("--val-data")
    p.add_argument("--model", required=True)
    p.add_argument("--weights", help="none (default), default, demo:source, or a file")
    p.add_argument("--freeze", help="none | backbone | upto:PATH | PATH1,PATH2,...")
    p.add_argument("--batch-size", type=int)
    p.add_argument("--optimizer", choices=("sgd", "adam", "adamw"))
    p.add_argument("--weight-decay", type=float)
    p.add_argument("--layer-lr-decay", type=float)
    p.add_argument("--class-weights", choices=("none", "balanced"))
    p.add_argument("--image-size", type=int)
    p.add_argument("--augment", choices=AUGMENTATIONS, help=AUGMENT_HELP)
    p.add_argument("--channels")
    p.add_argument("--intensity")
    p.add_argument("--stack", choices=("middle", "max"))
    p.add_argument("--split", choices=("train", "test"))
    p.add_argument("--max-train-images", type=int)
    p.add_argument("--seed", type=int)
    p.add_argument("--device", choices=("auto", "cpu", "cuda", "mps"))
    p.add_argument("--precision", choices=("auto", "fp32", "bf16"))
    p.add_argument("--json", action="store_true", help="print the curve and the pick as one JSON object")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import tlgui.core.workflows  # noqa: F401  (registers --weights demo:source)
    from tlgui.core.base.config import TrainConfig
    from tlgui.core.training.precision import use_default_threads
    from tlgui.core.training.recipe import run_lr_finder

    use_default_threads()
    config = TrainConfig.from_dict({f: getattr(args, f) for f in _FIELDS if getattr(args, f) is not None})
    finding = run_lr_finder(config)
    if args.json:
        print(json.dumps(finding.to_dict()))
        return 0
    print(f"{'lr':>10} {'loss':>9} {'smoothed':>9}")
    step = max(1, len(finding.lrs) // 25)
    for i in range(0, len(finding.lrs), step):
        print(f"{finding.lrs[i]:>10.3g} {finding.losses[i]:>9.4f} {finding.smoothed[i]:>9.4f}")
    steepest = f"; steepest descent at {finding.steepest_lr:.3g}" if finding.steepest_lr else ""
    print(f"lowest smoothed loss at {finding.min_loss_lr:.3g}{steepest}")
    print(f"pick: {finding.pick:.3g} ({finding.rule}: where the smoothed loss falls fastest, "
          "at most a tenth of where it is lowest)")
    return 0
