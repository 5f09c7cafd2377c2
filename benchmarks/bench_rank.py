"""Does ``tlgui rank`` order backbones as real training does, and for less than training each head-only?

Candidates of different quality: smallcnn with random weights, and smallcnn pretrained on
Fashion-MNIST classes 0-4 for a little, more, and most (images x epochs). Target: classes 5-9
with ``--labels`` images per class. For each repeat (a new target sample): the rank's estimates
(K-fold linear probe) against the test accuracy (5,000 test images) of real head-only and
fine-tuned runs, as Spearman correlations; and the rank's wall time against the head-only runs'
(each in its own fresh cache, so neither reuses the other's features). Prints medians over repeats.

    python benchmarks/bench_rank.py [--labels 20] [--repeats 3] [--epochs 5]

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

SOURCES = {"random": None, "500 img x 1 ep": (500, 1), "5000 img x 1 ep": (5000, 1), "5000 img x 4 ep": (5000, 4)}


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


def make_sources(root: str) -> dict[str, str]:
    """Weight specs per candidate: 'none' or a pretrained model.pt."""
    folder = os.path.join(root, "source")
    os.makedirs(folder)
    x, y, _ = load_fashion("train")
    keep = np.isin(y, SOURCE)
    write_idx(os.path.join(folder, "train-images-idx3-ubyte"), x[keep])
    write_idx(os.path.join(folder, "train-labels-idx1-ubyte"), y[keep])
    specs = {}
    for name, plan in SOURCES.items():
        if plan is None:
            specs[name] = "none"
            continue
        images, epochs = plan
        out = os.path.join(root, f"src-{images}-{epochs}")
        cli(["train", "--data", folder, "--model", "smallcnn", "--epochs", str(epochs), "--max-train-images",
             str(images), "--batch-size", "64", "--lr", "0.003", "--seed", "0", "--out", out])
        specs[name] = os.path.join(out, "model.pt")
    return specs


def timed_train(target: str, weights: str, freeze: str, epochs: int, out: str, home: str) -> tuple[float, float]:
    """(test accuracy, training wall seconds) of one real run."""
    os.environ["TLGUI_HOME"] = home
    start = time.perf_counter()
    cli(["train", "--data", target, "--model", "smallcnn", "--weights", weights, "--freeze", freeze,
         "--epochs", str(epochs), "--seed", "0", "--out", out])
    seconds = time.perf_counter() - start
    report = json.loads(cli(["evaluate", os.path.join(out, "model.pt"), "--data", target, "--split", "test",
                             "--json"]).strip().splitlines()[-1])
    return report["accuracy"], seconds


def one_repeat(root: str, specs: dict[str, str], labels: int, epochs: int, seed: int) -> dict:
    target = os.path.join(root, f"target-{seed}")
    make_target(target, labels, seed)
    models = ",".join(f"smallcnn={w}" for w in specs.values())
    os.environ["TLGUI_HOME"] = os.path.join(root, f"home-rank-{seed}")  # a fresh feature cache
    start = time.perf_counter()
    ranked = json.loads(cli(["rank", "--data", target, "--models", models, "--json"]))
    rank_seconds = time.perf_counter() - start
    estimate = {c["weights"]: c["accuracy"] for c in ranked["candidates"]}
    head, tune, head_seconds = {}, {}, 0.0
    for name, weights in specs.items():
        home = os.path.join(root, f"home-train-{seed}-{len(head)}")  # fresh: no stored features to reuse
        head[name], seconds = timed_train(target, weights, "backbone", epochs, os.path.join(root, f"h-{seed}-{name}"),
                                          home)
        head_seconds += seconds
        tune[name], _ = timed_train(target, weights, "none", epochs, os.path.join(root, f"f-{seed}-{name}"), home)
    names = list(specs)
    row = {"estimate": [estimate[specs[n]] for n in names], "head": [head[n] for n in names],
           "finetune": [tune[n] for n in names], "rank_seconds": rank_seconds, "head_seconds": head_seconds,
           "recommendation": ranked["recommendation"]}
    row["rho_head"] = spearman(row["estimate"], row["head"])
    row["rho_finetune"] = spearman(row["estimate"], row["finetune"])
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--labels", type=int, default=20, help="training images per target class")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=5, help="epochs of the real head-only and fine-tune runs")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as root:
        os.environ["TLGUI_HOME"] = os.path.join(root, "home-source")
        specs = make_sources(root)
        rows = [one_repeat(root, specs, args.labels, args.epochs, seed) for seed in range(args.repeats)]
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
