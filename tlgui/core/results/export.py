"""Export a tlgui model.pt for use without tlgui: TorchScript, ONNX, or a bundle folder
(TorchScript model + labels + preprocessing + a stand-alone ``predict.py``).

Every export is checked: the exported model is run on random inputs of a batch size it
was not traced with and compared with the eager model (``ExportResult.max_abs_diff``).
Exported models take the *normalised* float tensor (N, C, crop, crop) and return logits;
the bundle's ``predict.py`` does the preprocessing with tlgui's own code (it ships
``tlgui/core/base/pixels.py`` as ``pixels.py``).
"""

from __future__ import annotations

import json
import os
import string
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import torch
from torch import nn

from tlgui.core.base.errors import TlguiError
from tlgui.core.base.files import (
    _atomic_target,
    _publish,
    atomic_write_text,
    path_too_long,
    writable_folder_problem,
)
from tlgui.core.base.preprocessing import Preprocessing
from tlgui.core.models.checkpoint import load_checkpoint, model_from_checkpoint

FORMATS = ("torchscript", "onnx", "bundle")


SUFFIXES = {"torchscript": ".ts", "onnx": ".onnx"}


ONNX_OPSET = 18


TOLERANCE = 1e-4  # max abs difference of logits we report as a faithful export


_HARD_LIMIT = 1e-2  # beyond this the export is broken, not just rounded differently


BUNDLE_FILES = ("model.ts", "labels.json", "preprocessing.json", "README.md", "predict.py", "pixels.py")


INSTALL_HINT = "install tlgui[export] (pip install 'tlgui[export]')"


class ExportError(TlguiError):
    """The model cannot be exported to the requested format or place."""


@dataclass
class ExportResult:
    format: str
    path: str  # the file (torchscript, onnx) or folder (bundle) written
    max_abs_diff: float  # exported vs eager logits on the check inputs
    checks: list[str] = field(default_factory=list)  # what was verified, in words
    files: list[str] = field(default_factory=list)

    @property
    def faithful(self) -> bool:
        return self.max_abs_diff <= TOLERANCE


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


def export_model(
    model_path: str | os.PathLike,
    fmt: str,
    out: str | os.PathLike,
    on_stage: Callable[[str], None] | None = None,
    overwrite: bool = False,
) -> ExportResult:
    """Export ``model_path`` to ``fmt`` at ``out``; raises :class:`TlguiError` in plain words.

    ``out`` is a file for torchscript/onnx (an existing folder gets ``model.ts`` /
    ``model.onnx`` inside it) and a folder for bundle. ``on_stage(text)`` reports steps.
    An existing file, or a folder holding an earlier bundle, is replaced only with
    ``overwrite``; the model being exported is never replaced.
    """
    say = on_stage or (lambda text: None)
    if fmt not in FORMATS:
        raise ExportError(f"unknown export format {fmt!r} (choose {', '.join(FORMATS)})")
    if fmt == "onnx" and not onnx_available():
        raise ExportError(f"ONNX export needs the onnx and onnxscript packages: {INSTALL_HINT}")
    target = export_target(fmt, out)
    too_long = path_too_long(target if fmt == "bundle" else target.parent, "export folder")
    if too_long:  # before the model is loaded: bad input is named first
        raise ExportError(too_long)
    _refuse_replacing(model_path, fmt, target, overwrite)
    ckpt = load_checkpoint(model_path)
    model = model_from_checkpoint(ckpt, "cpu")
    target = _bundle_target(target, overwrite) if fmt == "bundle" else _file_target(target, SUFFIXES[fmt])
    say(f"Exporting {ckpt['architecture']} to {fmt}")
    if fmt == "torchscript":
        diff, checks = export_torchscript(model, ckpt, target)
        return ExportResult(fmt, str(target), diff, checks, [str(target)])
    if fmt == "onnx":
        diff, checks = export_onnx(model, ckpt, target)
        return ExportResult(fmt, str(target), diff, checks, [str(target)])
    diff, checks, files = export_bundle(model, ckpt, target)
    return ExportResult(fmt, str(target), diff, checks, files)


