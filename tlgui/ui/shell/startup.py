"""Importing PyTorch off the GUI thread, so the window paints at once (torch takes ~2 s)."""

from __future__ import annotations

import sys
import time

from tlgui.workers.base import WorkerBase

HEAVY_MODULES = ("torch", "torchvision", "tlgui.core.models.zoo", "tlgui.core.training.loop")


class ImportWorker(WorkerBase):
    """Imports PyTorch and the core in the background; ``finished`` tells the GUI thread.

    A worker of :mod:`tlgui.workers.base`: it outlives a window deleted early, and the interpreter
    waits for it at exit (destroying a running QThread aborts the process). An import cannot be
    interrupted; a stop asked of it is simply not read.
    """

    def __init__(self) -> None:
        super().__init__("tlgui-import")
        self.error: BaseException | None = None
        self.details = ""
        self.seconds = 0.0
        self.gpu_name: str | None = None

    def work(self) -> None:  # runs on the worker's thread
        start = time.perf_counter()
        try:
            import importlib

            for name in HEAVY_MODULES:
                importlib.import_module(name)
            self.gpu_name = gpu_name()  # may wake the CUDA driver: keep it off the GUI thread
        except BaseException as exc:  # noqa: BLE001 - reported on the GUI thread
            import traceback

            self.error, self.details = exc, traceback.format_exc()
        self.seconds = time.perf_counter() - start


def gpu_name() -> str | None:
    """The first GPU's name when PyTorch can use one (Apple's: ``MPS_NAME``), else None."""
    try:
        import torch

        if not torch.cuda.is_available():
            from tlgui.core.models.device import MPS_NAME, mps_available

            return MPS_NAME if mps_available() else None  # a Mac's GPU
        from tlgui.core.models.device import cuda_problem

        return None if cuda_problem() else torch.cuda.get_device_name(0)  # a card this build cannot use: CPU
    except Exception:  # noqa: BLE001 - a broken driver means: CPU
        return None


def heavy_loaded() -> bool:
    return all(name in sys.modules for name in HEAVY_MODULES)
