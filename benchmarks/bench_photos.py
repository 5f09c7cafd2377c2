"""Photo-like JPEGs: tlgui train against a plain PyTorch script, and big against normal photos.

    python benchmarks/bench_photos.py [--images 120] [--size 64] [--epochs 1] [--model resnet18]

Makes ``--images`` photo-like JPEGs (smooth noise + a shape per class, quality 90) twice: at
500x375 and at 4000x3000 (12 MP). Then, in the same process and run, prints wall-clock ratios:

- fine-tune everything: ``tlgui train`` / a plain script at its best (PIL draft decode, bf16
  autocast where native, channels_last);
- head only: ``tlgui train --freeze backbone`` / a plain script that runs the backbone once and
  fits a linear head on the cached features;
- 12 MP / 500 px photos through ``tlgui train``, first run (empty decode cache) and second run.

Random weights (``--weights none``): no network here, and speed does not depend on the values.
Times are wall seconds of the whole training call, decode included. Nothing is asserted.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time

import numpy as np
import torch
from PIL import Image, ImageDraw

CLASSES = 2


def make_photos(root: str, images: int, width: int, height: int) -> None:
    rng = np.random.default_rng(0)
    for c in range(CLASSES):
        os.makedirs(os.path.join(root, f"class{c}"), exist_ok=True)
    for i in range(images):
        c = i % CLASSES
        base = rng.random((height // 50 + 2, width // 50 + 2, 3)) * 255  # smooth noise, upscaled
        img = Image.fromarray(base.astype(np.uint8)).resize((width, height), Image.Resampling.BICUBIC)
        draw = ImageDraw.Draw(img)
        x, y, r = rng.integers(width // 4, 3 * width // 4), rng.integers(height // 4, 3 * height // 4), height // 5
        shape = draw.ellipse if c == 0 else draw.rectangle
        shape((x - r, y - r, x + r, y + r), fill=(230, 40 + 150 * c, 40))
        img.save(os.path.join(root, f"class{c}", f"{i}.jpg"), quality=90)


def tlgui_train(data: str, out: str, args, freeze: str = "none") -> float:
    from tlgui.cli import main

    start = time.perf_counter()
    code = main(["train", "--data", data, "--model", args.model, "--weights", "none", "--freeze", freeze,
                 "--epochs", str(args.epochs), "--image-size", str(args.size), "--out", out, "--quiet"])
    if code != 0:
        sys.exit(f"tlgui train failed with exit code {code}")
    return time.perf_counter() - start


def load_plain(data: str, size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Decode the way a careful script does: PIL draft for big JPEGs, then resize."""
    xs, ys = [], []
    for c in range(CLASSES):
        folder = os.path.join(data, f"class{c}")
        for name in sorted(os.listdir(folder)):
            with Image.open(os.path.join(folder, name)) as img:
                img.draft("RGB", (size * 2, size * 2))
                arr = np.asarray(img.convert("RGB").resize((size, size), Image.Resampling.BILINEAR))
            xs.append(torch.from_numpy(arr.copy()).permute(2, 0, 1))
            ys.append(c)
    return torch.stack(xs), torch.tensor(ys)


def plain_model(args):
    from tlgui.core.models.zoo import build_model
    from tlgui.core.training.precision import resolve_precision

    torch.manual_seed(0)
    model = build_model(args.model, CLASSES).to(memory_format=torch.channels_last)
    bf16 = resolve_precision("auto", torch.device("cpu")).name == "bf16"
    return model, torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16)


def plain_finetune(data: str, args) -> float:
    start = time.perf_counter()
    x, y = load_plain(data, args.size)
    model, autocast = plain_model(args)
    opt, lossf = torch.optim.Adam(model.parameters(), lr=1e-3), torch.nn.CrossEntropyLoss()
    cut = int(len(y) * 0.8)
    order = torch.randperm(len(y))
    train, val = order[:cut], order[cut:]
    for _ in range(args.epochs):
        model.train()
        for s in range(0, cut, 32):
            idx = train[s:s + 32]
            xb = ((x[idx].float() / 255 - 0.5) / 0.5).contiguous(memory_format=torch.channels_last)
            with autocast:
                loss = lossf(model(xb).float(), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
        model.eval()
        with torch.no_grad(), autocast:
            model(((x[val].float() / 255 - 0.5) / 0.5).contiguous(memory_format=torch.channels_last))
    return time.perf_counter() - start


def plain_head_only(data: str, args) -> float:
    """Backbone once (eval, no grad), then a linear head fitted by L-BFGS on the features."""
    from tlgui.core.models.zoo import find_head_path

    start = time.perf_counter()
    x, y = load_plain(data, args.size)
    model, autocast = plain_model(args)
    head = model.get_submodule(find_head_path(model))
    feats = []
    handle = head.register_forward_pre_hook(lambda _m, inp: feats.append(inp[0].float()))
    model.eval()
    with torch.no_grad(), autocast:
        for s in range(0, len(y), 64):
            model(((x[s:s + 64].float() / 255 - 0.5) / 0.5).contiguous(memory_format=torch.channels_last))
    handle.remove()
    f = torch.cat(feats)
    opt = torch.optim.LBFGS(head.parameters(), max_iter=100, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(head(f), y)
        loss.backward()
        return loss

    opt.step(closure)
    return time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=int, default=120)
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--model", default="resnet18")
    ap.add_argument("--repeats", type=int, default=1)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["TLGUI_HOME"] = os.path.join(tmp, "home")  # an empty decode cache, runs kept apart
        normal, big = os.path.join(tmp, "normal"), os.path.join(tmp, "big")
        t = time.perf_counter()
        make_photos(normal, args.images, 500, 375)
        make_photos(big, args.images, 4000, 3000)
        print(f"made {2 * args.images} JPEGs in {time.perf_counter() - t:.0f} s; threads {torch.get_num_threads()}")
        run = iter(range(10**6))
        out = lambda: os.path.join(tmp, "runs", str(next(run)))  # noqa: E731
        rows: dict[str, list[float]] = {}
        for _ in range(args.repeats):  # alternate tlgui and plain; the first tlgui run fills the cache
            rows.setdefault("big, first run", []).append(tlgui_train(big, out(), args))
            rows.setdefault("big, second run", []).append(tlgui_train(big, out(), args))
            rows.setdefault("normal, first run", []).append(tlgui_train(normal, out(), args))
            rows.setdefault("plain fine-tune", []).append(plain_finetune(normal, args))
            rows.setdefault("tlgui fine-tune", []).append(tlgui_train(normal, out(), args))
            rows.setdefault("plain head-only", []).append(plain_head_only(normal, args))
            rows.setdefault("tlgui head-only", []).append(tlgui_train(normal, out(), args, "backbone"))
        med = {k: statistics.median(v) for k, v in rows.items()}
        for name, value in med.items():
            print(f"{name:>20}: {value:6.1f} s")
        print(f"fine-tune  tlgui/plain: {med['tlgui fine-tune'] / med['plain fine-tune']:.2f}x")
        print(f"head-only  tlgui/plain: {med['tlgui head-only'] / med['plain head-only']:.2f}x")
        print(f"12 MP / 500 px, first run: {med['big, first run'] / med['normal, first run']:.2f}x")
        print(f"12 MP / 500 px, second run (decode cache): {med['big, second run'] / med['tlgui fine-tune']:.2f}x")


if __name__ == "__main__":
    main()
