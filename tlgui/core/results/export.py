"""Export a tlgui model.pt for use without tlgui: torch.export (.pt2), TorchScript (deprecated by
PyTorch), ONNX, or a bundle folder (the model as .pt2 and .ts + labels + preprocessing + a
stand-alone ``predict.py``).

One module per file format (export_pt2, export_torchscript, export_onnx), registered below in one
line each; this module picks the target, guards what may be replaced, and builds the bundle.
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
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import torch
from torch import nn

from tlgui.core.base.files import atomic_write_text, path_too_long, writable_folder_problem
from tlgui.core.base.preprocessing import Preprocessing
from tlgui.core.models.checkpoint import load_checkpoint, model_from_checkpoint
from tlgui.core.results.export_common import TOLERANCE, ExportError
from tlgui.core.results.export_onnx import INSTALL_HINT, export_onnx, onnx_available
from tlgui.core.results.export_pt2 import SUFFIX as SUFFIX_PT2
from tlgui.core.results.export_pt2 import export_pt2
from tlgui.core.results.export_torchscript import export_torchscript

Exporter = Callable[[nn.Module, dict[str, Any], Path], tuple[float, list[str]]]


FileFormat = Literal["pt2", "torchscript", "onnx"]  # a new file format: its word here and its line below


ExportFormat = Literal[FileFormat, "bundle"]


# one line per file format: its file ending and the function that writes and checks it
FILE_FORMATS: dict[FileFormat, tuple[str, Exporter]] = {
    "pt2": (SUFFIX_PT2, export_pt2),
    "torchscript": (".ts", export_torchscript),
    "onnx": (".onnx", export_onnx),
}


FORMATS: tuple[ExportFormat, ...] = (*FILE_FORMATS, "bundle")


SUFFIXES: dict[str, str] = {fmt: suffix for fmt, (suffix, _) in FILE_FORMATS.items()}


# the bundle's model, in the order its predict.py tries them: .pt2 where the user's torch reads it
BUNDLE_MODELS = {"model.pt2": export_pt2, "model.ts": export_torchscript}


BUNDLE_FILES = (*BUNDLE_MODELS, "labels.json", "preprocessing.json", "README.md", "predict.py", "pixels.py")


@dataclass
class ExportResult:
    format: ExportFormat
    path: str  # the file (pt2, torchscript, onnx) or folder (bundle) written
    max_abs_diff: float  # exported vs eager logits on the check inputs
    checks: list[str] = field(default_factory=list)  # what was verified, in words
    files: list[str] = field(default_factory=list)

    @property
    def faithful(self) -> bool:
        return self.max_abs_diff <= TOLERANCE


def export_model(
    model_path: str | os.PathLike,
    fmt: str,
    out: str | os.PathLike,
    on_stage: Callable[[str], None] | None = None,
    overwrite: bool = False,
) -> ExportResult:
    """Export ``model_path`` to ``fmt`` at ``out``; raises :class:`TlguiError` in plain words.

    ``out`` is a file for pt2/torchscript/onnx (an existing folder gets ``model.pt2``,
    ``model.ts`` or ``model.onnx`` inside it) and a folder for bundle. ``on_stage(text)`` reports steps.
    An existing file, or a folder holding an earlier bundle, is replaced only with
    ``overwrite``; the model being exported is never replaced.
    """
    say = on_stage or (lambda text: None)
    chosen = export_format(fmt)
    if chosen == "onnx" and not onnx_available():
        raise ExportError(f"ONNX export needs the onnx and onnxscript packages: {INSTALL_HINT}")
    target = export_target(chosen, out)
    too_long = path_too_long(target if chosen == "bundle" else target.parent, "export folder")
    if too_long:  # before the model is loaded: bad input is named first
        raise ExportError(too_long)
    _refuse_replacing(model_path, chosen, target, overwrite)
    ckpt = load_checkpoint(Path(model_path))
    model = model_from_checkpoint(ckpt, "cpu")
    target = _bundle_target(target, overwrite) if chosen == "bundle" else _file_target(target, SUFFIXES[chosen])
    say(f"Exporting {ckpt['architecture']} to {chosen}")
    if chosen == "bundle":
        diff, checks, files = export_bundle(model, ckpt, target)
        return ExportResult(chosen, str(target), diff, checks, files)
    diff, checks = FILE_FORMATS[chosen][1](model, ckpt, target)
    return ExportResult(chosen, str(target), diff, checks, [str(target)])


def export_format(name: str) -> ExportFormat:
    """``name`` as one of :data:`FORMATS`; ExportError naming the choices for any other word."""
    for known in FORMATS:
        if name == known:
            return known
    raise ExportError(f"unknown export format {name!r} (choose {', '.join(FORMATS)})")


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


def bundle_template(name: str) -> str:
    """Text of a file shipped in ``tlgui/core/results/export_bundle`` (package data).

    A missing one means a broken installation, not an unwritable target: say so."""
    source = resources.files("tlgui.core.results").joinpath("export_bundle").joinpath(name)  # one step: Python 3.10
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


def _bundle_models(model: nn.Module, ckpt: dict[str, Any], folder: Path) -> tuple[float, list[str], dict[str, str]]:
    """model.pt2 and model.ts, each where it can be made: (max |difference|, checks, {file: why not})."""
    diffs, checks, missing = [], [], {}
    for name, export in BUNDLE_MODELS.items():
        try:
            diff, lines = export(model, ckpt, folder / name)
        except ExportError as exc:
            missing[name] = str(exc)
            (folder / name).unlink(missing_ok=True)  # an earlier bundle's copy would be another model
            continue
        diffs.append(diff)
        checks += lines
    if not diffs:
        raise ExportError(next(iter(missing.values())))
    checks += [f"{name} left out: {why}" for name, why in missing.items()]
    return max(diffs), checks, missing


def _model_files_in_words(missing: dict[str, str]) -> tuple[str, str]:
    """The README's table rows for the model files and the sentence saying which predict.py loads."""
    rows = {
        "model.pt2": "| `model.pt2` | the network as a torch.export program (`torch.export.load(...).module()`) |",
        "model.ts": "| `model.ts` | the network as TorchScript (`torch.jit.load`; deprecated by PyTorch) |",
    }
    table = "\n".join(row for name, row in rows.items() if name not in missing)
    written_by = f"torch {torch.__version__.split('+')[0]}"
    if not missing:
        choice = (f"`predict.py` loads `model.pt2` with `torch.export.load` where the installed PyTorch can read it "
                  f"(it was written by {written_by}; older versions may not read it), and otherwise falls back to "
                  "`model.ts` (TorchScript, deprecated by PyTorch), saying so on stderr.")
    elif "model.ts" in missing:
        choice = (f"`predict.py` loads `model.pt2` with `torch.export.load`; it needs a PyTorch that reads it (it was "
                  f"written by {written_by}). There is no TorchScript copy: {missing['model.ts']}.")
    else:
        choice = ("`predict.py` loads `model.ts` (TorchScript, deprecated by PyTorch): this network could not be "
                  f"exported with torch.export ({missing['model.pt2']}).")
    return table, choice


def export_bundle(model: nn.Module, ckpt: dict[str, Any], folder: Path) -> tuple[float, list[str], list[str]]:
    readme_template, script = bundle_template("README.md"), bundle_template("predict.py")  # before any write
    pixels_source = pixels_module_source()
    diff, checks, missing = _bundle_models(model, ckpt, folder)
    model_rows, model_choice = _model_files_in_words(missing)
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
        model_rows=model_rows,
        model_choice=model_choice,
    )
    try:
        atomic_write_text(folder / "labels.json", json.dumps(classes, indent=2) + "\n")
        atomic_write_text(folder / "preprocessing.json", json.dumps(prep.to_dict(), indent=2) + "\n")
        atomic_write_text(folder / "README.md", readme)
        atomic_write_text(folder / "predict.py", script)
        atomic_write_text(folder / "pixels.py", pixels_source)
    except OSError as exc:
        raise ExportError(f"cannot write to {folder}: {exc.strerror or exc}") from None
    return diff, checks, [str(folder / name) for name in BUNDLE_FILES if name not in missing]
