"""``tlgui scan DATA [--val DIR] [--json]``: check data before training on it. An image folder
has every file decoded once; other kinds (a CSV list, IDX files, ...) are opened as training
opens them and what that found is reported."""

from __future__ import annotations

import json
import sys
import time


def register(sub) -> None:
    p = sub.add_parser(
        "scan",
        help="check an image folder: unreadable files, duplicates, tiny images, imbalance",
        description="Decode every image of a class-per-folder tree once and report problems. "
        "Exits 0 when the scan ran, even if it found bad files.",
    )
    p.add_argument(
        "folder", metavar="DATA",
        help="folder with one sub-folder per class (or any data spec train accepts: a .csv list, IDX files, ...)",
    )
    p.add_argument(
        "--val", metavar="DIR", help="validation folder: also report images found in both"
    )
    p.add_argument("--json", action="store_true", help="print one JSON object instead of a report")
    p.add_argument("--no-cache", action="store_true", help="rescan even if the folder is unchanged")
    p.add_argument("--limit", type=int, default=20, help="list at most this many files per problem")
    p.set_defaults(func=run)


def run(args) -> int:
    from tlgui.core.base.errors import DataError
    from tlgui.core.data.catalog import kind_of
    from tlgui.core.data.kinds import image_folder
    from tlgui.core.data.scan import scan_folder, scan_pair
    from tlgui.core.data.sources import check_folder, split_subfolder

    kind = kind_of(args.folder)
    if kind is not image_folder:
        return _report_other(args, kind)
    source = image_folder.DESCRIPTION
    root = check_folder(args.folder)
    val = args.val
    if val is None:  # a folder holding train/ and val/ (or test/) is scanned as a pair
        try:
            train_dir, val_dir = split_subfolder(root, "train"), split_subfolder(root, "test")
        except DataError:  # split folders without a validation one: scan the folder itself
            train_dir = val_dir = None
        if train_dir is not None and val_dir is not None:
            root, val = train_dir, str(val_dir)
    use_cache = not args.no_cache
    if val is not None:
        check_folder(val)
        pair = scan_pair(root, val, use_cache=use_cache)
        if args.json:
            print(json.dumps(pair.to_json(), indent=1))
        else:
            print("Training folder")
            print(format_report(pair.train, args.limit, source))
            print("\nValidation folder")
            print(format_report(pair.val, args.limit, source))
            if pair.cross_duplicates:
                print()
                for line in pair.warnings:
                    print(f"! {line}")
                rows = [f"{g['val'][0]}  =  {g['train'][0]}" for g in pair.cross_duplicates]
                print(_listing(rows, args.limit))
        return 0
    report = scan_folder(root, use_cache=use_cache)
    if args.json:
        print(json.dumps(report.to_json(), indent=1))
    else:
        print(format_report(report, args.limit, source))
    sys.stdout.flush()
    return 0


def _report_other(args, kind) -> int:
    """Data that is not an image folder: opened as training opens it (files are checked by their
    header, not decoded), reported in the scan's form."""
    from tlgui.core.base.errors import DataError
    from tlgui.core.data.catalog import open_source
    from tlgui.core.data.scan import report_of_set

    if args.val is not None:
        raise DataError(f"--val compares two image folders; {args.folder} is not one ({kind.DESCRIPTION})")
    started = time.perf_counter()
    images = open_source(args.folder)
    report = report_of_set(images, time.perf_counter() - started)
    if args.json:
        print(json.dumps(report.to_json(), indent=1))
    else:
        print(format_report(report, args.limit, images.source))
        if images.paths is not None:
            print("(files were checked by their header, as training opens them; an image folder is decoded in full)")
    sys.stdout.flush()
    return 0


def format_report(report, limit: int = 20, source: str = "") -> str:
    """A short human report of a ScanReport (``source``: the kind of data it describes)."""
    took = "cached result" if report.from_cache else f"{report.seconds:.1f} s"
    lines = [
        f"{report.folder}: {report.usable} usable image(s) in {len(report.classes)} class(es) "
        f"out of {report.files} image file(s) ({took})"
    ]
    if source:
        lines.append(f"  source: {source}")
    if report.counts:
        width = max(len(name) for name in report.counts)
        lines += [f"  {name:<{width}}  {n:>7}" for name, n in report.counts.items()]
    if report.summary:
        lines.append(f"  images: {report.summary}")
    if report.modes:
        lines.append("  modes: " + ", ".join(f"{m} {n}" for m, n in report.modes.items()))
    if report.odd:
        lines.append(f"Files unlike the rest ({len(report.odd)}, skipped by training):")
        lines.append(_listing([f"{o['path']}: {o['reason']}" for o in report.odd], limit))
    if report.bad:
        lines.append(f"Unreadable files ({len(report.bad)}, skipped by training):")
        lines.append(_listing([f"{b['path']}: {b['reason']}" for b in report.bad], limit))
    if report.duplicates:
        extra = sum(len(g) - 1 for g in report.duplicates)
        lines.append(f"Duplicates ({len(report.duplicates)} group(s), {extra} extra cop(ies)):")
        lines.append(_listing(["  =  ".join(g) for g in report.duplicates], limit))
    if report.tiny:
        lines.append(f"Tiny images ({len(report.tiny)}, under 16 px on a side; still used):")
        lines.append(
            _listing([f"{t['path']} ({t['width']}x{t['height']})" for t in report.tiny], limit)
        )
    if report.ignored:
        lines.append(f"Ignored {report.ignored} hidden, system or non-image file(s)")
    lines += [f"! {w}" for w in report.warnings]
    if report.stopped:
        lines.append("! the scan was stopped early; results are partial")
    if not (report.bad or report.duplicates or report.tiny or report.warnings or report.odd):
        lines.append("No problems found.")
    return "\n".join(lines)


def _listing(rows: list[str], limit: int) -> str:
    shown = [f"    {row}" for row in rows[: max(limit, 0)]]
    if len(rows) > limit:
        shown.append(f"    ... and {len(rows) - limit} more (use --json for all)")
    return "\n".join(shown)
