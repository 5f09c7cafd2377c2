"""Is ``tlgui rank`` cheaper than training each candidate head-only? Wall time of one rank of N
candidates (fresh feature cache) against ``tlgui train --freeze backbone`` of each (each in its
own fresh cache), in this process (imports, CPU kernels and weight files warmed up before
either by an untimed rank on other images), medians over repeats.

Settings:

* ``smallcnn``: Fashion-MNIST classes 5-9, 20 images per class, 28 px; four smallcnns (random
  weights and three pretrained on classes 0-4 for 1, 2 and 3 epochs of 1,000 images).
* ``resnet``: Fashion-MNIST classes 5-9, 60 images per class (300) at ``--image-size`` (112);
  four resnet18-class backbones with random weights saved as real files where they live: the
  torch hub cache (named with its own checksum, as torchvision names its files; ``--weights
  default``), a torchvision file
  elsewhere, a timm resnet18 in the Hugging Face hub layout and a timm file beside its config.

    python benchmarks/bench_rank_speed.py --setting smallcnn|resnet [--repeats 3] [--image-size 112]

Needs Fashion-MNIST (apt-get install dataset-fashion-mnist). Nothing is asserted.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import statistics
import sys
import tempfile
import time

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from bench_timm import cli, make_target, save_hub_snapshot, save_random_init  # noqa: E402 (beside this script)
from fashion_split import SOURCE, load_fashion, write_idx  # noqa: E402


def smallcnn_candidates(root: str) -> list[tuple[str, str]]:
    folder = os.path.join(root, "source")
    os.makedirs(folder)
    x, y, _ = load_fashion("train")
    keep = np.isin(y, SOURCE)
    write_idx(os.path.join(folder, "train-images-idx3-ubyte"), x[keep][:2000])
    write_idx(os.path.join(folder, "train-labels-idx1-ubyte"), y[keep][:2000])
    out = [("smallcnn", "none")]
    for epochs in (1, 2, 3):
        run = os.path.join(root, f"src{epochs}")
        cli(["train", "--data", folder, "--model", "smallcnn", "--epochs", str(epochs), "--max-train-images", "1000",
             "--batch-size", "64", "--lr", "0.003", "--seed", "0", "--out", run])
        out.append(("smallcnn", os.path.join(run, "model.pt")))
    return out


def resnet_candidates(root: str) -> list[tuple[str, str]]:
    import timm
    import torchvision

    hub = os.path.join(root, "torch-home", "hub", "checkpoints")
    os.makedirs(hub)
    os.environ["TORCH_HOME"] = os.path.join(root, "torch-home")
    os.environ["HF_HUB_CACHE"] = os.path.join(root, "hf", "hub")
    torch.manual_seed(0)
    staging = os.path.join(root, "resnet18.pth")
    torch.save(torchvision.models.resnet18().state_dict(), staging)
    with open(staging, "rb") as handle:
        name = f"resnet18-{hashlib.sha256(handle.read()).hexdigest()[:8]}.pth"
    os.rename(staging, os.path.join(hub, name))  # ours is "the" file: its name carries its checksum
    torchvision.models.ResNet18_Weights.IMAGENET1K_V1.value.url = f"https://download.pytorch.org/models/{name}"
    torch.manual_seed(1)
    other = os.path.join(root, "resnet18-other.pth")
    torch.save(torchvision.models.resnet18().state_dict(), other)
    torch.manual_seed(2)
    snapshot = save_hub_snapshot(os.environ["HF_HUB_CACHE"], "resnet18", timm.create_model("resnet18", num_classes=5))
    loose = save_random_init(os.path.join(root, "timm-file"), "resnet18")
    return [("resnet18", "default"), ("resnet18", other), ("timm:resnet18", snapshot), ("timm:resnet18", loose)]


def one_repeat(root: str, candidates, labels: int, size: list[str], seed: int) -> tuple[float, float]:
    target = os.path.join(root, f"target-{seed}")
    make_target(target, labels, seed)
    models = ",".join(f"{m}={w}" for m, w in candidates)
    os.environ["TLGUI_HOME"] = os.path.join(root, f"home-rank-{seed}")  # a fresh feature cache
    start = time.perf_counter()
    cli(["rank", "--data", target, "--models", models, "--json", *size])
    rank_seconds = time.perf_counter() - start
    train_seconds = 0.0
    for i, (model, weights) in enumerate(candidates):
        os.environ["TLGUI_HOME"] = os.path.join(root, f"home-train-{seed}-{i}")  # fresh: nothing to reuse
        start = time.perf_counter()
        cli(["train", "--data", target, "--model", model, "--weights", weights, "--freeze", "backbone",
             "--epochs", "5", "--seed", "0", "--out", os.path.join(root, f"run-{seed}-{i}"), *size])
        train_seconds += time.perf_counter() - start
    print(f"repeat {seed}: rank {rank_seconds:.1f} s, head-only runs {train_seconds:.1f} s, "
          f"ratio {rank_seconds / train_seconds:.2f}", flush=True)
    return rank_seconds, train_seconds


def warm_up(root: str, candidates, size: list[str]) -> None:
    """One untimed rank on other images first: the first pass of each architecture at a size
    builds its CPU kernels and reads its weight files from disk, which whichever job ran first
    would otherwise pay alone (the rank, in every first repeat)."""
    target = os.path.join(root, "warm-up")
    make_target(target, 10, 99)
    os.environ["TLGUI_HOME"] = os.path.join(root, "home-warm-up")
    cli(["rank", "--data", target, "--models", ",".join(f"{m}={w}" for m, w in candidates), "--json", *size])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--setting", choices=("smallcnn", "resnet"), default="smallcnn")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--image-size", type=int, default=112, help="with --setting resnet")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as root:
        os.environ["TLGUI_HOME"] = os.path.join(root, "home-source")
        if args.setting == "smallcnn":
            candidates, labels, size = smallcnn_candidates(root), 20, []
        else:
            candidates, labels, size = resnet_candidates(root), 60, ["--image-size", str(args.image_size)]
        warm_up(root, candidates, size)
        rows = [one_repeat(root, candidates, labels, size, seed) for seed in range(args.repeats)]
    rank_s = statistics.median(r[0] for r in rows)
    train_s = statistics.median(r[1] for r in rows)
    ratio = statistics.median(r[0] / r[1] for r in rows)
    print(f"{args.setting}: {len(candidates)} candidates, {labels * 5} images, {args.repeats} repeat(s); medians: "
          f"rank {rank_s:.1f} s, training each head-only (5 epochs) {train_s:.1f} s, ratio {ratio:.2f}")


if __name__ == "__main__":
    main()
