"""Which device a run uses, and how it is named to the user.

A GPU that ``torch.cuda.is_available()`` reports may still be unusable: PyPI's newest CUDA wheels
carry kernels only for recent cards, and an older card then fails on the first real operation,
deep inside a run. So before CUDA is used, the card's compute capability is checked against
``torch.cuda.get_arch_list()`` and one tiny operation is run; ``auto`` falls back to the CPU
with one plain line when either fails. An explicit ``cuda`` stops with that line instead (the
user asked for the GPU: a torchrun job on NCCL, or a job sized for a GPU, should not crawl on
the CPU unnoticed).

On a Mac, ``auto`` uses Apple's GPU (MPS) where ``torch.backends.mps.is_available()`` and no CUDA
GPU is usable. MPS lacks some operations; with ``PYTORCH_ENABLE_MPS_FALLBACK=1`` (set by
``tlgui/torch_first.py`` on macOS before torch is imported, unless the user set it) they run on
the CPU instead of failing, and the device's label says so.
"""

from __future__ import annotations

import os
import re
import threading

import torch

from tlgui.core.base.errors import ConfigError

# GPU index -> (why it is unusable, the same in a few words) or None when usable; one check per process
_checked: dict[int, tuple[str, str] | None] = {}
_lock = threading.Lock()
_ARCH = re.compile(r"^(sm|compute)_(\d+)(\d)[a-z]?$")


def arch_supports(capability: tuple[int, int], arch_list: list[str]) -> bool:
    """Whether kernels in ``arch_list`` run on a card of ``capability``: an ``sm_XY`` binary runs
    on the same major version with a minor at least Y; ``compute_XY`` PTX is compiled on load for
    any card of capability XY or newer."""
    major, minor = capability
    for entry in arch_list:
        match = _ARCH.match(entry)
        if not match:
            continue
        kind, arch = match.group(1), (int(match.group(2)), int(match.group(3)))
        if kind == "sm" and arch[0] == major and arch[1] <= minor:
            return True
        if kind == "compute" and arch <= (major, minor):
            return True
    return False


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text.splitlines()[0]}" if text else type(exc).__name__


def _check_gpu(index: int) -> tuple[str, str] | None:
    try:
        name = torch.cuda.get_device_name(index)
        major, minor = torch.cuda.get_device_capability(index)
        arch_list = list(torch.cuda.get_arch_list())
    except Exception as exc:  # noqa: BLE001 - a broken driver or runtime: the GPU is not usable
        return f"the GPU could not be queried ({_first_line(exc)})", "the GPU could not be queried"
    if arch_list and not arch_supports((major, minor), arch_list):
        built = sorted(e for e in arch_list if e.startswith("sm_"))
        span = f"{built[0]} to {built[-1]}" if built else ", ".join(arch_list)
        return (f"the GPU {name} (compute capability {major}.{minor}) is not supported by this PyTorch "
                f"build (made for {span}); a PyTorch build for older cards would use it",
                f"{name}: compute capability {major}.{minor} is not in this PyTorch build")
    try:
        value = _first_operation(index)
    except Exception as exc:  # noqa: BLE001 - whatever CUDA raises, the GPU cannot train here
        return f"the GPU {name} failed a first test operation ({_first_line(exc)})", f"{name} failed a test operation"
    if value != 16:
        return (f"the GPU {name} computed a test operation wrongly (2 * 8 ones gave {value})",
                f"{name} failed a test operation")
    return None


def _first_operation(index: int) -> float:
    return (torch.ones(8, device=f"cuda:{index}") * 2).sum().item()


def cuda_problem(index: int = 0) -> str | None:
    """Why PyTorch cannot use CUDA GPU ``index`` here (one plain clause), or None when it can.

    Checked once per process: compute capability against the build's arch list, then one tiny
    operation on the card."""
    if not torch.cuda.is_available():
        return "no CUDA GPU is available on this computer"
    with _lock:
        if index not in _checked:
            _checked[index] = _check_gpu(index)
        found = _checked[index]
    return found[0] if found else None


def forget_checks() -> None:
    """Check the GPUs again on the next use (tests)."""
    with _lock:
        _checked.clear()


MPS_NAME = "Apple GPU, MPS"  # what the window and the report call it (torch gives no model name)


def mps_available() -> bool:
    """Whether this PyTorch can use Apple's GPU (macOS 12.3+ on Apple silicon or an AMD GPU)."""
    backend = getattr(torch.backends, "mps", None)
    try:
        return bool(backend is not None and backend.is_available())
    except Exception:  # noqa: BLE001 - a broken Metal setup means: not usable
        return False


def mps_fallback_enabled() -> bool:
    """Whether operations MPS lacks run on the CPU (instead of stopping the run)."""
    return os.environ.get("PYTORCH_ENABLE_MPS_FALLBACK") == "1"


def resolve_device(spec: str) -> torch.device:
    """``cpu``, ``cuda``, ``mps`` or ``auto`` (a usable CUDA GPU, else Apple's GPU, else the CPU)."""
    if spec == "cpu":
        return torch.device("cpu")
    if spec == "cuda":
        problem = cuda_problem()
        if problem:
            raise ConfigError(f"--device cuda: {problem}; use --device auto or cpu to train on the CPU")
        return torch.device("cuda")
    if spec == "mps":
        if not mps_available():
            raise ConfigError("--device mps: Apple's GPU (MPS) is not available here (it needs macOS 12.3 "
                              "or later and a PyTorch built with MPS); use --device auto or cpu")
        return torch.device("mps")
    if not cuda_problem():
        return torch.device("cuda")
    return torch.device("mps" if mps_available() else "cpu")


def fallback_note(device: torch.device) -> str | None:
    """The run log's line when a GPU is present but the CPU trains because the GPU failed its
    check (None otherwise: no GPU, a usable one, or one never checked because the CPU was asked for)."""
    problem = _known_gpu_problem() if device.type == "cpu" else None
    return f"{problem[0]}; training on the CPU instead" if problem else None


def _known_gpu_problem() -> tuple[str, str] | None:
    with _lock:
        return _checked.get(0)


def device_label(device: torch.device) -> str:
    """What trains and, for the CPU, why: the status bar, the CLI's first line and summary.json."""
    if device.type == "cuda":
        return f"GPU: {torch.cuda.get_device_name(device)}"
    if device.type == "mps":
        if mps_fallback_enabled():
            return f"GPU: {MPS_NAME} (operations it lacks run on the CPU)"
        return f"GPU: {MPS_NAME} (PYTORCH_ENABLE_MPS_FALLBACK is not 1: an operation it lacks stops the run)"
    problem = _known_gpu_problem()
    if problem:
        return f"CPU (GPU not usable: {problem[1]})"
    if torch.version.cuda is None and not torch.cuda.is_available():
        return "CPU (this PyTorch is built without CUDA)"
    if not torch.cuda.is_available():
        return "CPU (no CUDA GPU found)"
    return "CPU (chosen)"
