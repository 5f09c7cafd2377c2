"""``tlgui`` command line: no sub-command opens the window; sub-commands run the same
core engine headless. Each sub-command lives in its own module with ``register()``.

Exit codes: 0 success, 1 the job ran but failed, 2 bad input (one human line on stderr).
"""

from __future__ import annotations

import argparse
import importlib
import sys

from .. import __version__

# module names under tlgui.cli; each defines register(subparsers) -> None and sets
# the parser's default ``func(args) -> int``
COMMAND_MODULES = (
    "train",
    "cache",
    "evaluate",
    "layers",
    "demo",
    "scan",
    "weights",
    "predict",
    "export",
    "compare",
    "doctor",
    "rank",
    "explain",
    "check_labels",
    "lr_find",
    "label",
)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # argparse's own usage errors also exit 2, one line
        self.print_usage(sys.stderr)
        self.exit(2, f"tlgui: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="tlgui",
        description="Transfer learning, point and click. Without a command, opens the window.",
    )
    parser.add_argument("--version", action="version", version=f"tlgui {__version__}")
    parser.add_argument(
        "--self-test",
        action="store_true",
        help="open the window, train the demo briefly, print one JSON line, exit 0/1",
    )
    parser.add_argument("--screenshot", metavar="PNG", help="with --self-test: save a screenshot")
    parser.add_argument("--screenshots", metavar="DIR",
                        help="with --self-test: drive the window through every page and save the user guide's pictures")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name in COMMAND_MODULES:
        importlib.import_module(f"{__name__}.{name}").register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None and args.self_test and args.screenshots:
        from ..ui.shell.guide_screenshots import main as make_screenshots

        return make_screenshots([args.screenshots])
    if args.command is None:
        from ..torch_first import load_torch_before_qt

        load_torch_before_qt()  # before Qt (Windows: WinError 1114 otherwise)
        from ..app import run_gui

        return run_gui(self_test=args.self_test, screenshot=args.screenshot)
    from tlgui.core.base.errors import TlguiError

    try:
        return int(args.func(args) or 0)
    except TlguiError as exc:
        print(f"tlgui: error: {_rank()}{exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("tlgui: interrupted", file=sys.stderr)
        return 130
    except MemoryError:
        print("tlgui: error: the computer ran out of memory; try a smaller batch size or image size", file=sys.stderr)
        return 1
    except BrokenPipeError:
        # output piped into e.g. `head`, which closed early: not an error
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except Exception as exc:  # noqa: BLE001 - a bug, not bad input: one line, details on request
        import os
        import traceback

        from tlgui.core.base.files import name_too_long

        too_long = name_too_long(exc)  # bad input after all: a path the system refuses for its length
        if too_long:
            print(f"tlgui: error: {_rank()}{too_long}", file=sys.stderr)
            return 2

        if _rank() and _after_peer_failure(exc):
            return 1
        if os.environ.get("TLGUI_DEBUG"):
            traceback.print_exc()
        print(f"tlgui: unexpected error: {_rank()}{type(exc).__name__}: {exc}", file=sys.stderr)
        print("tlgui: this is a bug in tlgui; set TLGUI_DEBUG=1 to see the details", file=sys.stderr)
        return 1


def _after_peer_failure(exc: BaseException) -> bool:
    """Under torchrun: another process failed and said why; this one stays quiet and ends.

    Only that process's line names the rank and the cause (and torchrun's report names it)."""
    from tlgui.core.training import distributed

    if not distributed.lost_a_peer(exc):
        return False
    distributed.outlive_a_failed_peer()  # torchrun ends this process here
    print(f"tlgui: error: {_rank()}another process of this job failed first (its own line says which and why)",
          file=sys.stderr)
    return True


def _rank() -> str:
    """"rank R: " under torchrun, so a failure says which process it was."""
    import os

    try:
        return f"rank {int(os.environ['RANK'])}: " if int(os.environ.get("WORLD_SIZE", "1")) > 1 else ""
    except (KeyError, ValueError):
        return ""
