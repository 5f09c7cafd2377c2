"""Batched forward passes over uint8 image tensors (shared by training and evaluation)."""

from __future__ import annotations

import torch
from torch import nn

from tlgui.core.base.cancel import StopCheck
from tlgui.core.base.preprocessing import Preprocessing

DEVICE_DEFAULT = "device-default"  # autocast_for without a run's precision choice


def autocast_for(device: torch.device, dtype: torch.dtype | None | str = DEVICE_DEFAULT):
    """Autocast to ``dtype`` (None: plain fp32). Without a choice: bf16 on CUDA where
    supported (Hopper/Ampere run it natively), fp32 on the CPU."""
    if isinstance(dtype, str):  # DEVICE_DEFAULT, the only text it takes
        dtype = torch.bfloat16 if device.type == "cuda" and torch.cuda.is_bf16_supported() else None
    if dtype is None:
        return torch.autocast(device.type, enabled=False)
    return torch.autocast(device.type, dtype=dtype)


def to_model_input(batch_uint8: torch.Tensor, prep: Preprocessing, device: torch.device,
                   channels_last: bool | None = None) -> torch.Tensor:
    """Normalised float input; channels_last (None: on CUDA) to match a channels_last model."""
    x = prep.normalize(batch_uint8.to(device, non_blocking=True))
    if (device.type == "cuda" if channels_last is None else channels_last) and x.dim() == 4:
        x = x.contiguous(memory_format=torch.channels_last)
    return x


@torch.no_grad()
def batched_logits(
    model: nn.Module,
    images: torch.Tensor,
    prep: Preprocessing,
    device: torch.device,
    batch_size: int = 256,
    should_stop: StopCheck | None = None,
    amp_dtype: torch.dtype | None | str = DEVICE_DEFAULT,
    channels_last: bool | None = None,
) -> torch.Tensor:
    """Logits (float32, on the CPU) for a uint8 (N, C, H, W) tensor, in eval mode."""
    was_training = model.training
    model.eval()
    outputs = []
    try:
        for start in range(0, len(images), batch_size):
            if should_stop is not None and should_stop():
                break
            x = to_model_input(images[start : start + batch_size], prep, device, channels_last)
            with autocast_for(device, amp_dtype):
                outputs.append(model(x).float().cpu())
    finally:
        model.train(was_training)
    if not outputs:
        return torch.empty(0, 0)
    return torch.cat(outputs)