def export_target(fmt: str, out: str | os.PathLike) -> Path:
    """The file (or bundle folder) an export of ``fmt`` to ``out`` writes."""
    path = Path(out).expanduser().absolute()
    if fmt != "bundle" and path.is_dir():
        path = path / f"model{SUFFIXES[fmt]}"
    return path


def existing_export(fmt: str, out: str | os.PathLike) -> Path | None:
    """What an export to ``out`` would replace (a file, or a non-empty folder), else None."""
    target = export_target(fmt, out)
    if fmt == "bundle":  # only an earlier bundle can be replaced; other folders are refused
        return target if _holds_bundle(target) else None
    return target if target.exists() else None


def _holds_bundle(folder: Path) -> bool:
    return folder.is_dir() and all((folder / name).exists() for name in ("labels.json", "predict.py"))


def _written_files(fmt: str, target: Path) -> list[Path]:
    return [target / name for name in BUNDLE_FILES] if fmt == "bundle" else [target]


def _refuse_replacing(model_path, fmt: str, target: Path, overwrite: bool) -> None:
    source = Path(model_path).expanduser()
    for path in _written_files(fmt, target):
        if path.exists() and source.exists() and os.path.samefile(path, source):
            raise ExportError(f"{path} is the model being exported: choose another output path")
    if overwrite:
        return
    if fmt != "bundle" and target.exists():
        raise ExportError(f"{target} already exists; choose another name, or pass --overwrite to replace it")
    if fmt == "bundle" and _holds_bundle(target):
        raise ExportError(
            f"bundle output folder {target} holds an earlier bundle; choose a new or empty folder, "
            "or pass --overwrite to replace it"
        )


def _probe_folder(folder: Path) -> None:
    problem = path_too_long(folder, "export folder")
    if problem:
        raise ExportError(problem)
    problem = writable_folder_problem(folder)
    if problem:
        raise ExportError(f"cannot write to {folder}: {problem}")


def _file_target(out: str | os.PathLike, suffix: str) -> Path:
    path = Path(out).expanduser().absolute()
    if path.is_dir():
        path = path / f"model{suffix}"
    if path.parent.exists() and not path.parent.is_dir():
        raise ExportError(f"cannot write to {path}: {path.parent} is a file, not a folder")
    _probe_folder(path.parent)
    return path


def _bundle_target(out: str | os.PathLike, overwrite: bool = False) -> Path:
    path = Path(out).expanduser().absolute()
    if path.exists() and not path.is_dir():
        raise ExportError(f"bundle output {path} exists and is not a folder")
    if path.is_dir():
        try:
            entries = {p.name for p in path.iterdir()}
        except OSError as exc:
            raise ExportError(f"cannot read folder {path}: {exc.strerror or exc}") from None
        previous_bundle = {"labels.json", "predict.py"} <= entries
        if entries and not (previous_bundle and overwrite):
            raise ExportError(f"bundle output folder {path} is not empty; choose a new or empty folder")
    _probe_folder(path)
    return path


def _example(ckpt: dict[str, Any], batch: int, seed: int) -> torch.Tensor:
    prep = Preprocessing.from_dict(ckpt["preprocessing"])
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(batch, int(ckpt.get("in_channels", prep.channels)), prep.crop, prep.crop, generator=generator)


def _metadata(ckpt: dict[str, Any]) -> dict[str, str]:
    info = {
        "architecture": ckpt["architecture"],
        "created": ckpt.get("created", ""),
        "in_channels": int(ckpt.get("in_channels", 3)),
        "source": {k: v for k, v in dict(ckpt.get("source", {})).items() if isinstance(v, (str, int, float, type(None)))},
        "input": ("normalised float tensor (N, C, crop, crop): channels chosen (channel_select), raw values mapped "
                  "from intensity.low..high to 0-255, resized and cropped, /255, minus mean, divided by std; "
                  "see preprocessing.json"),
        "output": "logits (N, classes); softmax gives probabilities",
    }
    return {
        "labels.json": json.dumps(list(ckpt["classes"])),
        "preprocessing.json": json.dumps(ckpt["preprocessing"]),
        "tlgui.json": json.dumps(info),
    }


