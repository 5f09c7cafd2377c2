"""Where the model looked: Grad-CAM heatmaps (captum's LayerGradCam) over the image a person
sees, with the peak in the original image's pixel coordinates.

CNNs (torchvision, timm, smallcnn): the last layer whose output is still a spatial map (more
than 1x1). timm ViTs: the last block's first norm, whose patch tokens are reshaped into their
grid (a pass-through module in the model exposes them to LayerGradCam as (N, D, h, w)).
The model input comes from :meth:`Preprocessing.load_image` (the one preprocessing); the
heatmap is mapped back through its resize and centre crop, and drawn over
:func:`tlgui.core.data.display.display_rgb` (auto-contrast per channel for lab images).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from torch import nn

from tlgui.core.base.errors import ConfigError, DataError
from tlgui.core.base.pixels import PixelError, RawImage
from tlgui.core.base.preprocessing import Preprocessing
from tlgui.core.data.display import display_rgb
from tlgui.core.models.checkpoint import model_from_checkpoint
from tlgui.core.models.device import resolve_device

# jet-like colour ramp: dark blue (cold) -> cyan -> yellow -> red (where it looked)
_RAMP = np.array([[0, 0, 128], [0, 0, 255], [0, 255, 255], [255, 255, 0], [255, 0, 0], [128, 0, 0]], np.float32)


@dataclass
class Heatmap:
    """One image explained: the class the map is for, its probability, the map in original
    pixel coordinates (H, W, 0..1), its peak [x, y] there, and the overlay picture (H, W, 3)."""

    predicted: str
    probability: float
    target: str
    cam: np.ndarray
    peak: tuple[int, int]
    overlay: np.ndarray

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        Image.fromarray(self.overlay).save(path)
        return path


class _TokenGrid(nn.Module):
    """Wraps a ViT norm layer: its patch tokens pass through ``grid`` (an identity) as a
    (N, D, h, w) map, so LayerGradCam sees a spatial layer; the output is unchanged."""

    def __init__(self, inner: nn.Module, prefix: int):
        super().__init__()
        self.inner, self.prefix, self.grid = inner, prefix, nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.inner(x)
        n, tokens, dim = x.shape
        side = int(math.isqrt(tokens - self.prefix))
        if side * side != tokens - self.prefix:
            return x  # not a square token grid: leave it alone (no map from this layer)
        head, body = x[:, : self.prefix], x[:, self.prefix :]
        grid = self.grid(body.transpose(1, 2).reshape(n, dim, side, side))
        return torch.cat([head, grid.reshape(n, dim, side * side).transpose(1, 2)], dim=1)


def _vit_last_block(model: nn.Module) -> nn.Module | None:
    """A ViT's last transformer block (timm's ``blocks[-1]``, with its ``norm1``); None for other models."""
    blocks = getattr(model, "blocks", None)
    if not hasattr(model, "patch_embed") or not isinstance(blocks, (nn.Sequential, nn.ModuleList)) or not len(blocks):
        return None
    block = blocks[-1]
    return block if hasattr(block, "norm1") else None


def target_layer(model: nn.Module, head_path: str | None, example: torch.Tensor) -> nn.Module:
    """The layer Grad-CAM reads: for a ViT the token grid of its last block; otherwise the last
    module (in forward order, outside the head) whose output is a map larger than 1x1."""
    block = _vit_last_block(model)
    if block is not None:
        norm = block.norm1
        if not isinstance(norm, _TokenGrid):
            assert isinstance(norm, nn.Module)  # a layer norm (a block's attribute, not a tensor)
            norm = _TokenGrid(norm, int(getattr(model, "num_prefix_tokens", 1)))
            block.norm1 = norm
        return norm.grid
    fired: list[nn.Module] = []
    handles = []
    for name, module in model.named_modules():
        if not name or (head_path and (name == head_path or name.startswith(head_path + "."))):
            continue

        def hook(mod, _inputs, output, fired=fired):
            if isinstance(output, torch.Tensor) and output.dim() == 4 and output.shape[-1] * output.shape[-2] > 1:
                fired.append(mod)

        handles.append(module.register_forward_hook(hook))
    try:
        with torch.no_grad():
            model(example)
    finally:
        for handle in handles:
            handle.remove()
    if not fired:
        raise ConfigError("this model has no spatial layer to draw a heatmap from")
    return fired[-1]


def _layer_grad_cam():
    os.environ.setdefault("MPLBACKEND", "Agg")  # captum imports matplotlib; never a GUI backend
    from captum.attr import LayerGradCam

    return LayerGradCam


class Explainer:
    """A model from a tlgui checkpoint, ready to explain images one at a time (CPU or GPU)."""

    def __init__(self, checkpoint: dict[str, Any], device: str = "cpu"):
        self.classes = list(checkpoint["classes"])
        self.prep = Preprocessing.from_dict(checkpoint["preprocessing"])
        self.device = resolve_device(device)
        self.model = model_from_checkpoint(checkpoint, self.device).eval()
        example = torch.zeros(1, self.prep.channels, self.prep.crop, self.prep.crop, device=self.device)
        self.layer = target_layer(self.model, checkpoint.get("head_path"), example)
        self.cam = _layer_grad_cam()(self.model, self.layer)

    def class_index(self, name: str | None) -> int | None:
        if name is None:
            return None
        if name not in self.classes:
            raise ConfigError(f"--class {name!r}: the model knows {', '.join(self.classes)}")
        return self.classes.index(name)

    def explain(self, image: Image.Image | RawImage, target: int | None = None) -> Heatmap:
        """Grad-CAM for ``target`` (default: the predicted class). Raises PixelError when the
        model cannot take the image (channels, bit depth)."""
        x = self.prep.normalize(torch.from_numpy(self.prep.load_image(image))[None].to(self.device))
        with torch.no_grad():
            probs = torch.softmax(self.model(x).float(), 1)[0].cpu()
        predicted = int(probs.argmax())
        target = predicted if target is None else int(target)
        x.requires_grad_(True)  # frozen models: gradients must still reach the layer
        with torch.enable_grad():
            attribution = self.cam.attribute(x, target=target, relu_attributions=True)
        crop = self.prep.crop
        coarse = attribution.detach().float()
        cam = torch.nn.functional.interpolate(coarse, size=(crop, crop), mode="bilinear",
                                              align_corners=False)[0, 0].cpu().numpy()
        top = float(cam.max())
        cam = cam / top if top > 0 else np.zeros_like(cam)
        original = to_original(cam, image.size, self.prep)
        peak = peak_in_original(coarse[0, 0].cpu().numpy(), image.size, self.prep)
        overlay = draw_overlay(display_rgb(image), original)
        return Heatmap(self.classes[predicted], float(probs[predicted]), self.classes[target], original, peak, overlay)


def peak_in_original(coarse: np.ndarray, size: tuple[int, int], prep: Preprocessing) -> tuple[int, int]:
    """The map's peak [x, y] in original pixels: the strongest cell of the layer's own map,
    refined by the weighted centre of its 3x3 neighbourhood (sub-cell), then mapped through
    the crop and the resize (a 7x7 map's upsampled argmax would sit on a cell edge)."""
    h, w = coarse.shape
    cell_row, cell_col = (int(i) for i in np.unravel_index(int(np.argmax(coarse)), coarse.shape))
    rows = slice(max(0, cell_row - 1), min(h, cell_row + 2))
    cols = slice(max(0, cell_col - 1), min(w, cell_col + 2))
    patch = np.clip(coarse[rows, cols], 0, None)
    row, col = float(cell_row), float(cell_col)
    if patch.sum() > 0:
        yy, xx = np.mgrid[rows, cols]
        row, col = float((yy * patch).sum() / patch.sum()), float((xx * patch).sum() / patch.sum())
    new_w, new_h, left, top, crop_w, crop_h = crop_box(size, prep)
    x = ((col + 0.5) * crop_w / w + left) * size[0] / new_w - 0.5
    y = ((row + 0.5) * crop_h / h + top) * size[1] / new_h - 0.5
    return int(np.clip(round(x), 0, size[0] - 1)), int(np.clip(round(y), 0, size[1] - 1))


def crop_box(size: tuple[int, int], prep: Preprocessing) -> tuple[int, int, int, int, int, int]:
    """Where the model's crop lies: (resized width, height, left, top, crop, crop), as
    :func:`tlgui.core.base.pixels._fit` makes it (shorter side to ``resize``, centred crop)."""
    width, height = size
    crop, resize = prep.crop, prep.resize
    if (width, height) == (crop, crop) and resize == crop:
        return width, height, 0, 0, crop, crop
    scale = resize / min(width, height)
    new_w, new_h = max(1, round(width * scale)), max(1, round(height * scale))
    return new_w, new_h, (new_w - crop) // 2, (new_h - crop) // 2, crop, crop


def to_original(cam: np.ndarray, size: tuple[int, int], prep: Preprocessing) -> np.ndarray:
    """A map over the model's crop -> the same map over the original image (H, W); zero
    outside the crop (the model never saw it)."""
    new_w, new_h, left, top, crop_w, crop_h = crop_box(size, prep)
    canvas = np.zeros((new_h, new_w), dtype=np.float32)
    region = canvas[max(0, top): top + crop_h, max(0, left): left + crop_w]
    region[...] = cam[max(0, -top): max(0, -top) + region.shape[0], max(0, -left): max(0, -left) + region.shape[1]]
    if (new_w, new_h) == tuple(size):
        return canvas
    return np.asarray(Image.fromarray(canvas, "F").resize((size[0], size[1]), Image.Resampling.BILINEAR))


def colour_ramp(values: np.ndarray) -> np.ndarray:
    """0..1 -> uint8 RGB along the heat ramp."""
    position = np.clip(values, 0, 1) * (len(_RAMP) - 1)
    low = np.floor(position).astype(np.int64).clip(0, len(_RAMP) - 2)
    frac = (position - low)[..., None]
    return (_RAMP[low] * (1 - frac) + _RAMP[low + 1] * frac).astype(np.uint8)


def draw_overlay(picture: np.ndarray, cam: np.ndarray, strength: float = 0.55) -> np.ndarray:
    """The heatmap over the picture: stronger colour where the map is high."""
    alpha = (strength * np.sqrt(np.clip(cam, 0, 1)))[..., None]
    blended = picture.astype(np.float32) * (1 - alpha) + colour_ramp(cam).astype(np.float32) * alpha
    return (blended + 0.5).clip(0, 255).astype(np.uint8)


_IMAGE_ERRORS = (
    DataError, PixelError, OSError, ValueError, SyntaxError, EOFError, MemoryError, Image.DecompressionBombError,
)


def explain_files(model_path: str, paths: list[str], out: str | Path, class_name: str | None = None,
                  device: str = "cpu") -> tuple[list[dict[str, Any]], list[tuple[str, str]]]:
    """Explain every image file under ``paths``, writing ``OUT/<name>_heatmap.png`` each:
    (one JSON-ready row per image, (path, reason) for each image the model cannot take)."""
    from tlgui.core.data.sources import ImageTooLarge, image_error_reason, load_image_file
    from tlgui.core.models.checkpoint import load_checkpoint
    from tlgui.core.results.predict import collect_image_files

    explainer = Explainer(load_checkpoint(model_path), device)
    target = explainer.class_index(class_name)
    files, problems = collect_image_files(paths)
    out = Path(out).expanduser()
    out.mkdir(parents=True, exist_ok=True)
    rows, used = [], set()
    for path in files:
        try:
            image = load_image_file(path, explainer.prep.stack)
        except (*_IMAGE_ERRORS, ImageTooLarge) as exc:  # one image that cannot be read: say why, go on
            problems.append((path, str(exc) if isinstance(exc, DataError) else image_error_reason(exc)))
            continue
        try:
            heatmap = explainer.explain(image, target)
        except PixelError as exc:  # channels or bit depth the model cannot take
            problems.append((path, str(exc)))
            continue
        name = f"{Path(path).stem}_heatmap.png"
        counter = 1
        while name in used:
            counter += 1
            name = f"{Path(path).stem}_{counter}_heatmap.png"
        used.add(name)
        written = heatmap.save(out / name)
        rows.append({"path": path, "predicted": heatmap.predicted, "probability": round(heatmap.probability, 6),
                     "heatmap": str(written), "peak": list(heatmap.peak)})
    return rows, problems
