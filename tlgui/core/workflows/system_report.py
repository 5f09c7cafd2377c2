"""A system report for bug reports: ``tlgui doctor`` and the window's Help > Copy system report.

Versions (tlgui, Python, PyTorch, CUDA, PySide6, timm), the device that trains and why, threads
and precision, Qt's platform (read without importing Qt) and the folders in use with their sizes.
Folder sizes are counted against a time limit: a huge cache is reported as "over N".
"""

from __future__ import annotations

import os
import platform
import sys
import time
from importlib import metadata
from pathlib import Path
from typing import Any

import torch

from tlgui import __version__, paths
from tlgui.core.data.decode_cache import decode_cache_dir
from tlgui.core.library.hub_cache import hub_cache_dir
from tlgui.core.library.local import hub_checkpoints_dir
from tlgui.core.models.device import (
    cuda_problem,
    device_label,
    fallback_note,
    mps_available,
    mps_fallback_enabled,
    resolve_device,
)
from tlgui.core.training.precision import (
    cpu_has_native_bf16,
    default_num_threads,
    resolve_precision,
)
from tlgui.qt_platform_check import pyside_version, qt_platform_info

SIZE_SECONDS = 1.0  # per folder
SIZE_MAX_ENTRIES = 200_000  # per folder


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:  # the frozen app carries no package metadata
        return getattr(sys.modules.get(package), "__version__", None)


def folder_size(path: Path, seconds: float = SIZE_SECONDS, max_entries: int = SIZE_MAX_ENTRIES) -> dict[str, Any]:
    """{"path", "exists", "bytes", "files", "complete"}: "complete" is False when counting
    stopped at the time or entry limit (the size is then a lower bound). Links are not followed."""
    report: dict[str, Any] = {"path": str(path), "exists": path.is_dir(), "bytes": 0, "files": 0, "complete": True}
    if not report["exists"]:
        return report
    deadline = time.monotonic() + seconds
    stack, seen = [str(path)], 0
    while stack:
        try:
            with os.scandir(stack.pop()) as entries:
                for entry in entries:
                    seen += 1
                    if seen > max_entries or (seen % 256 == 0 and time.monotonic() > deadline):
                        report["complete"] = False
                        return report
                    try:
                        if entry.is_dir(follow_symlinks=False):
                            stack.append(entry.path)
                        elif entry.is_file(follow_symlinks=False):
                            report["bytes"] += entry.stat(follow_symlinks=False).st_size
                            report["files"] += 1
                    except OSError:
                        continue
        except OSError:
            continue
    return report


def folders() -> dict[str, Path]:
    """The folders tlgui reads and writes (TLGUI_HOME redirects the first six)."""
    return {
        "config": paths.config_dir(), "data": paths.data_dir(), "runs": paths.runs_dir(),
        "models": paths.models_dir(), "weights": paths.weights_dir(), "cache": paths.cache_dir(),
        "decoded_images": decode_cache_dir(), "torch_hub_weights": hub_checkpoints_dir(),
        "huggingface_hub": hub_cache_dir(),
    }


def _cuda() -> dict[str, Any]:
    available = torch.cuda.is_available()
    info: dict[str, Any] = {"version": torch.version.cuda, "available": available,
                            "cudnn": torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None}
    if available:
        info["devices"] = torch.cuda.device_count()
        info["arch_list"] = list(torch.cuda.get_arch_list())
    return info


def _device(device: torch.device) -> dict[str, Any]:
    info: dict[str, Any] = {"auto": device.type, "label": device_label(device)}
    if torch.cuda.is_available():
        try:
            major, minor = torch.cuda.get_device_capability(0)
            info["gpu"] = torch.cuda.get_device_name(0)
            info["capability"] = f"{major}.{minor}"
        except Exception as exc:  # noqa: BLE001 - a broken driver is what the report is for
            info["gpu"] = f"unknown ({type(exc).__name__})"
    info["mps"] = "available" if mps_available() else "not available"
    if device.type == "cuda":
        info["why"] = "a CUDA GPU that this PyTorch build supports and that passed a test operation"
    elif device.type == "mps":
        fallback = ("operations MPS lacks run on the CPU (PYTORCH_ENABLE_MPS_FALLBACK=1)" if mps_fallback_enabled()
                    else "PYTORCH_ENABLE_MPS_FALLBACK is not 1, so an operation MPS lacks stops the run")
        info["why"] = f"no usable CUDA GPU, and Apple's GPU (MPS) is available; {fallback}"
    elif torch.version.cuda is None and getattr(torch.version, "hip", None) is None:
        info["why"] = "this PyTorch is built without CUDA (a CPU-only build)"
    else:
        info["why"] = fallback_note(device) or cuda_problem() or "the CPU"
    return info


def system_report(qt_platform: str | None = None) -> dict[str, Any]:
    """Everything a bug report needs, as plain JSON-ready data. ``qt_platform``: the platform
    plugin the window runs on (``QGuiApplication.platformName()``); without it, the one Qt would start."""
    device = resolve_device("auto")  # what a run with the default --device auto uses
    return {
        "tlgui": __version__,
        "python": f"{platform.python_version()} ({sys.executable})",
        "platform": f"{platform.platform()} {platform.machine()}",
        "frozen": bool(getattr(sys, "frozen", False)),
        "torch": torch.__version__,
        "torchvision": _version("torchvision"),
        "cuda": _cuda(),
        "pyside6": pyside_version(),
        "timm": _version("timm"),
        "device": _device(device),
        "threads": {"torch": torch.get_num_threads(), "default_for_training": default_num_threads(),
                    "logical_cpus": os.cpu_count()},
        "precision": {"auto": resolve_precision("auto", device).name, "cpu_native_bf16": cpu_has_native_bf16()},
        "qt_platform": qt_platform_info(qt_platform),
        "folders": {name: folder_size(path) for name, path in folders().items()},
    }


def _size(folder: dict[str, Any]) -> str:
    if not folder["exists"]:
        return "not there"
    mb = f"{folder['bytes'] / 1e6:,.1f} MB in {folder['files']:,} files"
    return mb if folder["complete"] else f"over {mb} (stopped counting)"


def format_report(report: dict[str, Any]) -> str:
    """The report as plain text, one "key: value" per line, for a bug report or the clipboard."""
    lines = []
    for key, value in report.items():
        if key == "folders":
            lines.append("folders:")
            lines += [f"  {name}: {f['path']} ({_size(f)})" for name, f in value.items()]
        elif isinstance(value, dict):
            lines.append(f"{key}:")
            lines += [f"  {k}: {', '.join(map(str, v)) if isinstance(v, list) else v}" for k, v in value.items()]
        else:
            lines.append(f"{key}: {value}")
    return "\n".join(lines)


def system_report_text(qt_platform: str | None = None) -> str:
    """:func:`system_report` as text (Help > Copy system report puts this on the clipboard)."""
    return format_report(system_report(qt_platform))