def _compare(eager: nn.Module, run: Callable[[torch.Tensor], Any], x: torch.Tensor, what: str) -> float:
    with torch.no_grad():
        expected = eager(x).float()
        got = torch.as_tensor(run(x)).float()
    if got.shape != expected.shape:
        raise ExportError(f"the {what} gives outputs of shape {tuple(got.shape)}, expected {tuple(expected.shape)}")
    diff = float((got - expected).abs().max())
    scale = max(1.0, float(expected.abs().max()))
    if not diff <= _HARD_LIMIT * scale:
        raise ExportError(f"the {what} does not reproduce the model (max difference {diff:.3g}); please report this")
    return diff


def _to_torchscript(model: nn.Module, ckpt: dict[str, Any]) -> torch.jit.ScriptModule:
    model = model.eval()
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # torch.jit's deprecation notice; it still works
        try:
            scripted = torch.jit.trace(model, _example(ckpt, 2, 0), check_trace=False)
            _compare(model, scripted, _example(ckpt, 3, 1), "traced TorchScript model")
            return scripted
        except Exception as trace_error:  # noqa: BLE001 - try scripting before giving up
            try:
                return torch.jit.script(model)
            except Exception:  # noqa: BLE001
                raise ExportError(
                    f"{ckpt['architecture']} cannot be converted to TorchScript: {_first_line(trace_error)}"
                ) from None


def export_torchscript(model: nn.Module, ckpt: dict[str, Any], path: Path) -> tuple[float, list[str]]:
    scripted = _to_torchscript(model, ckpt)
    tmp = _atomic_target(path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            # open file objects: torch's own file code fails on non-ASCII paths on Windows (pytorch#75171)
            with open(tmp, "wb") as handle:
                torch.jit.save(scripted, handle, _extra_files=_metadata(ckpt))
            with open(tmp, "rb") as handle:
                loaded = torch.jit.load(handle, map_location="cpu")
        diff = _compare(model, loaded, _example(ckpt, 3, 1), "saved TorchScript model")
        _publish(tmp, path)
    except OSError as exc:
        raise ExportError(f"cannot write {path}: {exc.strerror or exc}") from None
    finally:
        tmp.unlink(missing_ok=True)
    return diff, [f"torch.jit.load: max |difference| {diff:.2e} vs the model, batch of 3"]


def _export_onnx_file(model: nn.Module, ckpt: dict[str, Any], tmp: Path, opset: int) -> str:
    """Write the ONNX graph to ``tmp``; returns which exporter worked."""
    example = (_example(ckpt, 2, 0),)
    names = {"input_names": ["input"], "output_names": ["logits"], "opset_version": opset}
    errors = []
    try:
        from torch.export import Dim

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(
                model, example, str(tmp), dynamo=True, external_data=False,
                dynamic_shapes=({0: Dim("batch")},),
                verbose=False, **names,
            )
        return "torch.export (dynamo)"
    except Exception as exc:  # noqa: BLE001 - the classic exporter handles some models dynamo cannot
        errors.append(exc)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(
                model, example, str(tmp), dynamo=False,
                dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}}, **names,
            )
        return "TorchScript-based exporter"
    except Exception as exc:  # noqa: BLE001
        errors.append(exc)
    raise ExportError(f"{ckpt['architecture']} cannot be exported to ONNX: {_first_line(errors[0])}")


def export_onnx(model: nn.Module, ckpt: dict[str, Any], path: Path, opset: int = ONNX_OPSET) -> tuple[float, list[str]]:
    import onnx

    model = model.eval()
    tmp = _atomic_target(path)
    try:
        exporter = _export_onnx_file(model, ckpt, tmp, opset)
        proto = onnx.load(str(tmp))
        for key, value in _metadata(ckpt).items():
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

            diff = _compare(model, run, _example(ckpt, 3, 1), "ONNX model")
            checks.append(f"onnxruntime: max |difference| {diff:.2e} vs the model, batch of 3")
        else:
            diff = float("nan")
            checks.append("onnxruntime is not installed: outputs not compared (" + INSTALL_HINT + ")")
        _publish(tmp, path)
    except OSError as exc:
        raise ExportError(f"cannot write {path}: {exc.strerror or exc}") from None
    except onnx.checker.ValidationError as exc:
        raise ExportError(f"the exported ONNX model is invalid: {_first_line(exc)}") from None
    finally:
        tmp.unlink(missing_ok=True)
        Path(str(tmp) + ".data").unlink(missing_ok=True)
    return diff, checks


