"""A pretrained RGB network taking N input channels: its first convolution adapted the way
timm's ``adapt_input_conv`` does it, so the pretrained filters still help.

For N channels the 3 RGB filter slices are repeated to N and scaled by 3/N; for one channel
they are summed. The invariant: an RGB image repeated as N/3 groups of channels gives the
adapted network exactly the output the original gives the RGB image.
"""

from __future__ import annotations

import math

import torch
from torch import nn


def adapt_input_weight(weight: torch.Tensor, in_channels: int) -> torch.Tensor:
    """A conv weight (O, I, kh, kw) for ``in_channels`` inputs (timm's rule; I=1 is repeated
    and scaled by 1/N)."""
    dtype, weight = weight.dtype, weight.float()
    have = weight.shape[1]
    if in_channels == have:
        return weight.to(dtype)
    if in_channels == 1:
        if have > 3 and have % 3 == 0:
            out = weight.reshape(weight.shape[0], have // 3, 3, *weight.shape[2:]).sum(dim=2)
        else:
            out = weight.sum(dim=1, keepdim=True)
    elif have in (1, 3):
        repeat = math.ceil(in_channels / have)
        out = weight.repeat(1, repeat, 1, 1)[:, :in_channels] * (have / float(in_channels))
    else:
        raise ValueError(f"cannot adapt a first convolution of {have} input channels to {in_channels}")
    return out.to(dtype)


def first_conv_path(model: nn.Module) -> str | None:
    """Dotted path of the first convolution the input meets (the first Conv2d registered)."""
    found = _first_conv(model)
    return found[0] if found is not None else None


def _first_conv(model: nn.Module) -> tuple[str, nn.Conv2d] | None:
    for path, module in model.named_modules():
        if isinstance(module, nn.Conv2d):
            return path, module
    return None


def _pair(values: tuple[int, ...]) -> tuple[int, int]:
    """A Conv2d's stored (height, width) setting, as its constructor takes it."""
    return values[0], values[1]


def set_input_channels(model: nn.Module, in_channels: int) -> nn.Module:
    """Replace the first convolution by one taking ``in_channels`` inputs, weights adapted."""
    found = _first_conv(model)
    if found is None:
        raise ValueError("the model has no convolution to take the input")
    path, old = found
    if old.in_channels == in_channels:
        return model
    if old.groups != 1:
        raise ValueError(f"cannot adapt a grouped first convolution ({path}) to {in_channels} channels")
    padding = old.padding if isinstance(old.padding, str) else _pair(old.padding)
    new = nn.Conv2d(in_channels, old.out_channels, _pair(old.kernel_size), _pair(old.stride), padding,
                    _pair(old.dilation), bias=old.bias is not None, padding_mode=old.padding_mode,
                    device=old.weight.device, dtype=old.weight.dtype)
    if old.weight.device.type != "meta":
        with torch.no_grad():
            new.weight.copy_(adapt_input_weight(old.weight, in_channels))
            if old.bias is not None and new.bias is not None:
                new.bias.copy_(old.bias)
    parent, _, name = path.rpartition(".")
    setattr(model.get_submodule(parent) if parent else model, name, new)
    return model


def adapt_state_for_input(
    state: dict[str, torch.Tensor], model: nn.Module
) -> tuple[dict[str, torch.Tensor], str | None]:
    """``state`` with its first-convolution weight adapted to ``model``'s input channels when
    they differ (pretrained RGB weights into an N-channel model); and a sentence saying so."""
    found = _first_conv(model)
    if found is None or f"{found[0]}.weight" not in state:
        return state, None
    path, conv = found
    key, target = f"{path}.weight", conv.weight
    value = state[key]
    if value.ndim != 4 or value.shape[1] == target.shape[1] or value.shape[0] != target.shape[0] \
            or value.shape[2:] != target.shape[2:]:
        return state, None
    adapted = dict(state)
    adapted[key] = adapt_input_weight(value, int(target.shape[1]))
    return adapted, (f"first convolution ({path}) adapted from {value.shape[1]} to {target.shape[1]} input channels: "
                     "the pretrained filters repeated and scaled, as timm does")
