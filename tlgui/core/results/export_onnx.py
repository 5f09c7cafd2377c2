"""ONNX (.onnx, opset 18, dynamic batch): torch.export (dynamo) first, the classic exporter as a
fallback; checked with onnx.checker and, where installed, compared with the model in onnxruntime.
Needs the tlgui[export] extra (onnx, onnxscript, onnxruntime)."""

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

ONNX_OPSET = 18


INSTALL_HINT = "install tlgui[export] (pip install 'tlgui[export]')"


def onnx_available() -> bool:
    try:
        import onnx  # noqa: F401
    except ImportError:
        return False
    return True


def onnxruntime_available() -> bool:
    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        return False
    return True


def _export_onnx_file(model: nn.Module, ckpt: dict[str, Any], tmp: Path, opset: int) -> str:
    """Write the ONNX graph to ``tmp``; returns which exporter worked."""
    example = (example_input(ckpt, 2, 0),)
    errors: list[Exception] = []
    try:
        from torch.export import Dim

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(
                model, example, str(tmp), dynamo=True, external_data=False,
                dynamic_shapes=({0: Dim("batch")},),
                verbose=False, input_names=["input"], output_names=["logits"], opset_version=opset,
            )
        return "torch.export (dynamo)"
    except Exception as exc:  # noqa: BLE001 - the classic exporter handles some models dynamo cannot
        errors.append(exc)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(
                model, example, str(tmp), dynamo=False,
                dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}},
                input_names=["input"], output_names=["logits"], opset_version=opset,
            )
        return "TorchScript-based exporter"
    except Exception as exc:  # noqa: BLE001
        errors.append(exc)
    raise ExportError(f"{ckpt['architecture']} cannot be exported to ONNX: {first_line(errors[0])}")


def export_onnx(model: nn.Module, ckpt: dict[str, Any], path: Path, opset: int = ONNX_OPSET) -> tuple[float, list[str]]:
    import onnx

    model = model.eval()
    tmp = _atomic_target(path)
    try:
        exporter = _export_onnx_file(model, ckpt, tmp, opset)
        proto = onnx.load(str(tmp))
        for key, value in export_metadata(ckpt).items():
            entry = proto.metadata_props.add()
            entry.key, entry.value = key, value
        onnx.save(proto, str(tmp))
        onnx.checker.check_model(proto, full_check=True)  # the proto, not the path: see below
        checks = [f"exported with the {exporter}, opset {_opset(proto)}", "onnx.checker: valid"]
        diff = 0.0
        if onnxruntime_available():
            import onnxruntime as ort

            # bytes, not the path: onnxruntime's C++ file code fails on non-ASCII paths on Windows
            session = ort.InferenceSession(tmp.read_bytes(), providers=["CPUExecutionProvider"])
            input_name = session.get_inputs()[0].name

            def run(x: torch.Tensor):
                return session.run(None, {input_name: x.numpy()})[0]

            diff = compare_outputs(model, run, example_input(ckpt, 3, 1), "ONNX model")
            checks.append(f"onnxruntime: max |difference| {diff:.2e} vs the model, batch of 3")
        else:
            diff = float("nan")
            checks.append("onnxruntime is not installed: outputs not compared (" + INSTALL_HINT + ")")
        _publish(tmp, path)
    except OSError as exc:
        raise ExportError(f"cannot write {path}: {exc.strerror or exc}") from None
    except onnx.checker.ValidationError as exc:
        raise ExportError(f"the exported ONNX model is invalid: {first_line(exc)}") from None
    finally:
        tmp.unlink(missing_ok=True)
        Path(str(tmp) + ".data").unlink(missing_ok=True)
    return diff, checks


def _opset(proto) -> int:
    return max((o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")), default=0)
