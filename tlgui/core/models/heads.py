"""New classification heads start small: the rule of torchvision's heads and timm's ``reset_classifier``.

A fresh head's weights are drawn from U(-1/sqrt(fan_in), +1/sqrt(fan_in)) (``nn.Linear``'s own
default) and its bias is zero, so the first logits are small and the first loss is near
log(classes). timm's ``create_model(num_classes=N)`` instead runs each family's own init over the
new head: EfficientNet/MobileNet draw it from U(-1/sqrt(N), +1/sqrt(N)), +-0.71 for two classes
against +-0.028 for 1280 features; the large random head's first gradients then shake a
pretrained backbone before anything is learned (issue 21: 2.40 first-epoch loss on 2 classes).
"""

from __future__ import annotations

import math

import torch
from torch import nn


@torch.no_grad()
def init_new_head(head: nn.Module) -> None:
    """Re-initialise a freshly made head (Linear or a 1x1 Conv2d) in place; meta tensors are skipped."""
    layers = [head] if isinstance(head, (nn.Linear, nn.Conv2d)) else [
        m for m in head.modules() if isinstance(m, (nn.Linear, nn.Conv2d))]
    for layer in layers:
        if layer.weight.device.type == "meta":
            continue
        fan_in = layer.weight[0].numel()  # in_features, or in_channels * kernel area
        bound = 1.0 / math.sqrt(max(1, fan_in))
        nn.init.uniform_(layer.weight, -bound, bound)
        if layer.bias is not None:
            nn.init.zeros_(layer.bias)
