"""The built-in demo: procedurally drawn glyphs, generated in about a second, no files.

* ``source``: 10 simple shapes, many examples (a model is pretrained on these);
* ``target``: 6 *different*, more complex shapes, few examples per class.

Both are drawn with the same strokes, fills, noise and clutter, so features learned on
the source (edges, corners, curves) help on the target: the classic transfer setting.
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
from PIL import Image, ImageDraw

SIZE = 28


_CANVAS = 56  # drawn at 2x, then downsampled for anti-aliasing


SOURCE_CLASSES = [
    "circle", "square", "triangle", "pentagon", "plus", "zigzag", "line", "arc", "semicircle", "hexagon",
]


TARGET_CLASSES = ["star", "arrow", "crescent", "L-shape", "T-shape", "ring"]


# images per class: (train split, test split)
_COUNTS = {"source": (400, 50), "target": (30, 100)}


_SEEDS = {("source", "train"): 11, ("source", "test"): 12, ("target", "train"): 21, ("target", "test"): 22}


def _regular(n: int, phase: float = 0.0) -> list[tuple[float, float]]:
    return [(math.cos(phase + 2 * math.pi * i / n), math.sin(phase + 2 * math.pi * i / n)) for i in range(n)]


def _star() -> list[tuple[float, float]]:
    points = []
    for i in range(10):
        r = 1.0 if i % 2 == 0 else 0.42
        a = -math.pi / 2 + math.pi * i / 5
        points.append((r * math.cos(a), r * math.sin(a)))
    return points


def _arc(start: float, end: float, r: float = 1.0, n: int = 24) -> list[tuple[float, float]]:
    return [
        (r * math.cos(start + (end - start) * i / (n - 1)), r * math.sin(start + (end - start) * i / (n - 1)))
        for i in range(n)
    ]


Point = tuple[float, float]


Stroke = Literal["poly", "line", "ring"]  # closed and fillable, open, or a ring (a polygon and its inner half)


# each shape: a list of (stroke, points)
_SHAPES: dict[str, list[tuple[Stroke, list[Point]]]] = {
    "circle": [("poly", _regular(32))],
    "square": [("poly", _regular(4, math.pi / 4))],
    "triangle": [("poly", _regular(3, -math.pi / 2))],
    "pentagon": [("poly", _regular(5, -math.pi / 2))],
    "hexagon": [("poly", _regular(6))],
    "plus": [("line", [(-1, 0), (1, 0)]), ("line", [(0, -1), (0, 1)])],
    "zigzag": [("line", [(-1, 0.5), (-0.35, -0.5), (0.3, 0.5), (1, -0.5)])],
    "line": [("line", [(-1, 0), (1, 0)])],
    "arc": [("line", _arc(math.pi * 0.1, math.pi * 0.9))],
    "semicircle": [("poly", _arc(0, math.pi))],
    "star": [("poly", _star())],
    "arrow": [("line", [(-1, 0), (1, 0)]), ("line", [(0.45, -0.5), (1, 0), (0.45, 0.5)])],
    "crescent": [("poly", _arc(-math.pi / 2, math.pi / 2) + _arc(math.pi / 2, -math.pi / 2, 0.55)[::1])],
    "L-shape": [("line", [(-0.6, -1), (-0.6, 1), (0.7, 1)])],
    "T-shape": [("line", [(-0.9, -0.9), (0.9, -0.9)]), ("line", [(0, -0.9), (0, 1)])],
    "ring": [("ring", _regular(32))],
}


def _draw(shape: str, rng: np.random.Generator) -> np.ndarray:
    canvas = Image.new("L", (_CANVAS, _CANVAS), 0)
    draw = ImageDraw.Draw(canvas)
    scale = rng.uniform(11, 20)
    angle = rng.uniform(0, 2 * math.pi)
    cx = _CANVAS / 2 + rng.uniform(-7, 7)
    cy = _CANVAS / 2 + rng.uniform(-7, 7)
    stretch = rng.uniform(0.8, 1.2)
    cos, sin = math.cos(angle), math.sin(angle)
    width = int(rng.integers(3, 7))
    fill = rng.random() < 0.4
    ink = int(rng.integers(170, 256))

    def place(points: list[Point]) -> list[Point]:
        return [
            (cx + scale * (x * stretch * cos - y * sin), cy + scale * (x * stretch * sin + y * cos)) for x, y in points
        ]

    for kind, points in _SHAPES[shape]:
        pts = place(points)
        if kind == "poly":
            if fill:
                draw.polygon(pts, fill=ink)
            else:
                draw.line(pts + [pts[0]], fill=ink, width=width, joint="curve")
        elif kind == "ring":
            draw.line(pts + [pts[0]], fill=ink, width=width, joint="curve")
            inner = place([(0.5 * x, 0.5 * y) for x, y in points])
            draw.line(inner + [inner[0]], fill=ink, width=width, joint="curve")
        else:
            draw.line(pts, fill=ink, width=width, joint="curve")

    # clutter: a few short random strokes that belong to no class
    for _ in range(int(rng.integers(0, 3))):
        x0, y0 = rng.uniform(0, _CANVAS, 2)
        a = rng.uniform(0, 2 * math.pi)
        length = rng.uniform(4, 12)
        end = (x0 + length * math.cos(a), y0 + length * math.sin(a))
        draw.line([(x0, y0), end], fill=int(rng.integers(60, 200)), width=2)

    image = np.asarray(canvas.resize((SIZE, SIZE), Image.Resampling.BILINEAR), dtype=np.float32)
    noisy = image + rng.normal(0, rng.uniform(8, 30), image.shape)
    return np.clip(noisy, 0, 255).astype(np.uint8)


def classes_of(kind: str) -> list[str]:
    if kind == "source":
        return list(SOURCE_CLASSES)
    if kind == "target":
        return list(TARGET_CLASSES)
    raise ValueError(f"unknown demo set {kind!r}: use demo:source or demo:target")


def make_demo(kind: str, seed: int = 0, split: str = "train") -> tuple[np.ndarray, np.ndarray, list[str]]:
    """``(images uint8 (N, 28, 28), labels int64 (N,), class names)``, reproducible.

    ``split="train"`` gives the set to learn from (source: 600 per class, target: 30 per
    class); ``split="test"`` a disjoint, larger held-out set (100 per class).
    """
    classes = classes_of(kind)
    if split not in ("train", "test"):
        raise ValueError(f"unknown split {split!r}")
    per_class = _COUNTS[kind][0 if split == "train" else 1]
    rng = np.random.default_rng([_SEEDS[(kind, split)], seed])
    labels = np.repeat(np.arange(len(classes), dtype=np.int64), per_class)
    rng.shuffle(labels)
    images = np.stack([_draw(classes[label], rng) for label in labels])
    return images, labels, classes
