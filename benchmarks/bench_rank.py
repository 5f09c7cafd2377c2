"""Does ``tlgui rank`` order backbones as real training does, and for less than training each head-only?

Candidates of clearly different quality, all made here from Fashion-MNIST classes 0-4 (30,000
images, or ``--source-images`` of them): smallcnn with random weights; smallcnn pretrained for
1 and for 5 epochs on them; smallcnn pretrained on the same images with shuffled labels
(features that transfer badly); and a wider model, resnet18 at 32 px (``--image-size 32``, grey
images fed as RGB), pretrained for 3 epochs on a third of them. Target: classes 5-9 with ``--labels``
images per class. For each repeat (a new target sample): the rank's estimates
(K-fold linear probe) against the test accuracy (5,000 test images) of real head-only and
fine-tuned runs, as Spearman correlations; and the rank's wall time against the head-only runs'
(each in its own fresh cache, so neither reuses the other's features). Prints medians over repeats.

    python benchmarks/bench_rank.py [--labels 20] [--repeats 3] [--epochs 5] [--source-images 30000] [--no-finetune]

Needs Fashion-MNIST (apt-get install dataset-fashion-mnist). Nothing is asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from bench_timm import cli, make_target  # noqa: E402 (beside this script)
from fashion_split import SOURCE, load_fashion, write_idx  # noqa: E402

# name: None (random weights) or (model, share of --source-images, epochs, shuffled labels, extra train arguments)
SOURCES = {
    "smallcnn random": None,
    "smallcnn 1 ep": ("smallcnn", 1.0, 1, False, []),
    "smallcnn 5 ep": ("smallcnn", 1.0, 5, False, []),
    "smallcnn shuffled": ("smallcnn", 1.0, 2, True, []),
    "resnet18 32px": ("resnet18", 1 / 3, 3, False, ["--image-size", "32", "--weights", "none"]),
}


def spearman(a: list[float], b: list[float]) -> float:
    """Spearman's rho with average ranks for ties."""
    def ranks(values):
        order = np.argsort(values, kind="stable")
        r = np.empty(len(values))
        r[order] = np.arange(len(values), dtype=float)
        values = np.asarray(values)
        for v in np.unique(values):
            r[values == v] = r[values == v].mean()
        return r

    ra, rb = ranks(a), ranks(b)
    return float(np.corrcoef(ra, rb)[0, 1])


def _source_folder(root: str, name: str, shuffled: bool) -> str:
    folder = os.path.join(root, name)
    os.makedirs(folder)
    x, y, _ = load_fashion("train")
    keep = np.isin(y, SOURCE)
    labels = y[keep]
    if shuffled:  # every image keeps a label, but not its own: what the network learns does not transfer
        labels = np.random.default_rng(0).permutation(labels)
    write_idx(os.path.join(folder, "train-images-idx3-ubyte"), x[keep])
    write_idx(os.path.join(folder, "train-labels-idx1-ubyte"), labels)
    return folder


def make_sources(root: str, source_images: int) -> dict[str, tuple[str, str]]:
    """(model, weights) per candidate: 'none' or a pretrained model.pt."""
    folders = {False: _source_folder(root, "source", False), True: _source_folder(root, "shuffled", True)}
    specs = {}
    for i, (name, plan) in enumerate(SOURCES.items()):
        if plan is None:
            specs[name] = ("smallcnn", "none")
            continue
        model, share, epochs, shuffled, extra = plan
        out = os.path.join(root, f"src-{i}")
        start = time.perf_counter()
        cli(["train", "--data", folders[shuffled], "--model", model, "--epochs", str(epochs), "--max-train-images",
             str(int(source_images * share)), "--batch-size", "64", "--lr", "0.003", "--seed", "0",
             "--out", out, *extra])
        print(f"source {name}: {time.perf_counter() - start:.0f} s", file=sys.stderr, flush=True)
        specs[name] = (model, os.path.join(out, "model.pt"))
    return specs


def timed_train(target: str, model: str, weights: str, freeze: str, epochs: int, out: str,
                home: str) -> tuple[float, float]:
    """(test accuracy, training wall seconds) of one real run."""
    os.environ["TLGUI_HOME"] = home
    start = time.perf_counter()
    cli(["train", "--data", target, "--model", model, "--weights", weights, "--freeze", freeze,
         "--epochs", str(epochs), "--seed", "0", "--out", out])
    seconds = time.perf_counter() - start
    report = json.loads(cli(["evaluate", os.path.join(out, "model.pt"), "--data", target, "--split", "test",
                             "--json"]).strip().splitlines()[-1])
    return report["accuracy"], seconds


