"""Numeric precision, memory layout and thread count of a run (one choice for CLI and window).

bf16 autocast halves the work of convolutions and matrix products where the hardware does
bf16 natively (CPUs with AVX512-BF16 or AMX, Ampere and newer GPUs); without that support
PyTorch emulates it and a run becomes many times slower, so ``auto`` uses it only where native.
"""

from __future__ import annotations

import os
import platform
import subprocess
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

import torch
from torch import nn

from tlgui.core.base.config import PRECISIONS
from tlgui.core.base.events import warning

__all__ = ["PRECISIONS", "PrecisionChoice", "default_num_threads", "resolve_precision"]

_CPU_BF16_FLAGS = ("avx512_bf16", "amx_bf16")


@dataclass(frozen=True)
class PrecisionChoice:
    name: Literal["fp32", "bf16"]  # what the run uses
    autocast_dtype: torch.dtype | None  # None: plain fp32
    note: str = ""  # one line for the run log when the request could not be honoured


@lru_cache(maxsize=1)
def cpu_has_native_bf16() -> bool:
    """Whether this CPU computes bf16 in hardware (AVX512-BF16 / AMX on x86, FEAT_BF16 on Apple)."""
    return _cpu_flags_say_bf16()


def _cpu_flags_say_bf16() -> bool:
    system = platform.system()
    if system == "Linux":
        try:
            with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as handle:
                for line in handle:
                    if line.startswith(("flags", "Features")):
                        flags = set(line.split(":", 1)[1].split())
                        return any(flag in flags for flag in _CPU_BF16_FLAGS) or "bf16" in flags
        except OSError:
            return False
        return False
    if system == "Darwin":
        try:
            out = subprocess.run(["sysctl", "-n", "hw.optional.arm.FEAT_BF16"], capture_output=True,
                                 text=True, encoding="utf-8", errors="replace", timeout=2, check=False).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            return False
        return out == "1"
    return False  # Windows: no cheap reliable check; fp32 is the safe answer


def gpu_has_bf16(device: torch.device) -> bool:
    return device.type == "cuda" and torch.cuda.is_bf16_supported()


def resolve_precision(spec: str, device: torch.device) -> PrecisionChoice:
    """``auto``: bf16 where the device does it natively, else fp32. ``bf16`` on a device
    without native support falls back to fp32 with a note (emulated bf16 is many times slower)."""
    native = gpu_has_bf16(device) if device.type == "cuda" else device.type == "cpu" and cpu_has_native_bf16()
    where = "this GPU" if device.type == "cuda" else "this CPU"
    if spec == "fp32" or (spec == "auto" and not native):
        return PrecisionChoice("fp32", None)
    if spec == "bf16" and not native:
        return PrecisionChoice("fp32", None,
                               warning(f"--precision bf16: {where} has no native bf16 support; training in fp32"))
    return PrecisionChoice("bf16", torch.bfloat16)


def is_convolutional(model: nn.Module) -> bool:
    return any(isinstance(m, nn.Conv2d) for m in model.modules())


def use_channels_last(model: nn.Module) -> bool:
    """channels_last for convolutional models on every device (oneDNN and cuDNN both prefer it)."""
    if not is_convolutional(model):
        return False
    model.to(memory_format=torch.channels_last)
    return True


def default_num_threads() -> int:
    """Torch threads for training, the same in the CLI and the window.

    Measured on this project's reference machine (2-core AMD EPYC VM without SMT, shared with
    other busy processes, load 2.8-3.7; resnet18 forward+backward+Adam, batch 32 at 224 px,
    3 rounds alternating): median 19.1 s per batch with 2 threads against 20.4 s with 1. Even
    on a loaded machine the second thread helps, so the old "cores - 1, one for the GUI" rule
    only lost speed (the window redraws on a timer and needs little CPU). The choice is one
    thread per physical core (torch's own default; SMT siblings add nothing to oneDNN), capped
    at 16 where these small batches stop gaining.
    """
    physical = _physical_cores()
    return max(1, min(16, physical // _processes_on_this_machine()))


def _processes_on_this_machine() -> int:
    """torchrun's processes on this machine share its cores: one thread per core each, not
    every process one per core: on the 2-core reference machine 2 processes of 2 threads took
    68 s to train smallcnn where 2 of 1 thread took 9 s (README, torchrun section)."""
    from tlgui.core.base.errors import ConfigError
    from tlgui.core.training.distributed import from_env

    try:
        return from_env().local_world
    except ConfigError:
        return 1  # an incomplete torchrun environment is reported when training starts


def use_default_threads() -> int:
    """Set torch's intra-op threads (per thread for OpenMP) to :func:`default_num_threads`."""
    n = default_num_threads()
    torch.set_num_threads(n)
    return n


def _physical_cores() -> int:
    logical = os.cpu_count() or 1
    try:
        siblings = _smt_siblings()
    except OSError:
        siblings = 1
    return max(1, logical // max(1, siblings))


def _smt_siblings() -> int:
    path = "/sys/devices/system/cpu/cpu0/topology/thread_siblings_list"
    if not os.path.exists(path):
        return 1
    with open(path, encoding="ascii") as handle:
        text = handle.read().strip()
    count = 0
    for part in text.split(","):
        lo, _, hi = part.partition("-")
        count += (int(hi) - int(lo) + 1) if hi else 1
    return max(1, count)
