"""Photo-like JPEGs, the ants/bees protocol: tlgui train against a plain PyTorch script at its
best, in the same run, and 12 MP against normal photos.

    python benchmarks/bench_photos.py [--repeats 3]
    python benchmarks/bench_photos.py --train 60 --val 40 --size 64 --big-images 60 --repeats 1  # quick
    python benchmarks/bench_photos.py --jobs big --data-dir /tmp/photos --repeats 3  # the 12 MP job only; the
        photos are made once in /tmp/photos and reused by later calls (e.g. against another tree on PYTHONPATH)

The default follows issue 8: 245 training and 153 validation photo-like JPEGs (500x375, smooth
noise + a shape per class, quality 90, two classes), resnet18 with random weights (no network
here; speed does not depend on the values) at 224 px:

- fine-tune everything, 1 epoch including validation: ``tlgui train`` / a plain script (PIL
  draft decode, bf16 autocast where the CPU has it natively, channels_last, batch 32 like tlgui);
- head only, 20 epochs: ``tlgui train --freeze backbone`` / a plain script that runs the
  backbone once over training and validation images and fits a linear head by L-BFGS on the
  cached features. Twice: with tlgui's defaults (``--augment none``: one cached view, the same
  backbone work as the plain script) and with ``--augment flip`` (K = 2 cached views of each
  training image, so the backbone does ~1.6x the plain script's work on purpose);
- 243 photos at 4000x3000 (12 MP) against the same photos at 500x375, 1 epoch of a small
  model at 96 px, first run (empty decode cache) and second run (decode cache filled).

Every job runs ``--repeats`` times, alternating, and the medians are printed. Times are wall
seconds of the whole call (decode, training, validation, files written). Nothing is asserted.
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
from PIL import Image, ImageDraw

CLASSES = 2


def make_photos(root: str, images: int, width: int, height: int, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    for c in range(CLASSES):
        os.makedirs(os.path.join(root, f"class{c}"), exist_ok=True)
    for i in range(images):
        c = i % CLASSES
        base = rng.random((height // 50 + 2, width // 50 + 2, 3)) * 255  # smooth noise, upscaled
        img = Image.fromarray(base.astype(np.uint8)).resize((width, height), Image.Resampling.BICUBIC)
        draw = ImageDraw.Draw(img)
        x, y, r = rng.integers(width // 4, 3 * width // 4), rng.integers(height // 4, 3 * height // 4), height // 5
        shape = draw.ellipse if c == 0 else draw.rectangle
        shape((x - r, y - r, x + r, y + r), fill=(230, 40 + 150 * c, 40))
        img.save(os.path.join(root, f"class{c}", f"{i}.jpg"), quality=90)


def _made(root: str, images: int) -> bool:
    """Whether ``root`` already holds the ``images`` photos (a --data-dir of an earlier call)."""
    return os.path.isdir(root) and sum(len(files) for _, _, files in os.walk(root)) == images


def tlgui_train(data: str, out: str, model: str, size: int, epochs: int, *extra: str) -> float:
    from tlgui.cli import main

    start = time.perf_counter()
    code = main(["train", "--data", data, "--model", model, "--weights", "none", "--epochs", str(epochs),
                 "--image-size", str(size), "--out", out, "--quiet", *extra])
    if code != 0:
        sys.exit(f"tlgui train failed with exit code {code}")
    return time.perf_counter() - start


def load_plain(data: str, size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Decode the way a careful script does: PIL draft for big JPEGs, resize, centre crop
    (torchvision's Resize(size * 8 / 7) + CenterCrop(size), as tlgui's preprocessing)."""
    resize = round(size * 8 / 7)
    xs, ys = [], []
    for c in range(CLASSES):
        folder = os.path.join(data, f"class{c}")
        for name in sorted(os.listdir(folder)):
            with Image.open(os.path.join(folder, name)) as img:
                img.draft("RGB", (resize * 2, resize * 2))
                img = img.convert("RGB")
                w, h = img.size
                s = resize / min(w, h)
                img = img.resize((max(resize, round(w * s)), max(resize, round(h * s))), Image.Resampling.BILINEAR)
                left, top = (img.width - size) // 2, (img.height - size) // 2
                arr = np.asarray(img.crop((left, top, left + size, top + size)))
            xs.append(torch.from_numpy(arr.copy()).permute(2, 0, 1))
            ys.append(c)
    return torch.stack(xs), torch.tensor(ys)


