"""Hugging Face hub-cache layouts made in tmp_path from randomly initialised timm models."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import torch

REVISION = "0123456789abcdef0123456789abcdef01234567"


def _blob(folder: Path, data: bytes) -> Path:
    blobs = folder / "blobs"
    blobs.mkdir(parents=True, exist_ok=True)
    blob = blobs / hashlib.sha256(data).hexdigest()
    blob.write_bytes(data)
    return blob


def make_hub_model(
    cache: Path,
    model_name: str,
    tag: str = "ra_in1k",
    pretrained_cfg: dict | None = None,
    num_classes: int = 1000,
    seed: int = 0,
    weights_file: str = "model.safetensors",
) -> tuple[Path, dict[str, torch.Tensor]]:
    """``cache/models--timm--NAME.TAG`` with refs/main, snapshot files as links into blobs/.

    Returns the snapshot's weight file and the state dict saved in it.
    """
    import safetensors.torch
    import timm

    torch.manual_seed(seed)
    model = timm.create_model(model_name, pretrained=False, num_classes=num_classes)
    state = {k: v.contiguous() for k, v in model.state_dict().items()}
    folder = cache / f"models--timm--{model_name}.{tag}"
    (folder / "refs").mkdir(parents=True, exist_ok=True)
    (folder / "refs" / "main").write_text(REVISION)
    snapshot = folder / "snapshots" / REVISION
    snapshot.mkdir(parents=True, exist_ok=True)
    if weights_file.endswith(".safetensors"):
        data = safetensors.torch.save(state)
    else:
        import io

        buffer = io.BytesIO()
        torch.save(state, buffer)
        data = buffer.getvalue()
    cfg = dict(model.pretrained_cfg)
    cfg.update(pretrained_cfg or {})
    cfg = {k: v for k, v in cfg.items() if isinstance(v, (int, float, str, list, tuple, type(None)))}
    config = {"architecture": model_name, "num_classes": num_classes, "pretrained_cfg": cfg}
    for name, content in ((weights_file, data), ("config.json", json.dumps(config).encode())):
        blob = _blob(folder, content)
        os.symlink(os.path.relpath(blob, snapshot), snapshot / name)
    return snapshot / weights_file, state