def _opset(proto) -> int:
    return max((o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")), default=0)


def bundle_template(name: str) -> str:
    """Text of a file shipped in ``tlgui/core/results/export_bundle`` (package data).

    A missing one means a broken installation, not an unwritable target: say so."""
    source = resources.files("tlgui.core.results").joinpath("export_bundle", name)
    try:
        return source.read_text(encoding="utf-8")
    except OSError as exc:
        raise ExportError(
            f"this tlgui installation lacks the bundle's {name} ({source}: {exc.strerror or exc}); reinstall tlgui"
        ) from None


def pixels_module_source() -> str:
    """The source of tlgui.core.base.pixels, which the bundle ships as its pixels.py: one
    implementation of reading and preprocessing for tlgui and the bundle."""
    source = resources.files("tlgui.core.base").joinpath("pixels.py")
    try:
        return source.read_text(encoding="utf-8")
    except OSError as exc:
        raise ExportError(
            f"this tlgui installation lacks pixels.py ({source}: {exc.strerror or exc}); reinstall tlgui"
        ) from None


def _channels_in_words(prep: Preprocessing) -> str:
    if prep.channel_select:
        chosen = ", ".join(str(c + 1) for c in prep.channel_select)
        return f"channels {chosen} of each {prep.source_channels}-channel image, in that order"
    if prep.source_channels and prep.source_channels not in (1, 3) or prep.channels not in (1, 3):
        return f"all {prep.source_channels or prep.channels} channels of each image"
    return "grayscale (1 channel)" if prep.channels == 1 else "RGB (3 channels)"


def _intensity_in_words(prep: Preprocessing) -> str:
    intensity = prep.intensity or {}
    mode = intensity.get("mode", "none")
    if mode in ("dataset", "fixed"):
        windows = ", ".join(f"{lo:g}..{hi:g}" for lo, hi in zip(intensity["low"], intensity["high"], strict=True))
        return (f"raw values are mapped per channel from `intensity.low`..`intensity.high` ({windows}) to 0-255 "
                "(clipped, rounded), the same for every image")
    if mode == "image":
        return "each channel is stretched from its own minimum..maximum to 0-255"
    return "8-bit values are used as they are (transparent pixels become white)"


def export_bundle(model: nn.Module, ckpt: dict[str, Any], folder: Path) -> tuple[float, list[str], list[str]]:
    readme_template, script = bundle_template("README.md"), bundle_template("predict.py")  # before any write
    pixels_source = pixels_module_source()
    diff, checks = export_torchscript(model, ckpt, folder / "model.ts")
    prep = Preprocessing.from_dict(ckpt["preprocessing"])
    classes = list(ckpt["classes"])
    shown = ", ".join(classes[:12]) + (f" ... ({len(classes)} in all)" if len(classes) > 12 else "")
    readme = string.Template(readme_template).safe_substitute(
        architecture=ckpt["architecture"],
        n_classes=len(classes),
        classes=shown,
        created=ckpt.get("created", "unknown"),
        crop=prep.crop,
        resize=prep.resize,
        channels=_channels_in_words(prep),
        intensity=_intensity_in_words(prep),
        interpolation=prep.interpolation,
    )
    try:
        atomic_write_text(folder / "labels.json", json.dumps(classes, indent=2) + "\n")
        atomic_write_text(folder / "preprocessing.json", json.dumps(prep.to_dict(), indent=2) + "\n")
        atomic_write_text(folder / "README.md", readme)
        atomic_write_text(folder / "predict.py", script)
        atomic_write_text(folder / "pixels.py", pixels_source)
    except OSError as exc:
        raise ExportError(f"cannot write to {folder}: {exc.strerror or exc}") from None
    return diff, checks, [str(folder / name) for name in BUNDLE_FILES]


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return (text.splitlines()[0] if text else type(exc).__name__)[:200]
