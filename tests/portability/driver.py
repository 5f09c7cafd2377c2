"""Runs tlgui command lines in one interpreter, as a Windows or macOS user's would run them.

Started by tests/portability/test_cli_portability.py as
``python -X warn_default_encoding driver.py COMMANDS.json``: each entry of the JSON list is one
``tlgui`` argument list; one JSON line per command reports its exit code. Every EncodingWarning
(a text file opened without naming its encoding: Windows would read it as cp1252) whose code
lies in tlgui's own package is reported on stderr with the line that caused it. They are
recorded rather than raised because a raised warning can vanish in a broad ``except``.

DataLoader workers start with ``spawn``, which imports this file again as ``__mp_main__``:
everything below stays under the ``__main__`` guard, as in tlgui's own entry points.
"""

import json
import sys
import warnings
from pathlib import Path


def _report_tlgui_encoding_warnings() -> None:
    import tlgui

    package = str(Path(tlgui.__file__).resolve().parent)
    shown = warnings.showwarning

    def show(message, category, filename, lineno, file=None, line=None):
        if issubclass(category, EncodingWarning) and str(Path(filename).resolve()).startswith(package):
            print(f"TLGUI-ENCODING-WARNING {filename}:{lineno}: {message}", file=sys.stderr, flush=True)
        elif not issubclass(category, EncodingWarning):
            shown(message, category, filename, lineno, file, line)

    warnings.simplefilter("always", EncodingWarning)
    warnings.showwarning = show


def main() -> int:
    assert sys.flags.warn_default_encoding, "run with -X warn_default_encoding"
    _report_tlgui_encoding_warnings()
    import multiprocessing

    multiprocessing.freeze_support()
    from tlgui.cli import main as tlgui_main

    commands = json.loads(Path(sys.argv[1]).read_text(encoding="utf-8"))
    for entry in commands:
        if isinstance(entry, dict):  # {"train_and_stop": config}: Stop after the first epoch, as in the window
            status = _train_and_stop(entry["train_and_stop"])
            print(json.dumps({"stopped_run": status}), flush=True)
            continue
        code = tlgui_main(entry)
        print(json.dumps({"argv": entry, "rc": code}), flush=True)
        if code:
            return code
    return 0


def _train_and_stop(config: dict) -> str:
    from tlgui.core.base.config import TrainConfig
    from tlgui.core.base.events import EpochStats
    from tlgui.core.training.control import TrainControl
    from tlgui.core.training.loop import train

    control = TrainControl()

    def on_event(event) -> None:
        if isinstance(event, EpochStats):
            control.stop()

    return train(TrainConfig(**config), on_event=on_event, control=control).status


if __name__ == "__main__":
    sys.exit(main())
