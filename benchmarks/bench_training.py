"""Training throughput of tlgui's loop relative to a plain PyTorch loop, same model and data.

    python benchmarks/bench_training.py [--model smallcnn] [--images 4096] [--epochs 3] [--repeats 3]

Prints images/second for both and the ratio tlgui / plain (1.0 = no overhead). Both runs use
the same in-memory uint8 data, batch size, optimizer, seed and thread count. The median of
``--repeats`` alternating runs is reported, because machines here are shared and noisy.
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
from PIL import Image


def make_folder(root: str, images: int, classes: int, size: int) -> None:
    rng = np.random.default_rng(0)
    for c in range(classes):
        os.makedirs(os.path.join(root, f"c{c}"), exist_ok=True)
    for i in range(images):
        c = i % classes
        arr = (rng.random((size, size)) * 60 + c * (180 / classes)).astype(np.uint8)
        Image.fromarray(arr, "L").save(os.path.join(root, f"c{c}", f"{i}.png"))


def plain_pytorch(x_uint8, y, vx, vy, model_name: str, classes: int, epochs: int, batch: int,
                  device: str = "cpu") -> float:
    """The loop a user would write by hand (train, then validate each epoch); images/second.

    On CUDA it uses what tlgui uses there (bf16 autocast, channels_last), so the ratio
    measures tlgui's overhead, not a difference in numerics."""
    from tlgui.core.models.zoo import build_model

    torch.manual_seed(0)
    dev = torch.device(device)
    cuda = dev.type == "cuda"
    x_uint8, y, vx, vy = x_uint8.to(dev), y.to(dev), vx.to(dev), vy.to(dev)
    model = build_model(model_name, classes, in_channels=x_uint8.shape[1]).to(dev)
    if cuda:
        model = model.to(memory_format=torch.channels_last)
    autocast = torch.autocast("cuda", dtype=torch.bfloat16, enabled=cuda)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    lossf = torch.nn.CrossEntropyLoss()
    model.train()
    start = time.perf_counter()
    seen = 0
    for _ in range(epochs):
        order = torch.randperm(len(y), device=dev)
        for s in range(0, len(y), batch):
            idx = order[s : s + batch]
            xb = (x_uint8[idx].float() / 255 - 0.5) / 0.5
            with autocast:
                loss = lossf(model(xb).float(), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            seen += len(idx)
        model.eval()
        with torch.no_grad():
            correct = 0
            for s in range(0, len(vy), 256):
                xb = (vx[s : s + 256].float() / 255 - 0.5) / 0.5
                with autocast:
                    correct += int((model(xb).argmax(1) == vy[s : s + 256]).sum())
        model.train()
    if cuda:
        torch.cuda.synchronize()
    return seen / (time.perf_counter() - start)


def tlgui_loop(folder: str, model_name: str, epochs: int, batch: int, out: str, device: str = "cpu") -> float:
    from tlgui.core.base.config import TrainConfig
    from tlgui.core.training.loop import train

    config = TrainConfig(data=folder, model=model_name, epochs=epochs, batch_size=batch, lr=1e-3,
                         optimizer="adam", schedule="constant", out=out, val_split=0.2, device=device)
    result = train(config, overwrite=True)
    return result.summary["images_per_second"]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="smallcnn")
    parser.add_argument("--images", type=int, default=4096)
    parser.add_argument("--classes", type=int, default=4)
    parser.add_argument("--size", type=int, default=28)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    parser.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)

    from tlgui.core.data.catalog import open_source
    from tlgui.core.data.decode import decode_to_tensor
    from tlgui.core.data.split import stratified_split
    from tlgui.core.models.zoo import default_preprocessing

    with tempfile.TemporaryDirectory() as tmp:
        os.environ.setdefault("TLGUI_HOME", os.path.join(tmp, "home"))
        folder = os.path.join(tmp, "data")
        make_folder(folder, args.images, args.classes, args.size)
        images = open_source(folder)
        train_idx, val_idx = stratified_split(images.labels, 0.2, 0)
        prep = default_preprocessing(args.model, image_size=args.size)
        x, y, _ = decode_to_tensor(images, train_idx, prep)
        vx, vy, _ = decode_to_tensor(images, val_idx, prep)

        plain, ours = [], []
        for r in range(args.repeats):  # alternate so drifting machine load hits both alike
            plain.append(plain_pytorch(x, y, vx, vy, args.model, args.classes, args.epochs, args.batch, args.device))
            ours.append(tlgui_loop(folder, args.model, args.epochs, args.batch, os.path.join(tmp, f"run{r}"),
                                   args.device))
        p, o = statistics.median(plain), statistics.median(ours)
        print(f"model {args.model}, {len(y)} training images of {args.size}px, {args.epochs} epochs, "
              f"batch {args.batch}, device {args.device}, threads {torch.get_num_threads()}")
        print(f"plain PyTorch : {p:8.0f} images/s  (runs: {', '.join(f'{v:.0f}' for v in plain)})")
        print(f"tlgui train   : {o:8.0f} images/s  (runs: {', '.join(f'{v:.0f}' for v in ours)})")
        print(f"ratio tlgui/plain: {o / p:.2f}  (both validate every epoch; tlgui also writes checkpoints)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
