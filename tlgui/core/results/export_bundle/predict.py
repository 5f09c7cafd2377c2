"""Classify images with the model in this folder. Needs only torch, torchvision and Pillow
(numpy comes with them); tlgui itself is not needed.

    python predict.py IMAGE_OR_FOLDER... [--top-k K] [--device cpu|cuda]

Prints one line per image: path, label and probability, separated by tabs. Reading
and preprocessing are tlgui's own code: pixels.py is tlgui/core/base/pixels.py, copied as it is.
The network is model.pt2 (torch.export) where this torch can read it, else model.ts (TorchScript).
TIFF stacks need tifffile (pip install tifffile imagecodecs).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import warnings
from pathlib import Path

import numpy as np
import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import pixels  # noqa: E402 - tlgui's tlgui/core/base/pixels.py, shipped beside this file

IMAGE_EXTENSIONS = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm", ".pgm", ".pbm", ".npy"}
SYSTEM_FILES = {".ds_store", "thumbs.db", "desktop.ini", "ehthumbs.db"}


def load_image(source, prep: dict) -> np.ndarray:
    """A file path, PIL image or (C, H, W) array -> uint8 array (C, crop, crop) by
    preprocessing.json's rules: channels, intensity window, resize, centre crop.
    ``pixels.py`` is tlgui's own code for it, copied verbatim."""
    if isinstance(source, (str, os.PathLike)):
        source = pixels.read_any(os.fspath(source), prep.get("stack", "middle"))
    return pixels.model_input(source, prep)


def normalize(batch: torch.Tensor, prep: dict) -> torch.Tensor:
    """uint8 (N, C, H, W) -> float input of the model."""
    x = batch.float().div_(255.0)
    if prep.get("mean"):
        mean = torch.tensor(prep["mean"], dtype=x.dtype, device=x.device).view(1, -1, 1, 1)
        std = torch.tensor(prep["std"], dtype=x.dtype, device=x.device).view(1, -1, 1, 1)
        x = (x - mean) / std
    return x


def load_model(device: torch.device):
    """(model, file name): model.pt2 through torch.export where this torch reads it; otherwise
    model.ts through TorchScript (deprecated by PyTorch, so only as the fallback), said on stderr."""
    pt2, ts = HERE / "model.pt2", HERE / "model.ts"
    why = ""
    if pt2.is_file():
        quiet = logging.getLogger("torch.export")  # it logs a traceback before giving up on a file it cannot read
        level = quiet.level
        quiet.setLevel(logging.CRITICAL)
        try:
            with open(pt2, "rb") as handle:  # a file object: Windows and non-ASCII folder names
                program = torch.export.load(handle)
            if device.type == "cpu":
                return program.module(), pt2.name
            try:
                from torch.export.passes import move_to_device_pass
            except ImportError:  # torch before 2.6
                return program.module().to(device), pt2.name
            return move_to_device_pass(program, device).module(), pt2.name
        except Exception as exc:  # noqa: BLE001 - an older torch (no torch.export, or another file format)
            why = f"model.pt2 cannot be used with torch {torch.__version__} ({_first_line(exc)})"
        finally:
            quiet.setLevel(level)
    if not ts.is_file():
        raise SystemExit(f"cannot load the model: {why or 'model.pt2 and model.ts are missing'}")
    if why:
        print(f"{why}: using model.ts (TorchScript) instead", file=sys.stderr)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch.jit's deprecation notice: this is the fallback
        with open(ts, "rb") as handle:  # a file object: Windows and non-ASCII folder names (pytorch#75171)
            return torch.jit.load(handle, map_location=device).eval(), ts.name


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return (text.splitlines()[0] if text else type(exc).__name__)[:200]


def image_files(paths: list[str]) -> tuple[list[str], list[tuple[str, str]]]:
    """Files as given; folders searched recursively (hidden and non-image files skipped)."""
    files, missing, seen = [], [], set()
    for path in paths:
        path = os.path.expanduser(path)
        if os.path.isdir(path):
            found = []
            for dirpath, dirnames, filenames in os.walk(path):
                dirnames[:] = sorted(d for d in dirnames if not _hidden(d))
                found += [
                    os.path.join(dirpath, n) for n in sorted(filenames)
                    if not _hidden(n) and os.path.splitext(n)[1].lower() in IMAGE_EXTENSIONS
                ]
        elif os.path.isfile(path):
            found = [path]
        else:
            missing.append((path, "file not found"))
            continue
        for file in found:
            key = os.path.normcase(os.path.abspath(file))
            if key not in seen:
                seen.add(key)
                files.append(file)
    return files, missing


def _hidden(name: str) -> bool:
    return name.startswith(".") or name.lower() in SYSTEM_FILES


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Classify images with the exported model.")
    parser.add_argument("images", nargs="+", metavar="IMAGE", help="image files or folders")
    parser.add_argument("--top-k", type=int, default=1, help="also print the K best labels")
    parser.add_argument("--device", default="cpu", help="cpu (default) or cuda")
    parser.add_argument("--batch-size", type=int, default=32)
    args = parser.parse_args(argv)

    labels = json.loads((HERE / "labels.json").read_text(encoding="utf-8"))
    prep = json.loads((HERE / "preprocessing.json").read_text(encoding="utf-8"))
    device = torch.device(args.device)
    model, _name = load_model(device)

    files, problems = image_files(args.images)
    for path, reason in problems:
        print(f"cannot read {path}: {reason}", file=sys.stderr)
    done = 0
    top_k = max(1, min(args.top_k, len(labels)))
    for start in range(0, len(files), args.batch_size):
        arrays, names = [], []
        for path in files[start : start + args.batch_size]:
            try:
                arrays.append(load_image(path, prep))
                names.append(path)
            except Exception as exc:  # noqa: BLE001 - report and go on
                print(f"cannot read {path}: {str(exc) or type(exc).__name__}", file=sys.stderr)
        if not arrays:
            continue
        with torch.no_grad():
            x = normalize(torch.from_numpy(np.stack(arrays)).to(device), prep)
            probs = torch.softmax(model(x).float(), 1).cpu()
        for path, row in zip(names, probs):  # noqa: B905 - runs on Python 3.9 too
            best = int(row.argmax())
            line = f"{path}\t{labels[best]}\t{float(row[best]):.4f}"
            if top_k > 1:
                values, order = row.topk(top_k)
                line += "\t" + "\t".join(f"{labels[int(i)]}={float(v):.4f}" for v, i in zip(values, order))  # noqa: B905
            print(line)
            done += 1
    if not files:
        print("no image files found", file=sys.stderr)
        return 2
    return 0 if done else 1


if __name__ == "__main__":
    sys.exit(main())
