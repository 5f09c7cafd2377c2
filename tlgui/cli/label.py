"""``tlgui label next|export``: which images of an unlabelled folder to label next, and exporting the labels.

``tlgui label next --data DIR --labels FILE.csv (--model NAME --weights W | --run RUN_DIR) [--n N]
[--strategy auto|typical|margin|random] [--classes a,b,c] [--seed S] --json`` prints
``{"next": [{"path", "suggested", "confidence", "picked"}], "strategy", "reason", "labelled", "classes",
"estimate": {"accuracy", "low", "high", "method", "count"} | null, "seconds", "skipped", "hint", ...}``.
It reads the labels file and never writes it. ``tlgui label export --labels FILE.csv --to DIR [--link]``
copies (or links) the labelled images into one sub-folder per class.
"""

from __future__ import annotations

import json
import sys


def register(sub) -> None:
    p = sub.add_parser("label", help="label an unlabelled folder: which images next, and exporting the labels",
                       description="The model chooses which images of an unlabelled folder to label next; "
                       "labels are a CSV path,label that tlgui train --data FILE.csv trains on.")
    commands = p.add_subparsers(dest="label_command", metavar="{next,export}", parser_class=type(p))
    commands.required = True
    nxt = commands.add_parser("next", help="the images to label next, with the model's suggestion for each",
                              description="The frozen backbone runs once over the folder (its features are stored); "
                              "later calls only fit a head on the labelled images and score the rest. "
                              "The labels file is read, never written.")
    nxt.add_argument("--data", required=True, help="the folder of images (any depth), or unlabelled:DIR")
    nxt.add_argument("--labels", help="the labels CSV (path,label...); default: the one tlgui keeps for --data")
    nxt.add_argument("--model", help="architecture whose frozen backbone gives the features, e.g. resnet18")
    nxt.add_argument("--weights", help="none, default or a weight file")
    nxt.add_argument("--run", metavar="RUN_DIR", help="a trained tlgui run: its model.pt's backbone gives the features")
    nxt.add_argument("--n", type=int, default=10, help="how many images (default 10)")
    nxt.add_argument("--strategy", choices=("auto", "typical", "margin", "random"), default="auto",
                     help="auto (default): typical images until every class has a few labels, then the least "
                          "certain with about 20 %% random ones")
    nxt.add_argument("--classes", help="the classes, comma separated (default: the labels file's)")
    nxt.add_argument("--seed", type=int, default=0)
    nxt.add_argument("--device", choices=("auto", "cpu", "cuda"), default=None)
    nxt.add_argument("--image-size", type=int)
    nxt.add_argument("--channels", help="channels the model uses: all (default) or numbers such as 1,2 (1-based)")
    nxt.add_argument("--intensity", help="auto (default), dataset, image, none or fixed:LO,HI (as tlgui train)")
    nxt.add_argument("--stack", choices=("middle", "max"), help="how a z- or t-stack becomes one image")
    nxt.add_argument("--json", action="store_true", help="print one JSON object")
    nxt.set_defaults(func=run_next)
    exp = commands.add_parser("export", help="copy or link the labelled images into one sub-folder per class",
                              description="Copies (or with --link, links) every labelled image into DIR/<class>/. "
                              "The images themselves are never moved or changed.")
    exp.add_argument("--labels", required=True, help="the labels CSV")
    exp.add_argument("--to", required=True, metavar="DIR", help="the folder to fill")
    exp.add_argument("--link", action="store_true", help="symbolic links instead of copies (copies where links "
                     "are not allowed)")
    exp.add_argument("--json", action="store_true", help="print one JSON object")
    exp.set_defaults(func=run_export)


def _settings(args) -> dict:
    return {"device": args.device, "image_size": args.image_size, "channels": args.channels,
            "intensity": args.intensity, "stack": args.stack}


def run_next(args) -> int:
    from pathlib import Path

    import tlgui.core.workflows  # noqa: F401  (registers --weights demo:source)
    from tlgui.core.base.errors import ConfigError
    from tlgui.core.base.events import Event, Message
    from tlgui.core.data.kinds.unlabelled_folder import folder_of
    from tlgui.core.workflows.labelling import LabelStore, next_to_label

    if args.n < 1:
        raise ConfigError(f"--n {args.n}: ask for at least 1 image")
    labels = args.labels or str(LabelStore.for_folder(folder_of(args.data)).csv_path)
    if not Path(labels).expanduser().is_file():
        print(f"note: no labels file at {labels} yet: starting from no labels", file=sys.stderr)
    classes = [c.strip() for c in args.classes.split(",") if c.strip()] if args.classes else None

    def emit(event: Event) -> None:
        if isinstance(event, Message) and event.level == "warning":
            print(f"warning: {event.text}", file=sys.stderr)

    queue = next_to_label(args.data, labels, model=args.model, weights=args.weights, run=args.run, n=args.n,
                          strategy=args.strategy, classes=classes, seed=args.seed, emit=emit,
                          feature_settings=_settings(args))
    for line in queue.problems:
        print(f"warning: {line}", file=sys.stderr)
    if args.json:
        print(json.dumps(queue.to_json()))
        return 0
    print(f"{queue.strategy}: {queue.reason}")
    for s in queue.next:
        shown = f"{s.suggested} ({s.confidence:.0%})" if s.suggested else "-"
        print(f"{s.path}\t{shown}\t{s.picked}")
    if queue.estimate:
        e = queue.estimate
        print(f"estimated accuracy {e.accuracy:.0%} ({e.low:.0%} to {e.high:.0%}): {e.method}")
    print(queue.hint)
    print(f"{queue.labelled} of {queue.total} labelled; {len(queue.skipped)} unreadable; {queue.seconds:.2f} s",
          file=sys.stderr)
    return 0


def run_export(args) -> int:
    from tlgui.core.workflows.labelling import export_labels

    result = export_labels(args.labels, args.to, link=args.link)
    for note in result["notes"]:
        print(f"note: {note}", file=sys.stderr)
    for path, reason in result["skipped"]:
        print(f"skipped {path}: {reason}", file=sys.stderr)
    if args.json:
        print(json.dumps(result))
        return 0
    done = "linked" if result["linked"] and not result["copied"] else "copied"
    print(f"{result['copied'] + result['linked']} image(s) {done} into {result['to']} "
          f"({', '.join(f'{c}: {n}' for c, n in result['classes'].items())})")
    return 0
