"""``tlgui evaluate MODEL.pt --data DIR`` or ``tlgui evaluate RUN_DIR``: accuracy, per-class
figures, confusion matrix, the most confidently wrong images, and (``--csv DIR``) the tables
as CSV files. A run folder is evaluated on the validation split stored in its split.csv."""

from __future__ import annotations

import json
import sys


def register(sub) -> None:
    p = sub.add_parser(
        "evaluate", help="evaluate a saved model.pt on a data set, or a run folder on its own validation split",
        description="tlgui evaluate MODEL.pt --data DATA evaluates a model on a data set; "
        "tlgui evaluate RUN_DIR evaluates the run's model.pt on the validation images stored in RUN_DIR/split.csv.",
    )
    p.add_argument("model", metavar="MODEL.pt|RUN_DIR")
    p.add_argument("--data", help="data to evaluate on (not with a RUN_DIR: a run brings its own)")
    p.add_argument("--split", choices=("train", "test"), default="test",
                   help="split for IDX/torchvision/demo sources (default test)")
    p.add_argument("--corrections", metavar="FILE",
                   help="label corrections CSV path,label applied to --data (a run folder uses its own)")
    p.add_argument("--device", choices=("auto", "cpu", "cuda", "mps"), default="auto")
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--csv", metavar="DIR",
                   help="also write per_class.csv, confusion.csv, top_losses.csv, predictions.csv to DIR")
    p.add_argument("--top-losses", type=int, default=5, metavar="K",
                   help="show the K most confidently wrong images (default 5)")
    p.set_defaults(func=run)


def run(args) -> int:
    from tlgui.core.base.errors import ConfigError

    if args.batch_size < 1:
        raise ConfigError(f"invalid value for --batch-size: {args.batch_size} (must be at least 1)")
    if args.csv:
        _check_folder(args.csv)  # before the evaluation, not after it
    result = _evaluate(args)
    report = result.to_json(top_loss_count=max(0, args.top_losses))
    written = result.write_csv(args.csv, top_loss_count=max(50, args.top_losses)) if args.csv else []
    if args.json:
        print(json.dumps(report))
        return 0
    print(f"accuracy {report['accuracy']:.4f} on {report['n']} images (balanced {report['balanced_accuracy']:.4f})")
    width = max(5, max(len(c) for c in report["classes"]))
    print(f"{'class':<{width}}  {'acc':>6}  {'prec':>6}  {'f1':>6}  {'n':>6}")
    for c in report["classes"]:
        print(
            f"{c:<{width}}  {report['per_class'][c]:6.3f}  {report['precision'][c]:6.3f}  "
            f"{report['f1'][c]:6.3f}  {report['support'][c]:6d}"
        )
    print("confusion (rows = true class, columns = predicted):")
    for c, row in zip(report["classes"], report["confusion"], strict=True):
        print(f"{c:<{width}}  " + " ".join(f"{v:5d}" for v in row))
    if report["top_losses"]:
        print("most confidently wrong:")
        for t in report["top_losses"]:
            print(f"  {t['path']}: {t['true']} taken for {t['predicted']} ({t['probability']:.3f})")
    for note in result.notes:
        print(f"note: {note}", file=sys.stderr)
    if report["skipped"]:
        first = result.skipped[0]
        print(f"skipped {report['skipped']} unreadable image(s), e.g. {first[0]} ({first[1]})", file=sys.stderr)
    for path in written:
        print(f"wrote {path}")
    return 0


def _evaluate(args):
    import os

    from tlgui.core.base.errors import ConfigError
    from tlgui.core.results.evaluate import evaluate_model

    if os.path.isdir(os.path.expanduser(args.model)):
        from tlgui.core.results.run_evaluation import evaluate_run, run_validation

        if args.data or args.corrections:
            raise ConfigError(f"{args.model} is a run folder: it is evaluated on its own validation split "
                              "with its own corrections; leave out --data and --corrections")
        if not args.json:
            print(f"evaluating {args.model} on {run_validation(args.model).describe()}", file=sys.stderr)
        return evaluate_run(args.model, device=args.device)
    if not args.data:
        raise ConfigError(f"--data is needed to evaluate the model file {args.model} (or give a run folder)")
    return evaluate_model(args.model, args.data, args.split, args.device, args.batch_size, corrections=args.corrections)


def _check_folder(folder: str) -> None:
    import os

    from tlgui.core.base.errors import RunDirError
    from tlgui.core.base.files import writable_folder_problem

    path = os.path.abspath(os.path.expanduser(folder))
    problem = writable_folder_problem(path)
    if problem:
        raise RunDirError(f"cannot write CSV files to {path}: {problem}")
