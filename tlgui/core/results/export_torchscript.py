"""TorchScript (.ts), which PyTorch now deprecates (``torch.jit.load`` says so): kept for as long as
PyTorch ships it, for C++ programs and older tools; new work should take pt2 or ONNX.

The model is traced (scripted where tracing fails), saved with the metadata every export
carries, read back and compared with the model on a batch of 3, a size it was not traced with.
torch.jit's deprecation notices are silenced here: the user chose this format knowingly.
"""

from __future__ import annotations

import warnings
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


def _to_torchscript(model: nn.Module, ckpt: dict[str, Any]) -> torch.jit.ScriptModule:
    model = model.eval()
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # torch.jit's deprecation notice; it still works
        try:
            scripted = torch.jit.trace(model, example_input(ckpt, 2, 0), check_trace=False)
            compare_outputs(model, scripted, example_input(ckpt, 3, 1), "traced TorchScript model")
            return scripted
        except Exception as trace_error:  # noqa: BLE001 - try scripting before giving up
            try:
                return torch.jit.script(model)
            except Exception:  # noqa: BLE001
                raise ExportError(
                    f"{ckpt['architecture']} cannot be converted to TorchScript: {first_line(trace_error)}"
                ) from None


def export_torchscript(model: nn.Module, ckpt: dict[str, Any], path: Path) -> tuple[float, list[str]]:
    scripted = _to_torchscript(model, ckpt)
    tmp = _atomic_target(path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            # open file objects: torch's own file code fails on non-ASCII paths on Windows (pytorch#75171)
            with open(tmp, "wb") as handle:
                torch.jit.save(scripted, handle, _extra_files=export_metadata(ckpt))
            with open(tmp, "rb") as handle:
                loaded = torch.jit.load(handle, map_location="cpu")
        diff = compare_outputs(model, loaded, example_input(ckpt, 3, 1), "saved TorchScript model")
        _publish(tmp, path)
    except OSError as exc:
        raise ExportError(f"cannot write {path}: {exc.strerror or exc}") from None
    finally:
        tmp.unlink(missing_ok=True)
    return diff, [f"torch.jit.load: max |difference| {diff:.2e} vs the model, batch of 3"]
