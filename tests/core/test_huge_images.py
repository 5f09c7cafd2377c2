"""Issue 11: a 150 MP PNG among normal photos is skipped with a reason and memory stays bounded.

Runs ``tlgui train`` in a child process that reports its own peak RSS (``ru_maxrss`` of the
child itself, not RUSAGE_CHILDREN, which would be the largest child this test process ever had).
"""

import json
import os
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
from PIL import Image

PEAK_LIMIT_BYTES = 2 * 1024**3  # the issue: "must not take the process past ~2 GB"

CHILD = """
import json, resource, sys
from tlgui.cli import main
code = main(sys.argv[1:])
print(json.dumps({"code": code, "maxrss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}))
"""


def huge_png(path: Path, width: int, height: int) -> None:
    """A flat-colour RGB PNG written row by row: the test never holds its pixels."""
    comp = zlib.compressobj(9)
    row = b"\x00" + bytes([90, 140, 200]) * width
    body = b"".join(comp.compress(row) for _ in range(height)) + comp.flush()

    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", body) + chunk(b"IEND", b""))


def test_150_megapixel_png_is_skipped_with_a_reason_and_memory_stays_bounded(tmp_path):
    data = tmp_path / "photos"
    rng = np.random.default_rng(0)
    for c, scale in (("bright", 1), ("dark", 3)):
        (data / c).mkdir(parents=True)
        for i in range(10):
            Image.fromarray(rng.integers(0, 255, (48, 48, 3), np.uint8) // scale).save(data / c / f"{i}.png")
    huge_png(data / "bright" / "huge150.png", 12500, 12000)  # 150 MP: over tlgui's 90 MP limit
    huge_png(data / "bright" / "big60.png", 9000, 6700)  # 60 MP: decoded, then resized
    run = tmp_path / "run"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, "train", "--data", str(data), "--model", "smallcnn", "--epochs", "1",
         "--out", str(run)],
        capture_output=True, text=True, env=env, timeout=1800)
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert report["code"] == 0, proc.stderr
    assert "huge150.png (image too large: 12500x12000 (150 MP)" in proc.stdout + proc.stderr
    peak = report["maxrss_kb"] * 1024
    assert peak < PEAK_LIMIT_BYTES, f"peak RSS {peak / 1024**3:.2f} GB"
    summary = json.loads((run / "summary.json").read_text())
    assert [Path(s["path"]).name for s in summary["skipped_files"]] == ["huge150.png"]
    assert summary["train_images"] + summary["val_images"] == 21  # the 60 MP one was used
