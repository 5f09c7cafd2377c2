"""A timm backbone from a Hugging Face hub cache, head only and fine-tuned (issue 9's note).

    python benchmarks/bench_timm.py [--model resnet18] [--labels 10,100] [--repeats 1]
                                    [--source-images 10000] [--source-epochs 1] [--epochs 15]

No pretrained weights can be downloaded here, so a stand-in for pretraining is made on real
local data, Fashion-MNIST (/usr/share/datasets/fashion-mnist), and then used exactly as a user
would use weights copied from a machine with internet:

1. source ("pretraining"): ``timm.create_model(MODEL, num_classes=5)`` (random init, seed 0)
   trained on ``--source-images`` training images of classes 0-4 (T-shirt .. Coat, a stratified
   random sample), ``--source-epochs`` epochs of Adam 1e-3, batch 128, bf16 autocast where the
   CPU has it (as tlgui's ``--precision auto``), with tlgui's preprocessing for these weights:
   28 x 28 grey replicated to RGB, no resize (``input_size`` 28, ``crop_pct`` 1.0), Fashion-MNIST's
   mean 0.286 and std 0.353. Its accuracy on the 5,000 test images of classes 0-4 is printed;
2. the weights are saved as ``model.safetensors`` in a Hugging Face hub-cache layout in a temp
   folder (``models--timm--MODEL.fmnist04/refs/main``, ``snapshots/REV/model.safetensors`` and
   ``config.json`` with that ``pretrained_cfg``, both links into ``blobs/``), and ``HF_HUB_CACHE``
   points there, so ``--weights default`` finds them offline and takes the preprocessing from
   ``config.json``;
3. target: classes 5-9 (Sandal, Shirt, Sneaker, Bag, Ankle boot), ``--labels`` training images
   per class drawn with each repeat's seed, written as an IDX folder with the 5,000 test images
   of those classes as its test split;
4. tlgui's own CLI, in this process (``tlgui.cli.main``), everything at tlgui's defaults but
   ``--epochs`` and ``--seed`` (so 20 % of the labelled images are held out for validation, as
   for any user; batch 64; Adam; cosine schedule; precision auto):

   * head only: ``tlgui train --model timm:MODEL --weights default --freeze backbone``
     (a feature cache and an L-BFGS head fit, as tlgui does for head-only runs);
   * fine-tune: the same with ``--freeze none``;
   * from scratch: ``--weights RANDOM.safetensors --freeze none``, where RANDOM is a fresh
     ``timm.create_model(MODEL)`` (random init, seed 1) with the same ``config.json`` beside it,
     so the three differ only in their starting weights and what trains, not in preprocessing;

5. (one untimed one-epoch run first, so the first timed run does not pay the process's one-off
   set-up); each run's ``model.pt`` is scored by ``tlgui evaluate MODEL.pt --data TARGET --split test
   --json`` on the 5,000 test images; the train and evaluate wall times are measured apart.

Prints one line per run and a table of medians over ``--repeats``. Nothing is asserted. On the
quiet 2-core CPU here the defaults took 68 s of wall time and ``--repeats 3`` 161 s (the
stand-in pretraining 14 s); one run while other benchmarks oversubscribed the cores took 13.8
minutes, so compare times only from one quiet run.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import io
import json
import os
import statistics
import sys
import tempfile
import time

import numpy as np
import torch
from fashion_split import SOURCE, TARGET, load_fashion, write_idx  # noqa: E402 (beside this script)

TAG = "fmnist04"
REVISION = "b" * 40
MEAN, STD = 0.2860, 0.3530  # Fashion-MNIST training images, 0-1 scale
PRETRAINED_CFG = {"input_size": [3, 28, 28], "crop_pct": 1.0, "interpolation": "bilinear",
                  "mean": [MEAN] * 3, "std": [STD] * 3, "num_classes": len(SOURCE)}


def to_input(x: np.ndarray) -> torch.Tensor:
    """What tlgui feeds the model for PRETRAINED_CFG: grey -> 3 channels, mean/std."""
    t = torch.from_numpy(x).float().div_(255).unsqueeze(1).expand(-1, 3, -1, -1)
    return ((t - MEAN) / STD).contiguous()


def autocast():
    from tlgui.core.training.precision import cpu_has_native_bf16

    return torch.autocast("cpu", dtype=torch.bfloat16, enabled=cpu_has_native_bf16())


@torch.no_grad()
def accuracy(model, x: np.ndarray, y: np.ndarray) -> float:
    model.eval()
    with autocast():
        pred = torch.cat([model(to_input(x[s:s + 500])).argmax(1) for s in range(0, len(y), 500)])
    return float((pred.numpy() == y).mean())


def pretrain(model_name: str, images: int, epochs: int):
    """The stand-in for pretraining: a timm model trained on classes 0-4; (model, test accuracy)."""
    import timm

    x, y, _ = load_fashion("train")
    rng = np.random.default_rng(0)
    pick = np.concatenate([rng.choice(np.flatnonzero(y == c), images // len(SOURCE), replace=False) for c in SOURCE])
    x, y = x[pick], torch.from_numpy(y[pick].astype(np.int64))
    torch.manual_seed(0)
    model = timm.create_model(model_name, pretrained=False, num_classes=len(SOURCE))
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    for _ in range(epochs):
        model.train()
        order = torch.randperm(len(y))
        for s in range(0, len(y), 128):
            idx = order[s:s + 128]
            with autocast():
                loss = torch.nn.functional.cross_entropy(model(to_input(x[idx.numpy()])), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
    tx, ty, _ = load_fashion("test")
    keep = np.isin(ty, SOURCE)
    return model, accuracy(model, tx[keep], ty[keep])


def _blob(folder: str, data: bytes) -> str:
    os.makedirs(os.path.join(folder, "blobs"), exist_ok=True)
    path = os.path.join(folder, "blobs", hashlib.sha256(data).hexdigest())
    with open(path, "wb") as handle:
        handle.write(data)
    return path


def save_hub_snapshot(cache: str, model_name: str, model) -> str:
    """``cache/models--timm--NAME.TAG`` as huggingface_hub lays it out; returns the weight file."""
    import safetensors.torch

    folder = os.path.join(cache, f"models--timm--{model_name}.{TAG}")
    snapshot = os.path.join(folder, "snapshots", REVISION)
    os.makedirs(snapshot, exist_ok=True)
    os.makedirs(os.path.join(folder, "refs"), exist_ok=True)
    with open(os.path.join(folder, "refs", "main"), "w", encoding="utf-8") as handle:
        handle.write(REVISION)
    state = {k: v.contiguous() for k, v in model.state_dict().items()}
    config = {"architecture": model_name, "num_classes": len(SOURCE), "pretrained_cfg": PRETRAINED_CFG}
    for name, data in (("model.safetensors", safetensors.torch.save(state)),
                       ("config.json", json.dumps(config).encode())):
        os.symlink(os.path.relpath(_blob(folder, data), snapshot), os.path.join(snapshot, name))
    return os.path.join(snapshot, "model.safetensors")


def save_random_init(folder: str, model_name: str) -> str:
    """A fresh timm model's weights with the same config.json beside them (the scratch baseline)."""
    import safetensors.torch
    import timm

    os.makedirs(folder, exist_ok=True)
    torch.manual_seed(1)
    model = timm.create_model(model_name, pretrained=False, num_classes=len(SOURCE))
    path = os.path.join(folder, "random-init.safetensors")
    safetensors.torch.save_file({k: v.contiguous() for k, v in model.state_dict().items()}, path)
    with open(os.path.join(folder, "config.json"), "w", encoding="utf-8") as handle:
        json.dump({"architecture": model_name, "pretrained_cfg": PRETRAINED_CFG}, handle)
    return path