def plain_model(name: str):
    from tlgui.core.models.zoo import build_model
    from tlgui.core.training.precision import resolve_precision

    torch.manual_seed(0)
    model = build_model(name, CLASSES).to(memory_format=torch.channels_last)
    bf16 = resolve_precision("auto", torch.device("cpu")).name == "bf16"
    return model, torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16)


def normalise(x: torch.Tensor) -> torch.Tensor:
    mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    return ((x.float() / 255 - mean) / std).contiguous(memory_format=torch.channels_last)


def plain_finetune(train: str, val: str, args) -> float:
    start = time.perf_counter()
    x, y = load_plain(train, args.size)
    vx, _ = load_plain(val, args.size)
    model, autocast = plain_model(args.model)
    opt, lossf = torch.optim.Adam(model.parameters(), lr=1e-3), torch.nn.CrossEntropyLoss()
    for _ in range(args.finetune_epochs):
        model.train()
        order = torch.randperm(len(y))
        for s in range(0, len(y), 32):
            idx = order[s:s + 32]
            with autocast:
                loss = lossf(model(normalise(x[idx])).float(), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
        model.eval()
        with torch.no_grad(), autocast:
            for s in range(0, len(vx), 64):
                model(normalise(vx[s:s + 64]))
    return time.perf_counter() - start


def plain_head_only(train: str, val: str, args) -> float:
    """Backbone once (eval, no grad) over training and validation images, then a linear head
    fitted by full-batch L-BFGS on the training features and scored on the validation ones."""
    from tlgui.core.models.zoo import find_head_path

    start = time.perf_counter()
    model, autocast = plain_model(args.model)
    head = model.get_submodule(find_head_path(model))
    model.eval()

    def features(folder: str) -> tuple[torch.Tensor, torch.Tensor]:
        x, y = load_plain(folder, args.size)
        feats = []
        handle = head.register_forward_pre_hook(lambda _m, inp: feats.append(inp[0].float()))
        with torch.no_grad(), autocast:
            for s in range(0, len(y), 64):
                model(normalise(x[s:s + 64]))
        handle.remove()
        return torch.cat(feats), y

    f, y = features(train)
    vf, vy = features(val)
    opt = torch.optim.LBFGS(head.parameters(), max_iter=300, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(head(f), y)
        loss.backward()
        return loss

    opt.step(closure)
    with torch.no_grad():
        float((head(vf).argmax(1) == vy).float().mean())
    return time.perf_counter() - start


def run_repeat(rows: dict[str, list[float]], cpu_rows: dict[str, list[float]], d: dict[str, str], tmp: str, r: int,
               args) -> None:
    """One round of every job; the 12 MP first run gets an empty decode cache of its own."""
    def out(name: str) -> str:
        return os.path.join(tmp, "runs", f"{name}-{r}")

    def add(name: str, job) -> None:
        cpu = time.process_time()
        seconds = job()
        cpu = time.process_time() - cpu
        rows.setdefault(name, []).append(seconds)
        cpu_rows.setdefault(name, []).append(cpu)
        print(f"  round {r + 1}: {name:<28} {seconds:6.1f} s wall {cpu:6.1f} s cpu", flush=True)

    small = (args.big_model, 96, 1)
    if "big" in args.jobs:
        os.environ["TLGUI_HOME"] = os.path.join(tmp, f"home-big-{r}")  # empty decode cache
        add("12 MP, first run", lambda: tlgui_train(d["big"], out("big1"), *small))
        add("12 MP, second run", lambda: tlgui_train(d["big"], out("big2"), *small))
        os.environ["TLGUI_HOME"] = os.path.join(tmp, f"home-normal-{r}")
        add("500 px, first run", lambda: tlgui_train(d["normal"], out("normal1"), *small))
        add("500 px, second run", lambda: tlgui_train(d["normal"], out("normal2"), *small))
    os.environ["TLGUI_HOME"] = os.path.join(tmp, "home")  # tlgui's own runs share one cache, as a user's do
    val = ("--val-data", d["val"])
    if "finetune" in args.jobs:
        add("plain fine-tune", lambda: plain_finetune(d["train"], d["val"], args))
        add("tlgui fine-tune",
            lambda: tlgui_train(d["train"], out("ft"), args.model, args.size, args.finetune_epochs, *val))
    if "head" in args.jobs:
        head = (d["train"], args.model, args.size, args.head_epochs, *val, "--freeze", "backbone")
        add("plain head-only", lambda: plain_head_only(d["train"], d["val"], args))
        add("tlgui head-only", lambda: tlgui_train(head[0], out("head"), *head[1:]))
        add("tlgui head-only, flip K=2", lambda: tlgui_train(head[0], out("headflip"), *head[1:], "--augment", "flip"))


def report(rows: dict[str, list[float]], cpu_rows: dict[str, list[float]]) -> None:
    """Medians of wall time (the target) and of process CPU time (all threads: steadier than
    wall time when other processes share the cores)."""
    med = {k: statistics.median(v) for k, v in rows.items()}
    cpu = {k: statistics.median(v) for k, v in cpu_rows.items()}
    print(f"medians of {len(next(iter(rows.values())))} round(s):")
    for name, value in med.items():
        print(f"  {name:<28} {value:6.1f} s wall {cpu[name]:6.1f} s cpu")

    def ratio(label: str, a: str, b: str) -> None:
        if a in med and b in med:
            print(f"{label}: {med[a] / med[b]:.2f}x wall, {cpu[a] / cpu[b]:.2f}x cpu")

    ratio("fine-tune tlgui/plain", "tlgui fine-tune", "plain fine-tune")
    ratio("head-only tlgui/plain (both one view)", "tlgui head-only", "plain head-only")
    ratio("head-only tlgui --augment flip (K=2 views)/plain", "tlgui head-only, flip K=2", "plain head-only")
    ratio("12 MP / 500 px, first run", "12 MP, first run", "500 px, first run")
    ratio("12 MP / 500 px, second run", "12 MP, second run", "500 px, second run")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--train", type=int, default=245, help="training photos (500x375)")
    ap.add_argument("--val", type=int, default=153, help="validation photos (500x375)")
    ap.add_argument("--size", type=int, default=224, help="image size for fine-tune and head-only")
    ap.add_argument("--model", default="resnet18")
    ap.add_argument("--finetune-epochs", type=int, default=1)
    ap.add_argument("--head-epochs", type=int, default=20)
    ap.add_argument("--big-images", type=int, default=243, help="photos made at 4000x3000 and at 500x375")
    ap.add_argument("--big-model", default="mobilenet_v3_small", help="the small model of the 12 MP job (96 px)")
    ap.add_argument("--jobs", default="finetune,head,big", help="comma-separated subset of finetune,head,big")
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--data-dir",
                    help="make the photos here, once, and reuse them on later calls (default: a temp folder)")
    args = ap.parse_args()
    args.jobs = set(args.jobs.split(","))
    from tlgui.core.training.precision import use_default_threads

    use_default_threads()  # the plain scripts run with the threads tlgui's CLI picks
    import numpy.ma  # noqa: F401 - np.unique (in the split) imports it lazily; the first job would pay for it

    import tlgui.cli.train  # noqa: F401 - imports (torchvision pulls in torch._dynamo, ~3 s) are
    import tlgui.core.training.loop  # noqa: F401 - paid once here, not by whichever job runs first
    with tempfile.TemporaryDirectory() as tmp:
        photos = args.data_dir or tmp
        d = {k: os.path.join(photos, k) for k in ("train", "val", "normal", "big")}
        t = time.perf_counter()
        wanted = []
        if args.jobs & {"finetune", "head"}:
            wanted += [("train", args.train, 500, 375, 0), ("val", args.val, 500, 375, 1)]
        if "big" in args.jobs:
            wanted += [("normal", args.big_images, 500, 375, 2), ("big", args.big_images, 4000, 3000, 2)]
        for name, count, width, height, seed in wanted:
            if not _made(d[name], count):
                make_photos(d[name], count, width, height, seed=seed)
        print(f"made the JPEGs in {time.perf_counter() - t:.0f} s; torch threads {torch.get_num_threads()}; "
              f"{args.model} at {args.size} px; 12 MP job: {args.big_model} at 96 px", flush=True)
        rows: dict[str, list[float]] = {}
        cpu_rows: dict[str, list[float]] = {}
        for r in range(args.repeats):  # alternate jobs so drifting machine load hits both alike
            run_repeat(rows, cpu_rows, d, tmp, r, args)
        report(rows, cpu_rows)


if __name__ == "__main__":
    main()
