"""Real-feature data for the labelling benchmarks (bench_label.py, bench_labels.py --real).

- "photos": five Fashion-MNIST classes as 96 px RGB product shots (dark garment on a light
  background, as catalogue photos are), classes an ImageNet backbone tells apart;
- "scrambled": the same images with one fixed permutation of their 28 x 28 pixels before
  upsampling: the class survives only as pixel statistics, which ImageNet features barely see.

Features come from a plain script: timm's ``tf_efficientnet_lite0`` with the real ImageNet
weights (real_weights.py), the images resized to the input size and normalised with the
model's own mean and std, the pooled 1,280 features. Needs apt-get install dataset-fashion-mnist.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from benchmarks.fashion_split import load_fashion

PHOTO_CLASSES = (0, 1, 3, 7, 8)  # T-shirt/top, Trouser, Dress, Sneaker, Bag
SIZE = 96


def class_name(classes: list[str], c: int) -> str:
    return classes[c].replace("/", "-")


def _picture(image: np.ndarray, scramble: np.ndarray | None, size: int) -> Image.Image:
    pixels = image.reshape(-1)[scramble].reshape(image.shape) if scramble is not None else image
    grey = Image.fromarray(255 - pixels).resize((size, size), Image.BILINEAR)
    return Image.merge("RGB", (grey, grey, grey))


def write_set(folder: Path, split: str, per_class: int, kind: str, seed: int = 0, size: int = SIZE,
              classes: tuple[int, ...] = PHOTO_CLASSES) -> tuple[list[str], np.ndarray, list[str]]:
    """``per_class`` images of each class as PNGs under ``folder`` (flat: the folder is unlabelled);
    returns (paths, class index per path, class names)."""
    images, labels, names = load_fashion(split)
    rng = np.random.default_rng(seed)
    scramble = np.random.default_rng(1234).permutation(28 * 28) if kind == "scrambled" else None
    folder.mkdir(parents=True, exist_ok=True)
    paths, truth = [], []
    for k, c in enumerate(classes):
        for i in rng.choice(np.flatnonzero(labels == c), per_class, replace=False):
            path = folder / f"{split}_{int(i):05d}.png"
            _picture(images[i], scramble, size).save(path)
            paths.append(str(path.resolve()))
            truth.append(k)
    order = np.argsort(paths)
    return [paths[i] for i in order], np.asarray(truth)[order], [class_name(names, c) for c in classes]


def plain_model(hub: Path, arch: str):
    """The backbone as a plain script builds it: timm model, weights from the safetensors file."""
    import safetensors.torch
    import timm

    weights = next((hub / f"models--timm--{arch}.in1k" / "snapshots").glob("*/model.safetensors"))
    model = timm.create_model(arch, pretrained=False, num_classes=0)
    state = safetensors.torch.load_file(str(weights))
    model.load_state_dict({k: v for k, v in state.items() if not k.startswith("classifier.")})
    return model.eval()


def plain_features(paths: list[str], hub: Path, arch: str, size: int = SIZE,
                   batch: int = 64) -> tuple[np.ndarray, float]:
    """(features, seconds): model built and loaded, images read, resized, normalised, forwarded."""
    started = time.perf_counter()
    model = plain_model(hub, arch)
    cfg = model.pretrained_cfg
    mean = torch.tensor(cfg["mean"]).view(1, 3, 1, 1)
    std = torch.tensor(cfg["std"]).view(1, 3, 1, 1)
    parts = []
    with torch.inference_mode():
        for start in range(0, len(paths), batch):
            pictures = [np.asarray(Image.open(p).convert("RGB").resize((size, size), Image.BILINEAR))
                        for p in paths[start : start + batch]]
            x = torch.from_numpy(np.stack(pictures)).permute(0, 3, 1, 2).float() / 255
            parts.append(model((x - mean) / std).float().numpy())
    return np.concatenate(parts), time.perf_counter() - started


def fit_accuracy(train_x: np.ndarray, train_y: np.ndarray, test_x: np.ndarray, test_y: np.ndarray,
                 classes: int, mean: np.ndarray, std: np.ndarray, l2: float = 1e-2) -> float:
    """The score of a set of labels: L-BFGS logistic regression on the standardised features
    (the pool's mean and std), accuracy on the test images. One labelled class: it predicts that."""
    if len(np.unique(train_y)) < 2:
        return float(np.mean(test_y == train_y[0])) if len(train_y) else 1.0 / classes
    x = torch.from_numpy((train_x - mean) / std).float()
    y = torch.from_numpy(train_y).long()
    torch.manual_seed(0)
    head = torch.nn.Linear(x.shape[1], classes)
    optimizer = torch.optim.LBFGS(head.parameters(), max_iter=200, line_search_fn="strong_wolfe")

    def closure():
        optimizer.zero_grad()
        loss = torch.nn.functional.cross_entropy(head(x), y) + 0.5 * l2 * head.weight.pow(2).sum()
        loss.backward()
        return loss

    optimizer.step(closure)
    with torch.no_grad():
        predicted = head(torch.from_numpy((test_x - mean) / std).float()).argmax(1).numpy()
    return float(np.mean(predicted == test_y))
