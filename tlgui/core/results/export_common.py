"""What every export format shares: its error, its check against the eager model, the example
inputs it is traced and checked with, and the metadata it carries (classes, preprocessing and
the intensity rules for lab images) so that a file alone says how to feed it.

One module per format (export.py: TorchScript, ONNX, the bundle; export_pt2.py: torch.export)
builds on these, so a format added later checks and labels itself the same way.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from tlgui.core.base.errors import TlguiError
from tlgui.core.base.preprocessing import Preprocessing

TOLERANCE = 1e-4  # max abs difference of logits we report as a faithful export


HARD_LIMIT = 1e-2  # beyond this the export is broken, not just rounded differently


class ExportError(TlguiError):
    """The model cannot be exported to the requested format or place."""


def example_input(ckpt: dict[str, Any], batch: int, seed: int) -> torch.Tensor:
    """A normalised-looking random batch of the model's input shape (N, C, crop, crop)."""
    prep = Preprocessing.from_dict(ckpt["preprocessing"])
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(batch, int(ckpt.get("in_channels", prep.channels)), prep.crop, prep.crop, generator=generator)


def export_metadata(ckpt: dict[str, Any]) -> dict[str, str]:
    """The text files every exported model carries: labels.json, preprocessing.json, tlgui.json."""
    info = {
        "architecture": ckpt["architecture"],
        "created": ckpt.get("created", ""),
        "in_channels": int(ckpt.get("in_channels", 3)),
        "source": {
            k: v for k, v in dict(ckpt.get("source", {})).items() if isinstance(v, (str, int, float, type(None)))
        },
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


def compare_outputs(eager: nn.Module, run: Callable[[torch.Tensor], Any], x: torch.Tensor, what: str) -> float:
    """Largest |difference| between ``run(x)`` and the eager model's logits; a broken export
    (another shape, or far off) raises :class:`ExportError` naming ``what``."""
    with torch.no_grad():
        expected = eager(x).float()
        got = torch.as_tensor(run(x)).float()
    if got.shape != expected.shape:
        raise ExportError(f"the {what} gives outputs of shape {tuple(got.shape)}, expected {tuple(expected.shape)}")
    diff = float((got - expected).abs().max())
    scale = max(1.0, float(expected.abs().max()))
    if not diff <= HARD_LIMIT * scale:
        raise ExportError(f"the {what} does not reproduce the model (max difference {diff:.3g}); please report this")
    return diff


def first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return (text.splitlines()[0] if text else type(exc).__name__)[:200]
