"""``tlgui doctor [--json]``: the system report for bug reports (versions, device, Qt, folders)."""

from __future__ import annotations


def register(sub) -> None:
    p = sub.add_parser("doctor", help="print a system report for bug reports (versions, device, Qt, folders)")
    p.add_argument("--json", action="store_true", help="print it as JSON")
    p.set_defaults(func=run)


def run(args) -> int:
    import json

    from tlgui.torch_first import load_torch_before_qt

    load_torch_before_qt()  # before PySide6's package (Windows: WinError 1114 otherwise)
    try:  # the package only (no Qt library is loaded): its version where no metadata says it
        import PySide6  # noqa: F401
    except ImportError:
        pass
    from tlgui.core.workflows.system_report import format_report, system_report

    report = system_report()
    print(json.dumps(report, indent=2) if args.json else format_report(report), flush=True)
    return 0
