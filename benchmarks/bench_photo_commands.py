"""Issue 27's protocol as a user meets it: whole ``tlgui train`` commands on 243 photos at 12 MP
against the same photos at 500 px (mobilenet_v3_small, random weights, 96 px, 1 epoch), first with
an empty image cache (cold), then again with it filled (warm). Prints medians and the two ratios.

    python benchmarks/bench_photo_commands.py --data-dir /tmp/photos [--repeats 3] [--tree PATH]

The photos are made once by ``bench_photos.py --jobs big --data-dir DIR`` (or here, if missing).
``--tree`` runs another checkout's tlgui (PYTHONPATH) with the same photos, for a before/after.
Whole commands include the process start (Python, torch, the CLI); ``bench_photos.py --jobs big``
times the same job in-process, which shows the decode alone. Nothing is asserted.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

from bench_photos import _made, make_photos


def run(tree: str | None, data: str, home: str, out: str) -> float:
    env = {**os.environ, "TLGUI_HOME": home, "QT_QPA_PLATFORM": "offscreen"}
    if tree:
        env["PYTHONPATH"] = tree
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "tlgui", "train", "--data", data, "--model", "mobilenet_v3_small",
                           "--weights", "none", "--image-size", "96", "--epochs", "1", "--out", out],
                          env=env, capture_output=True, text=True, encoding="utf-8", errors="replace")
    if done.returncode != 0:
        sys.exit(f"tlgui train failed: {done.stderr[-800:]}")
    return time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", required=True)
    ap.add_argument("--images", type=int, default=243)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--tree", help="a tlgui checkout to run instead of the installed one")
    args = ap.parse_args()
    for name, width, height in (("normal", 500, 375), ("big", 4000, 3000)):
        folder = os.path.join(args.data_dir, name)
        if not _made(folder, args.images):
            make_photos(folder, args.images, width, height, seed=2)
    rows: dict[tuple[str, str], list[float]] = {}
    for _ in range(args.repeats):
        for kind in ("big", "normal"):
            home = tempfile.mkdtemp(prefix="tlgui-bench-")
            try:
                for phase in ("cold", "warm"):
                    seconds = run(args.tree, os.path.join(args.data_dir, kind), home, os.path.join(home, phase))
                    rows.setdefault((kind, phase), []).append(seconds)
            finally:
                shutil.rmtree(home, ignore_errors=True)
    med = {key: statistics.median(values) for key, values in rows.items()}
    for (kind, phase), values in sorted(rows.items()):
        print(f"{'12 MP' if kind == 'big' else '500 px'} {phase}: {med[(kind, phase)]:.2f} s "
              f"(each: {', '.join(f'{v:.2f}' for v in values)})")
    print(f"12 MP / 500 px: cold {med[('big', 'cold')] / med[('normal', 'cold')]:.2f}x, "
          f"warm {med[('big', 'warm')] / med[('normal', 'warm')]:.2f}x")


if __name__ == "__main__":
    main()
