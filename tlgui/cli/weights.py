"""``tlgui weights``: the offline weights library (list, import, path, download, models).

Refusals exit 2 with one line (bad input: unknown name, not a weight file, wrong
checksum); a download that runs but fails exits 1.
"""

from __future__ import annotations

import json
import sys
import time


def register(sub) -> None:
    p = sub.add_parser(
        "weights",
        help="pretrained weights on this computer: list, import, download",
        description="The offline weights library: which pretrained weights are on this computer, "
        "importing weight files, and downloading them (only when you ask).",
    )
    p.set_defaults(func=_no_action, _parser=p)
    actions = p.add_subparsers(dest="action", metavar="ACTION", parser_class=type(p))

    ls = actions.add_parser("list", help="architectures with local weight files (--all: every entry)")
    ls.add_argument("--all", action="store_true", help="every published weights entry, present or not")
    ls.add_argument("--json", action="store_true", help="print one JSON object")
    ls.set_defaults(func=run_list)

    imp = actions.add_parser("import", help="copy a weight file into the library (verifies its checksum)")
    imp.add_argument("file", metavar="FILE")
    imp.add_argument("--arch", metavar="NAME",
                     help="the architecture, for weights that are not torchvision's published ones")
    imp.add_argument("--json", action="store_true", help="print one JSON object")
    imp.set_defaults(func=run_import)

    path = actions.add_parser("path", help="print the folders searched for weight files, import target first")
    path.set_defaults(func=run_path)

    dl = actions.add_parser("download", help="download torchvision's weights for an architecture (needs internet)")
    dl.add_argument("name", metavar="NAME", help="architecture, e.g. resnet18")
    dl.add_argument("--entry", metavar="E", help="weights entry, e.g. IMAGENET1K_V1 (default: torchvision's default)")
    dl.add_argument("--quiet", action="store_true", help="no progress line")
    dl.set_defaults(func=run_download)

    models = actions.add_parser("models", help="my models: model.pt files of finished runs")
    models.add_argument("folders", nargs="*", metavar="FOLDER", help="extra folders to search")
    models.add_argument("--json", action="store_true", help="print one JSON object")
    models.set_defaults(func=run_models)


def _no_action(args) -> int:
    args._parser.print_help(sys.stderr)
    return 2


def _size(size: int | None) -> str:
    return f"{size / 2**20:.1f} MB" if size is not None else "?"


def run_list(args) -> int:
    from tlgui.core.library.catalog import list_custom_weights, list_weights
    from tlgui.core.library.hub_cache import hub_cache_dir, list_hub_snapshots
    from tlgui.core.models.zoo import list_architectures

    rows = list_weights()
    custom = list_custom_weights()
    hub = list_hub_snapshots()
    local_archs = sorted({r.architecture for r in rows if r.present})
    with_weights = {r.architecture for r in rows}
    shown = rows if args.all else [r for r in rows if r.present]
    rest = len(with_weights) - len(local_archs)
    if args.json:
        print(json.dumps({
            "entries": [r.to_dict() for r in shown],
            "custom": [c.to_dict() for c in custom],
            "architectures_with_local_weights": local_archs,
            "architectures_without_local_weights": rest,
            "architectures": len(list_architectures()),
            "hub_cache": str(hub_cache_dir()),
            "hub": [_hub_dict(s) for s in hub],
        }))
        return 0
    if shown:
        print(f"{'architecture':<24} {'entry':<26} {'acc@1':>6} {'params':>8} {'size':>9}  file")
        for r in shown:
            acc = f"{r.acc1:.1f}" if r.acc1 is not None else "-"
            params = f"{r.num_params / 1e6:.1f}M" if r.num_params else "-"
            entry = r.entry + (" *" if r.is_default else "")
            where = r.path if r.present else f"(not here) {r.file_name}"
            print(f"{r.architecture:<24} {entry:<26} {acc:>6} {params:>8} {_size(r.size_bytes):>9}  {where}")
    else:
        print("none of torchvision's published weight files is on this computer yet")
    for c in custom:
        what = c.architecture or "unknown architecture"
        classes = f", {c.num_classes} classes" if c.num_classes else ""
        note = f" ({c.problem})" if c.problem else ""
        print(f"custom: {what}{classes}  {_size(c.size_bytes)}  {c.path}{note}")
    for snap in hub:
        if snap.weights is not None and snap.problem is None:  # a usable snapshot has its weights file
            print(f"hub: {snap.architecture} ({snap.label})  {_size(snap.weights.stat().st_size)}  {snap.weights}")
        else:
            print(f"hub: {snap.architecture} ({snap.label})  -  (not usable: {snap.problem})")
    if not hub:
        print(f"no timm weights in the Hugging Face hub cache ({hub_cache_dir()})")
    if not args.all:
        print(
            f"{len(local_archs)} architecture(s) with local weights; {rest} more have published weights "
            "that are not on this computer ('tlgui weights list --all' lists every entry; * = default)"
        )
    return 0


