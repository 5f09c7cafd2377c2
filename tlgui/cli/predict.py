"""``tlgui predict MODEL.pt PATH... [--csv OUT] [--top-k K]``: label images with a saved model."""

from __future__ import annotations

import sys


def register(sub) -> None:
    p = sub.add_parser(
        "predict",
        help="classify images (files or folders) with a saved model.pt",
        description="Prints one line per image: path, label and probability (tab-separated). "
        "Folders are searched recursively; hidden and non-image files are skipped; "
        "unreadable images are reported on stderr.",
    )
    p.add_argument("model", metavar="MODEL.pt")
    p.add_argument("paths", nargs="+", metavar="PATH", help="image files or folders")
    p.add_argument("--csv", metavar="OUT", help="write path,label,probability,top1,p1,... to this CSV file")
    p.add_argument("--top-k", type=int, default=3, metavar="K", help="best K labels in the CSV (default 3)")
    p.add_argument("--device", choices=("auto", "cpu", "cuda", "mps"), default="auto")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--quiet", action="store_true", help="do not print one line per image")
    p.set_defaults(func=run)


def run(args) -> int:
    from tlgui.core.base.errors import ConfigError
    from tlgui.core.results.predict import predict_paths, write_predictions_csv

    if args.top_k < 1:
        raise ConfigError(f"invalid value for --top-k: {args.top_k} (must be at least 1)")
    if args.batch_size < 1:
        raise ConfigError(f"invalid value for --batch-size: {args.batch_size} (must be at least 1)")
    if args.csv:
        _check_csv_target(args.csv)
    report = predict_paths(args.model, args.paths, args.top_k, device=args.device, batch_size=args.batch_size)
    if not args.quiet:
        for p in report.predictions:
            print(f"{p.path}\t{p.label}\t{p.probability:.4f}")
    for path, reason in report.unreadable:
        print(f"cannot read {path}: {reason}", file=sys.stderr)
    if args.csv:
        try:
            written = write_predictions_csv(args.csv, report)
        except OSError as exc:
            raise ConfigError(f"cannot write {args.csv}: {exc.strerror or exc}") from None
        print(f"wrote {len(report.predictions)} prediction(s) to {written}", file=sys.stderr)
    if not report.predictions:
        print("tlgui: none of the images could be read", file=sys.stderr)
        return 1
    return 0


def _check_csv_target(path: str) -> None:
    import os

    from tlgui.core.base.errors import ConfigError
    from tlgui.core.base.files import writable_folder_problem

    folder = os.path.dirname(os.path.abspath(os.path.expanduser(path)))
    if os.path.isdir(path):
        raise ConfigError(f"--csv {path} is a folder; give a file name such as predictions.csv")
    if not os.path.isdir(folder):
        raise ConfigError(f"cannot write {path}: folder {folder} does not exist")
    problem = writable_folder_problem(folder, create=False)  # the shared probe: it writes, so read-only mounts show
    if problem:
        raise ConfigError(f"cannot write {path}: folder {folder} is not writable ({problem})")