def make_target(folder: str, labels: int, seed: int) -> int:
    """IDX folder: ``labels`` training images per target class (labels 0-4) and the test images."""
    os.makedirs(folder, exist_ok=True)
    x, y, names = load_fashion("train")
    rng = np.random.default_rng(seed)
    pick = np.concatenate([rng.choice(np.flatnonzero(y == c), labels, replace=False) for c in TARGET])
    write_idx(os.path.join(folder, "train-images-idx3-ubyte"), x[pick])
    write_idx(os.path.join(folder, "train-labels-idx1-ubyte"), y[pick] - TARGET[0])
    tx, ty, _ = load_fashion("test")
    keep = np.isin(ty, TARGET)
    write_idx(os.path.join(folder, "t10k-images-idx3-ubyte"), tx[keep])
    write_idx(os.path.join(folder, "t10k-labels-idx1-ubyte"), ty[keep] - TARGET[0])
    with open(os.path.join(folder, "classes.txt"), "w", encoding="utf-8") as handle:
        handle.write("\n".join(names[c] for c in TARGET) + "\n")
    return int(keep.sum())


def cli(args: list[str]) -> str:
    """``tlgui ARGS`` in this process; its standard output (exits on failure)."""
    from tlgui.cli import main

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main(args)
    if code != 0:
        sys.exit(f"tlgui {' '.join(args)} failed with exit code {code}: {out.getvalue()[-500:]}")
    return out.getvalue()


