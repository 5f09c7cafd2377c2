"""Few labels, head only: tlgui's head-only defaults against a plain script (issue 8's protocol).

    python benchmarks/bench_fewshot.py [--seeds 0,1,2] [--labels 10] [--source-epochs 3]

Issue 8 measured MNIST with 10 labels per class on a smallcnn transferred from Fashion-MNIST.
MNIST is not on this machine, Fashion-MNIST is (/usr/share/datasets/fashion-mnist), so this is
the same protocol within Fashion-MNIST, with a real domain gap between source and target:

1. source: a smallcnn trained on every training image of classes 0-4 (T-shirt .. Coat),
   ``--source-epochs`` epochs of Adam 1e-3, batch 128; saved as a plain state-dict file;
2. target: classes 5-9 (Sandal, Shirt, Sneaker, Bag, Ankle boot), ``--labels`` training
   images per class drawn with each seed, written as an IDX folder (tlgui's own format
   reader opens both), with the 5000 test images of those classes as its test split;
3. (a) a plain script: the source weights, a fresh linear head, head only, Adam 1e-3,
   40 epochs, batch 64 (all labelled images train);
   (b) ``tlgui train --model smallcnn --weights SOURCE --freeze backbone --epochs 40``,
   everything else at tlgui's defaults (so 20 % of the labelled images are held out for
   validation, as for any user, and the head is fitted by L-BFGS on cached features);
4. both scored on the 5000 test images (tlgui's model.pt through ``evaluate_model``).

Prints each seed's accuracies and the medians. Nothing is asserted.
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
from fashion_split import SOURCE, TARGET, load_fashion, write_idx  # noqa: E402 (beside this script)


def normalise(x: np.ndarray) -> torch.Tensor:
    """tlgui's smallcnn preprocessing: 1 channel, mean 0.5, std 0.5."""
    return (torch.from_numpy(x).float().unsqueeze(1) / 255 - 0.5) / 0.5