def _hub_dict(snap) -> dict:
    return {
        "architecture": snap.architecture, "tag": snap.tag, "folder": str(snap.folder),
        "path": str(snap.weights) if snap.weights else None, "revision": snap.revision,
        "problem": snap.problem, "present": snap.problem is None,
    }


def run_import(args) -> int:
    from tlgui.core.library.importing import import_weights

    result = import_weights(args.file, args.arch)
    if args.json:
        print(json.dumps({
            "path": str(result.path), "kind": result.kind, "architecture": result.architecture,
            "entry": result.entry, "num_classes": result.num_classes, "sha256": result.sha256,
            "already_present": result.already_present, "message": result.message,
        }))
    else:
        print(result.message)
    return 0


def run_path(args) -> int:
    from tlgui.core.library.catalog import library_dirs

    for folder in library_dirs():
        print(folder)
    return 0


class _ProgressLine:
    """A one-line progress display on stderr, redrawn at most a few times a second."""

    def __init__(self, label: str):
        self.label = label
        self.tty = sys.stderr.isatty()
        self.last = 0.0
        self.drawn = False

    def __call__(self, done: int, total: int | None) -> None:
        now = time.monotonic()
        final = total is not None and done >= total
        if not final and now - self.last < (0.25 if self.tty else 5.0):
            return
        self.last = now
        part = f"{done / 2**20:.1f} MB"
        if total:
            part = f"{100 * done / total:5.1f}% of {total / 2**20:.1f} MB"
        print(f"\r{self.label}: {part}" if self.tty else f"{self.label}: {part}",
              end="" if self.tty else "\n", file=sys.stderr, flush=True)
        self.drawn = True

    def finish(self) -> None:
        if self.drawn and self.tty:
            print(file=sys.stderr, flush=True)


def run_download(args) -> int:
    from tlgui.core.base.download import DownloadError
    from tlgui.core.library.catalog import find_entry
    from tlgui.core.library.download import download_weights

    entry = find_entry(args.name, args.entry)  # bad names exit 2 before any network use
    line = None if args.quiet else _ProgressLine(f"downloading {args.name} {entry.name}")
    try:
        result = download_weights(args.name, entry.name, progress=line)
    except DownloadError as exc:
        if line:
            line.finish()
        print(f"tlgui: error: {exc}", file=sys.stderr)
        return 1
    if line:
        line.finish()
    print(result.message)
    return 0


def run_models(args) -> int:
    from tlgui.core.library.my_models import list_my_models

    models = list_my_models(args.folders)
    if args.json:
        print(json.dumps({"models": [m.to_dict() for m in models]}))
        return 0
    if not models:
        print("no trained models yet (each finished run leaves a model.pt)")
        return 0
    for m in models:
        if not m.ok:
            print(f"{m.name:<24} unusable: {m.problem}")
            continue
        acc = f"{m.accuracy:.3f}" if m.accuracy is not None else "-"
        classes = ", ".join(m.classes[:6]) + (", ..." if len(m.classes) > 6 else "")
        print(f"{m.name:<24} {m.architecture:<16} acc {acc}  {len(m.classes)} classes ({classes})  "
              f"data {m.source_data}  {m.date}  {m.path}")
    return 0