def run_mode(mode: str, model_name: str, weights: str, folder: str, out: str, epochs: int, seed: int):
    """One tlgui train + evaluate; (test accuracy, test images, train seconds, evaluate seconds, log)."""
    freeze = "backbone" if mode == "head only" else "none"
    start = time.perf_counter()
    log = cli(["train", "--data", folder, "--model", f"timm:{model_name}", "--weights", weights,
               "--freeze", freeze, "--epochs", str(epochs), "--seed", str(seed), "--out", out])
    trained = time.perf_counter() - start
    start = time.perf_counter()
    report = json.loads(cli(["evaluate", os.path.join(out, "model.pt"), "--data", folder, "--split", "test",
                             "--json"]).strip().splitlines()[-1])
    return report["accuracy"], report["n"], trained, time.perf_counter() - start, log


def weights_line(log: str) -> str:
    """The line where tlgui says which weights it started from (the tag, for the hub cache)."""
    return next((line.strip() for line in log.splitlines() if "Hugging Face cache" in line), "(not said)")


MODES = ("from scratch", "head only", "fine-tune")


def print_table(results: dict, labels: list[int], repeats: int) -> None:
    print(f"\nmedians of {repeats} repeat(s); test accuracy on the test images of classes 5-9; "
          "train and evaluate wall seconds")
    print(f"{'labels/class':>12}  {'mode':<12}  {'accuracy':>8}  {'train s':>8}  {'eval s':>7}")
    for n in labels:
        for mode in MODES:
            rows = results[(n, mode)]
            acc = statistics.median(r[0] for r in rows)
            print(f"{n:>12}  {mode:<12}  {acc:>8.1%}  {statistics.median(r[1] for r in rows):>8.1f}  "
                  f"{statistics.median(r[2] for r in rows):>7.1f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="resnet18", help="timm architecture (default resnet18)")
    ap.add_argument("--labels", default="10,100", help="comma-separated labelled training images per target class")
    ap.add_argument("--repeats", type=int, default=1, help="labelled samples and seeds 0..N-1; medians reported")
    ap.add_argument("--source-images", type=int, default=10000, help="classes 0-4 training images for the stand-in")
    ap.add_argument("--source-epochs", type=int, default=1)
    ap.add_argument("--epochs", type=int, default=15, help="tlgui train --epochs, every mode")
    args = ap.parse_args()
    labels = [int(s) for s in args.labels.split(",")]
    from tlgui.core.training.precision import use_default_threads

    threads = use_default_threads()
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["TLGUI_HOME"] = os.path.join(tmp, "home")
        os.environ["HF_HUB_CACHE"] = os.path.join(tmp, "hf", "hub")
        t = time.perf_counter()
        source, source_acc = pretrain(args.model, args.source_images, args.source_epochs)
        print(f"stand-in pretraining: timm {args.model} on {args.source_images} Fashion-MNIST images of classes 0-4, "
              f"{args.source_epochs} epoch(s) in {time.perf_counter() - t:.0f} s ({threads} threads); "
              f"test accuracy on classes 0-4: {source_acc:.1%}", flush=True)
        print(f"saved as {save_hub_snapshot(os.environ['HF_HUB_CACHE'], args.model, source)}", flush=True)
        random_init = save_random_init(os.path.join(tmp, "random"), args.model)
        weights = {"from scratch": random_init, "head only": "default", "fine-tune": "default"}
        results: dict = {(n, m): [] for n in labels for m in MODES}
        # one untimed run first: the first run in a process pays for lazy imports and kernel set-up
        make_target(os.path.join(tmp, "warm-up"), labels[0], 0)
        run_mode("fine-tune", args.model, "default", os.path.join(tmp, "warm-up"), os.path.join(tmp, "runs", "warm-up"),
                 1, 0)
        for seed in range(args.repeats):
            for n in labels:
                folder = os.path.join(tmp, f"target-{n}-{seed}")
                make_target(folder, n, seed)
                for mode in MODES:
                    out = os.path.join(tmp, "runs", f"{n}-{seed}-{mode.replace(' ', '-')}")
                    acc, count, trained, evaluated, log = run_mode(mode, args.model, weights[mode], folder, out,
                                                                   args.epochs, seed)
                    results[(n, mode)].append((acc, trained, evaluated))
                    said = f"; {weights_line(log)}" if weights[mode] == "default" else ""
                    print(f"seed {seed}, {n} labels/class, {mode}: {acc:.1%} on {count} test images, "
                          f"train {trained:.1f} s, evaluate {evaluated:.1f} s{said}", flush=True)
        print_table(results, labels, args.repeats)


if __name__ == "__main__":
    main()