def one_repeat(root: str, specs: dict[str, tuple[str, str]], args, seed: int) -> dict:
    target = os.path.join(root, f"target-{seed}")
    make_target(target, args.labels, seed)
    models = ",".join(f"{model}={weights}" for model, weights in specs.values())
    os.environ["TLGUI_HOME"] = os.path.join(root, f"home-rank-{seed}")  # a fresh feature cache
    start = time.perf_counter()
    ranked = json.loads(cli(["rank", "--data", target, "--models", models, "--json"]))
    rank_seconds = time.perf_counter() - start
    estimate = {c["weights"]: c["accuracy"] for c in ranked["candidates"]}
    head, tune, head_seconds = {}, {}, 0.0
    for i, (name, (model, weights)) in enumerate(specs.items()):
        home = os.path.join(root, f"home-train-{seed}-{i}")  # fresh: no stored features to reuse
        head[name], seconds = timed_train(target, model, weights, "backbone", args.epochs,
                                          os.path.join(root, f"h-{seed}-{i}"), home)
        head_seconds += seconds
        if args.finetune:
            tune[name], _ = timed_train(target, model, weights, "none", args.epochs,
                                        os.path.join(root, f"f-{seed}-{i}"), home)
    names = list(specs)
    row = {"estimate": [estimate[specs[n][1]] for n in names], "head": [head[n] for n in names],
           "finetune": [tune.get(n, float("nan")) for n in names], "rank_seconds": rank_seconds,
           "head_seconds": head_seconds, "recommendation": ranked["recommendation"]}
    row["rho_head"] = spearman(row["estimate"], row["head"])
    row["rho_finetune"] = spearman(row["estimate"], row["finetune"]) if args.finetune else float("nan")
    print(f"repeat {seed}: rho head {row['rho_head']:.2f}, fine-tune {row['rho_finetune']:.2f}, "
          f"rank {rank_seconds:.1f} s, head-only runs {head_seconds:.1f} s", file=sys.stderr, flush=True)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--labels", type=int, default=20, help="training images per target class")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=5, help="epochs of the real head-only and fine-tune runs")
    parser.add_argument("--source-images", type=int, default=30000,
                        help="source images the smallcnns pretrain on (the resnet18 a third of them)")
    parser.add_argument("--no-finetune", dest="finetune", action="store_false", help="skip the fine-tune runs")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as root:
        os.environ["TLGUI_HOME"] = os.path.join(root, "home-source")
        specs = make_sources(root, args.source_images)
        rows = [one_repeat(root, specs, args, seed) for seed in range(args.repeats)]
    names = list(specs)
    print(f"{len(names)} candidates, {args.labels} labels/class, {args.repeats} repeat(s); medians:")
    print(f"{'candidate':18} {'rank estimate':>14} {'head-only test':>15} {'fine-tune test':>15}")
    for i, name in enumerate(names):
        med = {k: statistics.median(r[k][i] for r in rows) for k in ("estimate", "head", "finetune")}
        print(f"{name:18} {med['estimate']:14.1%} {med['head']:15.1%} {med['finetune']:15.1%}")
    rho_h = statistics.median(r["rho_head"] for r in rows)
    rho_f = statistics.median(r["rho_finetune"] for r in rows)
    rank_s = statistics.median(r["rank_seconds"] for r in rows)
    head_s = statistics.median(r["head_seconds"] for r in rows)
    per_head = ", ".join(f"{r['rho_head']:.2f}" for r in rows)
    per_tune = ", ".join(f"{r['rho_finetune']:.2f}" for r in rows)
    print(f"Spearman(rank estimate, head-only test accuracy): {rho_h:.2f} (per repeat: {per_head})")
    print(f"Spearman(rank estimate, fine-tune test accuracy): {rho_f:.2f} (per repeat: {per_tune})")
    print(f"rank of all {len(names)}: {rank_s:.1f} s; training each head-only ({args.epochs} epochs): {head_s:.1f} s; "
          f"ratio {rank_s / head_s:.2f}")
    print(f"recommendation (first repeat): {json.dumps(rows[0]['recommendation'])}")


if __name__ == "__main__":
    main()
