"""``tlgui check-labels --data DIR [--val-data DIR] (--model NAME --weights W | --run RUN_DIR)
[--folds K] --json``: every image ranked by how suspicious its given label is, most suspicious
first, ``flagged`` where confident learning finds the label wrong. Prints ``{"suspects": [{"path",
"given", "suggested", "confidence", "flagged", "self_confidence"}], "method": "...", "flagged_count",
"images"}`` (``suggested``: the likeliest other class, ``confidence`` its probability)."""

from __future__ import annotations

import json
import sys


def register(sub) -> None:
    p = sub.add_parser(
        "check-labels", help="find images whose label is probably wrong (out-of-fold predictions, confident learning)",
        description="Scores every image with a model that never saw its label (K folds), ranks every image by "
        "how suspicious its label is and flags those confident learning finds wrong. Nothing in the data folder "
        "is changed.",
    )
    p.add_argument("--data", help="the labelled images (a run folder brings its own)")
    p.add_argument("--val-data", help="separate validation images, checked too")
    p.add_argument("--model", help="architecture, e.g. resnet18 or timm:NAME")
    p.add_argument("--weights", help="none, default or a file; pretrained weights: the backbone stays frozen (fast)")
    p.add_argument("--run", metavar="RUN_DIR",
                   help="use a run's settings: model, weights, freezing, image handling, corrections")
    p.add_argument("--folds", type=int, default=5, metavar="K", help="folds (default 5)")
    p.add_argument("--epochs", type=int,
                   help="epochs of each short training when the backbone is not frozen (default 5)")
    p.add_argument("--image-size", type=int)
    p.add_argument("--device", choices=("auto", "cpu", "cuda", "mps"), default="auto")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=run)


def config_for(args):
    """The TrainConfig to check with, from --run or --model/--weights; ConfigError when neither."""
    from pathlib import Path

    from tlgui.core.base.config import TrainConfig
    from tlgui.core.base.errors import ConfigError
    from tlgui.core.workflows.label_check import check_config

    if args.run:
        if args.model or args.weights:
            raise ConfigError("give either --run RUN_DIR or --model and --weights, not both")
        config_file = Path(args.run).expanduser() / "config.json"
        if not config_file.is_file():
            raise ConfigError(f"{args.run} is not a tlgui run folder (it has no config.json)")
        config = TrainConfig.load(config_file)
        if args.data:
            config.data, config.val_data = args.data, args.val_data
            config.corrections, config.corrections_sha256 = None, None  # the run's corrections name its own data
        config.corrections_sha256 = None  # the corrections as they are now
    else:
        if not (args.data and args.model and args.weights):
            raise ConfigError("check-labels needs --data, --model and --weights (or --run RUN_DIR)")
        config = check_config(args.data, args.model, args.weights, args.val_data, epochs=5)
    config.device = args.device
    if args.epochs is not None:
        config.epochs = args.epochs
    if args.image_size is not None:
        config.image_size = args.image_size
    return config.validate()


def run(args) -> int:
    import tlgui.core.workflows  # noqa: F401  (registers --weights demo:source)
    from tlgui.core.base.events import Event, Message
    from tlgui.core.workflows.label_check import check_labels

    config = config_for(args)

    def emit(event: Event) -> None:
        if isinstance(event, Message) and event.level == "warning":
            print(f"warning: {event.text}", file=sys.stderr)

    result = check_labels(config, args.folds, emit)
    if args.json:
        print(json.dumps(result.to_json()))
        return 0
    print(result.method)
    for s in result.suspects:
        mark = "flagged" if s["flagged"] else "-"
        print(f"{s['path']}\t{mark}\tgiven {s['given']} ({s['self_confidence']:.3f})\t"
              f"suggested {s['suggested']} ({s['confidence']:.3f})")
    print(f"{len(result.flagged)} flagged label(s) among {len(result.labels)} images, every image ranked "
          "(most suspicious first)", file=sys.stderr)
    return 0
