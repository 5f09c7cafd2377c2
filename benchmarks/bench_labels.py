"""Suspect labels and heatmaps on a noisy-label protocol (Fashion-MNIST, pretrained features).

A smallcnn "pretrained" on Fashion-MNIST classes 0-4 is the frozen backbone; the data set is
PER_CLASS images of each of classes 5-9 written as PNG folders, with FLIP of the labels moved
to another class (the file moved to another class folder). For each seed:

- ``check-labels`` (tlgui.core.workflows.label_check, as the CLI calls it): precision of its
  suspects at K = the number it flags and at K = the number of flips;
- a plain script: the backbone's features extracted once, 5-fold L-BFGS logistic regression,
  images ranked by self-confidence (the given class's out-of-fold probability, lowest first):
  precision at the same two K; the time of that feature extraction alone;
- ``explain``: seconds per image against one plain forward + backward pass of the same model.

Prints one JSON line per seed and the medians. Needs apt-get install dataset-fashion-mnist.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.fashion_split import SOURCE, TARGET, load_fashion  # noqa: E402


def make_source(root: Path, per_class: int) -> Path:
    from tlgui.core.base.config import TrainConfig
    from tlgui.core.training.loop import train

    images, labels, classes = load_fashion("train")
    folder = root / "source"
    rng = np.random.default_rng(0)
    for c in SOURCE:
        (folder / classes[c].replace("/", "-")).mkdir(parents=True)
        for i in rng.choice(np.flatnonzero(labels == c), per_class, replace=False):
            Image.fromarray(images[i]).save(folder / classes[c].replace("/", "-") / f"{i}.png")
    result = train(TrainConfig(data=str(folder), model="smallcnn", out=str(root / "source_run"), epochs=3,
                               batch_size=64, seed=0, device="cpu"))
    return Path(result.run_dir) / "model.pt"


def make_noisy(root: Path, per_class: int, flip: float, seed: int) -> tuple[Path, set[str]]:
    images, labels, classes = load_fashion("test")
    rng = np.random.default_rng(seed)
    names = [classes[c].replace("/", "-") for c in TARGET]
    chosen = [(name, i) for c, name in zip(TARGET, names, strict=True)
              for i in rng.choice(np.flatnonzero(labels == c), per_class, replace=False)]
    flipped_idx = set(rng.choice(len(chosen), int(round(flip * len(chosen))), replace=False).tolist())
    folder = root / f"noisy{seed}"
    flipped = set()
    for k, (name, i) in enumerate(chosen):
        given = name
        if k in flipped_idx:
            given = [n for n in names if n != name][int(rng.integers(len(names) - 1))]
        (folder / given).mkdir(parents=True, exist_ok=True)
        path = folder / given / f"{i}.png"
        Image.fromarray(images[i]).save(path)
        if given != name:
            flipped.add(str(path))
    return folder, flipped


def precision(ranked: list[str], flipped: set[str], k: int) -> float:
    top = ranked[:k]
    return sum(p in flipped for p in top) / max(1, len(top))


def plain_baseline(folder: Path, source: Path, folds: int = 5) -> tuple[list[str], float]:
    """Features once (timed), 5-fold L-BFGS probe, ranked by self-confidence."""
    from tlgui.core.models.checkpoint import load_checkpoint, model_from_checkpoint

    ckpt = load_checkpoint(source)
    model = model_from_checkpoint(ckpt).eval()
    model.fc = torch.nn.Identity()
    mean, std = ckpt["preprocessing"]["mean"][0], ckpt["preprocessing"]["std"][0]
    paths = sorted(str(p) for p in folder.glob("*/*.png"))
    classes = sorted({Path(p).parent.name for p in paths})
    labels = np.array([classes.index(Path(p).parent.name) for p in paths])
    started = time.perf_counter()
    x = torch.from_numpy(np.stack([np.asarray(Image.open(p), np.float32) for p in paths]))[:, None] / 255
    with torch.no_grad():
        feats = torch.cat([model((x[s:s + 256] - mean) / std) for s in range(0, len(x), 256)])
    extract = time.perf_counter() - started
    feats = (feats - feats.mean(0)) / (feats.std(0) + 1e-6)
    y = torch.from_numpy(labels)
    fold = np.arange(len(labels)) % folds
    np.random.default_rng(0).shuffle(fold)
    probs = np.zeros((len(labels), len(classes)))
    for f in range(folds):
        held = torch.from_numpy(fold == f)
        head = torch.nn.Linear(feats.shape[1], len(classes))
        opt = torch.optim.LBFGS(head.parameters(), max_iter=100, line_search_fn="strong_wolfe")

        def closure(head=head, opt=opt, held=held):
            opt.zero_grad()
            loss = torch.nn.functional.cross_entropy(head(feats[~held]), y[~held]) + 5e-4 * head.weight.pow(2).sum()
            loss.backward()
            return loss

        opt.step(closure)
        with torch.no_grad():
            probs[held.numpy()] = torch.softmax(head(feats[held]), 1).numpy()
    order = np.argsort(probs[np.arange(len(labels)), labels], kind="stable")
    return [paths[i] for i in order], extract


def explain_times(model_path: Path, folder: Path, count: int = 20) -> tuple[float, float]:
    from tlgui.core.data.sources import load_image_file
    from tlgui.core.models.checkpoint import load_checkpoint, model_from_checkpoint
    from tlgui.core.results.explain import Explainer

    paths = sorted(folder.glob("*/*.png"))[:count]
    explainer = Explainer(load_checkpoint(model_path))
    images = [load_image_file(str(p)) for p in paths]
    explainer.explain(images[0])  # warm-up
    started = time.perf_counter()
    for image in images:
        explainer.explain(image)
    ours = (time.perf_counter() - started) / len(images)
    ckpt = load_checkpoint(model_path)
    model = model_from_checkpoint(ckpt).eval()
    prep = explainer.prep
    started = time.perf_counter()
    for image in images:
        x = prep.normalize(torch.from_numpy(prep.load_image(image))[None]).requires_grad_(True)
        out = model(x)
        out[0, int(out.argmax())].backward()
    plain = (time.perf_counter() - started) / len(images)
    return ours, plain


def one_seed(root: Path, source: Path, per_class: int, flip: float, seed: int) -> dict:
    from tlgui.core.workflows.label_check import check_config, check_labels

    folder, flipped = make_noisy(root, per_class, flip, seed)
    started = time.perf_counter()
    result = check_labels(check_config(str(folder), "smallcnn", str(source), seed=seed, device="cpu"), 5)
    ours_seconds = time.perf_counter() - started
    ours = [s["path"] for s in result.suspects]
    plain, extract = plain_baseline(folder, source)
    k_flag, k_true = len(ours), len(flipped)
    explain_s, plain_fb = explain_times(source, folder)  # the source model: the timing is what matters
    return {"seed": seed, "images": 5 * per_class, "flips": k_true, "flagged": k_flag,
            "tlgui_precision_at_flagged": precision(ours, flipped, k_flag),
            "plain_precision_at_flagged": precision(plain, flipped, k_flag),
            "tlgui_precision_at_flips": precision(ours, flipped, k_true),
            "plain_precision_at_flips": precision(plain, flipped, k_true),
            "check_labels_s": round(ours_seconds, 2), "extract_once_s": round(extract, 2),
            "explain_s_per_image": round(explain_s, 4), "forward_backward_s_per_image": round(plain_fb, 4)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-class", type=int, default=200)
    parser.add_argument("--source-per-class", type=int, default=400)
    parser.add_argument("--flip", type=float, default=0.10)
    parser.add_argument("--seeds", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(2)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        source = make_source(root, args.source_per_class)
        rows = []
        for seed in range(args.seeds):
            rows.append(one_seed(root, source, args.per_class, args.flip, seed))
            print(json.dumps(rows[-1]), flush=True)
    keys = [k for k in rows[0] if k not in ("seed",)]
    print(json.dumps({"median": {k: statistics.median(r[k] for r in rows) for k in keys}}))


if __name__ == "__main__":
    main()
