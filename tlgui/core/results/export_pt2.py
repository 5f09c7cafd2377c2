"""torch.export (.pt2): the ExportedProgram PyTorch recommends now that it deprecates TorchScript.

``torch.export.load`` reads the file in Python and AOTInductor compiles it for C++. The program
is traced (non-strict) on a batch of 2 with a dynamic batch dimension: an example batch of 1 would
be specialised to the constant 1 (torch.export's 0/1 specialisation), and the lower bound is set
to 1 explicitly because older torch versions defaulted to 2. The saved file is read back and
compared with the model on batches of 1 and 5, sizes it was not traced with. It carries the
same labels.json, preprocessing.json and tlgui.json as the other formats (``extra_files``).
"""

from __future__ import annotations

import io
import json
import logging
import sys
import warnings
from collections.abc import Iterator
from contextlib import contextmanager, redirect_stderr
from pathlib import Path
from typing import Any

import torch
from torch import nn

from tlgui.core.base.files import _atomic_target, _publish
from tlgui.core.results.export_common import (
    ExportError,
    compare_outputs,
    example_input,
    export_metadata,
    first_line,
)

SUFFIX = ".pt2"  # torch.export.save and .load refuse a file name with another ending

CHECK_BATCHES = (1, 5)


@contextmanager
def _torch_quiet() -> Iterator[None]:
    """torch.export reports its tracing troubles on stderr itself (log lines, and on failure the partial
    graph, printed): when it fails the user gets our one line instead. Its loggers take their level from
    the "torch" logger; what it prints to stderr is held back and shown only if the export succeeds."""
    torch_logger = logging.getLogger("torch")
    level = torch_logger.level
    torch_logger.setLevel(logging.CRITICAL)
    held = io.StringIO()
    try:
        with warnings.catch_warnings(), redirect_stderr(held):
            warnings.simplefilter("ignore")  # tracing notes from inside torch, not the user's business
            yield
    finally:
        torch_logger.setLevel(level)
    sys.stderr.write(held.getvalue())  # reached only on success


def to_exported_program(model: nn.Module, ckpt: dict[str, Any]) -> torch.export.ExportedProgram:
    """The eval-mode model as an ExportedProgram whose batch dimension is free (1 and up)."""
    from torch.export import Dim

    model = model.eval()
    example = (example_input(ckpt, 2, 0),)  # 2, not 1: a batch of 1 would be baked in
    try:
        with _torch_quiet():
            return torch.export.export(model, example, dynamic_shapes=({0: Dim("batch", min=1)},), strict=False)
    except Exception as exc:  # noqa: BLE001 - any tracing failure means this model cannot be a .pt2
        raise ExportError(
            f"{ckpt['architecture']} cannot be exported with torch.export (.pt2): {first_line(exc)}; "
            "the ONNX and TorchScript exports may still work"
        ) from None


def read_pt2(path: str | Path, extra_names: tuple[str, ...] = ()) -> tuple[nn.Module, dict[str, str]]:
    """The runnable module saved in ``path`` and the extra files named (labels.json, ...)."""
    extra = {name: "" for name in extra_names}
    with open(path, "rb") as f:  # a handle: the atomic temp file's name does not end in .pt2
        program = torch.export.load(f, extra_files=extra)
    return program.module(), extra


def export_pt2(model: nn.Module, ckpt: dict[str, Any], path: Path) -> tuple[float, list[str]]:
    """Write ``model`` to ``path`` (.pt2), read it back and compare; (max |difference|, checks)."""
    if path.suffix.lower() != SUFFIX:
        raise ExportError(f"{path}: a torch.export file must end in {SUFFIX} (torch.export.load reads no other "
                          f"name); choose {path.with_suffix(SUFFIX).name}")
    program = to_exported_program(model, ckpt)
    tmp = _atomic_target(path)
    try:
        with open(tmp, "wb") as f:
            torch.export.save(program, f, extra_files=export_metadata(ckpt))
        loaded, extra = read_pt2(tmp, ("labels.json",))
        if json.loads(extra["labels.json"] or "null") != list(ckpt["classes"]):
            raise ExportError(f"the saved {path.name} lost its class names (labels.json); please report this")
        diff = max(
            compare_outputs(model, loaded, example_input(ckpt, n, 1), f"saved torch.export program (batch of {n})")
            for n in CHECK_BATCHES
        )
        _publish(tmp, path)
    except OSError as exc:
        raise ExportError(f"cannot write {path}: {exc.strerror or exc}") from None
    finally:
        tmp.unlink(missing_ok=True)
    batches = " and ".join(str(n) for n in CHECK_BATCHES)
    return diff, [f"torch.export.load: max |difference| {diff:.2e} vs the model, batches of {batches}"]
