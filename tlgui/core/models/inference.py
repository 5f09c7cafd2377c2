"""Batched forward passes over uint8 image tensors (shared by training and evaluation)."""

from __future__ import annotations

import torch
from torch import nn

from tlgui.core.base.preprocessing import Preprocessing


def autocast_for(device: torch.device):
    """bf16 autocast on CUDA (Hopper/Ampere run it natively); a no-op context on the CPU."""
    if device.type == "cuda" and torch.cuda.is_bf16_supported():
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return torch.autocast("cpu", enabled=False)


def to_model_input(batch_uint8: torch.Tensor, prep: Preprocessing, device: torch.device) -> torch.Tensor:
    x = prep.normalize(batch_uint8.to(device, non_blocking=True))
    if device.type == "cuda":
        x = x.contiguous(memory_format=torch.channels_last)
    return x


@torch.no_grad()
def batched_logits(
    model: nn.Module,
    images: torch.Tensor,
    prep: Preprocessing,
    device: torch.device,
    batch_size: int = 256,
    should_stop=None,
) -> torch.Tensor:
    """Logits (float32, on the CPU) for a uint8 (N, C, H, W) tensor, in eval mode."""
    was_training = model.training
    model.eval()
    outputs = []
    try:
        for start in range(0, len(images), batch_size):
            if should_stop is not None and should_stop():
                break
            x = to_model_input(images[start : start + batch_size], prep, device)
            with autocast_for(device):
                outputs.append(model(x).float().cpu())
    finally:
        model.train(was_training)
    if not outputs:
        return torch.empty(0, 0)
    return torch.cat(outputs)