def pretrain_source(path: str, epochs: int) -> float:
    """Train the source smallcnn on classes 0-4; returns its accuracy on their test images."""
    from tlgui.core.models.zoo import build_model

    x, y, _ = load_fashion("train")
    keep = np.isin(y, SOURCE)
    x, y = normalise(x[keep]), torch.from_numpy(y[keep])
    torch.manual_seed(0)
    model = build_model("smallcnn", len(SOURCE), in_channels=1)
    opt, lossf = torch.optim.Adam(model.parameters(), lr=1e-3), torch.nn.CrossEntropyLoss()
    for _ in range(epochs):
        model.train()
        order = torch.randperm(len(y))
        for s in range(0, len(y), 128):
            idx = order[s:s + 128]
            loss = lossf(model(x[idx]), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
    torch.save(model.state_dict(), path)
    tx, ty, _ = load_fashion("test")
    keep = np.isin(ty, SOURCE)
    return accuracy(model, normalise(tx[keep]), torch.from_numpy(ty[keep]))


@torch.no_grad()
def accuracy(model, x: torch.Tensor, y: torch.Tensor) -> float:
    model.eval()
    pred = torch.cat([model(x[s:s + 1000]).argmax(1) for s in range(0, len(y), 1000)])
    return float((pred == y).float().mean())


def make_target(folder: str, labels: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """IDX folder: ``labels`` training images per target class (labels 0-4) and the test images."""
    os.makedirs(folder, exist_ok=True)
    x, y, names = load_fashion("train")
    rng = np.random.default_rng(seed)
    pick = np.concatenate([rng.choice(np.flatnonzero(y == c), labels, replace=False) for c in TARGET])
    few_x, few_y = x[pick], y[pick] - TARGET[0]
    write_idx(os.path.join(folder, "train-images-idx3-ubyte"), few_x)
    write_idx(os.path.join(folder, "train-labels-idx1-ubyte"), few_y)
    tx, ty, _ = load_fashion("test")
    keep = np.isin(ty, TARGET)
    write_idx(os.path.join(folder, "t10k-images-idx3-ubyte"), tx[keep])
    write_idx(os.path.join(folder, "t10k-labels-idx1-ubyte"), ty[keep] - TARGET[0])
    with open(os.path.join(folder, "classes.txt"), "w", encoding="utf-8") as handle:
        handle.write("\n".join(names[c] for c in TARGET) + "\n")
    return few_x, few_y


def plain_head_only(source: str, few_x, few_y, test_x, test_y, seed: int) -> tuple[float, float, float]:
    """The issue's plain script: Adam 1e-3, 40 epochs, batch 64, head only. (accuracy, first
    and last epoch's training loss)."""
    from tlgui.core.models.zoo import build_model, replace_head

    torch.manual_seed(seed)
    model = build_model("smallcnn", len(SOURCE), in_channels=1)
    model.load_state_dict(torch.load(source, weights_only=True))
    head_path = replace_head(model, len(TARGET))  # a fresh head, as for any new task
    for name, p in model.named_parameters():
        p.requires_grad = name.startswith(head_path + ".")
    opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=1e-3)
    x, y = normalise(few_x), torch.from_numpy(few_y.astype(np.int64))
    model.eval()  # frozen backbone in eval mode (BatchNorm statistics of the source)
    losses = []
    for _ in range(40):
        order, total = torch.randperm(len(y)), 0.0
        for s in range(0, len(y), 64):
            idx = order[s:s + 64]
            loss = torch.nn.functional.cross_entropy(model(x[idx]), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += float(loss.detach()) * len(idx)
        losses.append(total / len(y))
    return accuracy(model, test_x, test_y), losses[0], losses[-1]


def tlgui_head_only(source: str, folder: str, out: str, seed: int) -> tuple[float, float]:
    """``tlgui train`` with its head-only defaults, scored by tlgui's own evaluation; (test
    accuracy, seconds)."""
    from tlgui.cli import main
    from tlgui.core.results.evaluate import evaluate_model

    start = time.perf_counter()
    code = main(["train", "--data", folder, "--model", "smallcnn", "--weights", source, "--freeze", "backbone",
                 "--epochs", "40", "--seed", str(seed), "--out", out, "--quiet"])
    seconds = time.perf_counter() - start
    if code != 0:
        sys.exit(f"tlgui train failed with exit code {code}")
    result = evaluate_model(os.path.join(out, "model.pt"), folder, split="test", device="cpu")
    return float(np.trace(result.confusion) / result.confusion.sum()), seconds


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", default="0,1,2", help="comma-separated: the labelled sample and both runs' seed")
    ap.add_argument("--labels", type=int, default=10, help="labelled training images per target class")
    ap.add_argument("--source-epochs", type=int, default=3)
    args = ap.parse_args()
    from tlgui.core.training.precision import use_default_threads

    use_default_threads()
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["TLGUI_HOME"] = os.path.join(tmp, "home")
        source = os.path.join(tmp, "source-smallcnn.pt")
        t = time.perf_counter()
        source_acc = pretrain_source(source, args.source_epochs)
        print(f"source smallcnn on Fashion-MNIST classes 0-4: {args.source_epochs} epochs in "
              f"{time.perf_counter() - t:.0f} s, test accuracy {source_acc:.1%}", flush=True)
        tx, ty, _ = load_fashion("test")
        keep = np.isin(ty, TARGET)
        test_x, test_y = normalise(tx[keep]), torch.from_numpy(ty[keep] - TARGET[0])
        plain, ours = [], []
        for seed in (int(s) for s in args.seeds.split(",")):
            folder = os.path.join(tmp, f"target-{seed}")
            few_x, few_y = make_target(folder, args.labels, seed)
            acc, first, last = plain_head_only(source, few_x, few_y, test_x, test_y, seed)
            mine, seconds = tlgui_head_only(source, folder, os.path.join(tmp, f"run-{seed}"), seed)
            plain.append(acc)
            ours.append(mine)
            print(f"seed {seed}: plain script {acc:.1%} (train loss {first:.3f} -> {last:.3f}); "
                  f"tlgui head-only defaults {mine:.1%} ({seconds:.1f} s)", flush=True)
        print(f"classes 5-9, {args.labels} labels per class, {len(test_y)} test images, "
              f"median of {len(plain)} seed(s): plain script {statistics.median(plain):.1%}, "
              f"tlgui {statistics.median(ours):.1%}")


if __name__ == "__main__":
    main()
