"""``tlgui rank``: which backbone for my data? Score every pretrained backbone on this computer
with a K-fold linear probe on its frozen features (plus kNN and LogME), best first, and
recommend one with a strategy (head, finetune or scratch)."""

from __future__ import annotations

import json
import sys


def register(sub) -> None:
    p = sub.add_parser(
        "rank",
        help="which model for my data? rank the pretrained backbones on this computer",
        description="For each candidate backbone the frozen model runs once over the data (the features are "
        "stored, so a second rank and a following head-only run reuse them); a K-fold linear probe, kNN and "
        "LogME score them. Candidates that fail are listed with their reason.",
    )
    p.add_argument("--data", required=True, help="training data (as for 'tlgui train')")
    p.add_argument("--val-data", help="separate validation data (otherwise a stratified split of --data)")
    p.add_argument("--models", default="auto",
                   help="auto (every pretrained backbone on this computer) and/or NAME or NAME=WEIGHTS, "
                        "comma separated")
    p.add_argument("--folds", type=int, default=5, help="folds of the linear probe (default 5)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", choices=("auto", "cpu", "cuda", "mps"), default="auto")
    p.add_argument("--image-size", type=int)
    p.add_argument("--max-train-images", type=int, help="use at most this many training images (stratified)")
    p.add_argument("--channels", default="all",
                   help="channels of the images the models use: all (default), or numbers such as 2 or 1,2,3 (1-based)")
    p.add_argument("--intensity", default="auto",
                   help="how raw values become model inputs: auto (default), dataset, image, none or fixed:LO,HI "
                        "(as tlgui train; a head-only run with the same choices reuses the rank's features)")
    p.add_argument("--stack", choices=("middle", "max"), default="middle",
                   help="how a z- or t-stack becomes one image: middle slice (default) or max projection")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=run)


def _progress(event) -> None:
    from tlgui.core.workflows.rank import RankProgress

    if isinstance(event, RankProgress):
        if event.done is None:
            print(f"[{event.index}/{event.count}] {event.model} ({event.weights}): {event.text}", file=sys.stderr,
                  flush=True)


def _pct(value) -> str:
    return "  n/a" if value is None else f"{value:5.1%}"


def _table(result) -> None:
    print(f"{'model':28} {'probe':>6} {'±':>6} {'kNN':>6} {'LogME':>8} {'ms/img':>7}  weights")
    for c in result.candidates:
        if c.problem:
            print(f"{c.model:28} failed: {c.problem}  ({c.weights})")
            continue
        ms = "" if c.seconds_per_image is None else f"{c.seconds_per_image * 1000:7.2f}"
        print(f"{c.model:28} {_pct(c.accuracy):>6} {_pct(c.accuracy_std):>6} {_pct(c.knn_accuracy):>6} "
              f"{c.logme:8.3f} {ms:>7}  {c.weights}")
        if c.note:
            print(f"{'':28} note: {c.note}")
    r = result.recommendation
    print(f"\nrecommended: {r.model} ({r.weights}), {r.strategy}: {r.why}")


def run(args) -> int:
    from tlgui.core.base.errors import ConfigError
    from tlgui.core.workflows.rank import RankConfig, rank

    if not 2 <= args.folds <= 20:
        raise ConfigError(f"--folds {args.folds}: use 2 to 20")
    config = RankConfig(data=args.data, val_data=args.val_data, models=args.models, folds=args.folds,
                        seed=args.seed, device=args.device, image_size=args.image_size,
                        max_train_images=args.max_train_images, channels=args.channels,
                        intensity=args.intensity, stack=args.stack)
    result = rank(config, None if args.json else _progress)
    if args.json:
        print(json.dumps(result.to_json()))
    else:
        _table(result)
    return 0 if result.status == "completed" else 1
