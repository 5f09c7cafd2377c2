"""Helpers of the smoke test (packaging/smoke_test.py): test images, output parsing, watching
for DataLoader worker processes, a virtual X server, and checking exported models with another
Python. Standard library only. Unit tests: tests/packaging/test_smoke_helpers.py.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import struct
import subprocess
import threading
import time
import zlib
from pathlib import Path

from buildlib import APP_NAME

BARE_PATH = "/usr/bin:/bin"


def write_png(path: Path, pixels: list[list[tuple[int, int, int]]]) -> None:
    """An 8-bit RGB PNG from rows of (r, g, b), with the standard library only."""
    height, width = len(pixels), len(pixels[0])
    raw = b"".join(b"\x00" + bytes(c for px in row for c in px) for row in pixels)

    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw))
                     + chunk(b"IEND", b""))


def write_tiff_pages(path: Path, planes: list[list[list[int]]]) -> None:
    """A plain multi-page 16-bit TIFF (one page per channel, no metadata, uncompressed), with
    the standard library only: what a lab instrument without OME metadata writes."""
    height, width = len(planes[0]), len(planes[0][0])
    out = bytearray(b"II*\x00" + struct.pack("<I", 0))
    previous_next = 4  # where the offset of the next IFD is written
    for plane in planes:
        strip = len(out)
        out += struct.pack(f"<{width * height}H", *(v for row in plane for v in row))
        if len(out) % 2:
            out += b"\x00"
        struct.pack_into("<I", out, previous_next, len(out))
        entries = [(256, 4, width), (257, 4, height), (258, 3, 16), (259, 3, 1), (262, 3, 1), (273, 4, strip),
                   (277, 3, 1), (278, 4, height), (279, 4, width * height * 2), (284, 3, 1)]
        out += struct.pack("<H", len(entries))
        for tag, kind, value in entries:
            out += struct.pack("<HHI", tag, kind, 1) + (struct.pack("<HH", value, 0) if kind == 3
                                                         else struct.pack("<I", value))
        previous_next = len(out)
        out += struct.pack("<I", 0)
    path.write_bytes(bytes(out))


def make_tiff_folder(root: Path, per_class: int = 4, size: int = 16, channels: int = 4, seed: int = 0) -> Path:
    """Two classes of 12-bit, 4-channel stacks: only the last channel differs (a bright square)."""
    rng = random.Random(seed)
    for k, label in enumerate(("plain", "spot")):
        (root / label).mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            planes = [[[rng.randint(800, 1200)
                        + (2000 if k and c == channels - 1 and 4 <= y < 12 and 4 <= x < 12 else 0)
                        for x in range(size)] for y in range(size)] for c in range(channels)]
            write_tiff_pages(root / label / f"{i}.tif", planes)
    return root


def make_image_folder(root: Path, per_class: int = 10, size: int = 32, seed: int = 0) -> Path:
    """Two learnable classes: horizontal and vertical stripes, random phase and noise."""
    rng = random.Random(seed)
    for label in ("horizontal", "vertical"):
        (root / label).mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            period, phase = rng.randint(4, 8), rng.randint(0, 7)
            rows = []
            for y in range(size):
                row = []
                for x in range(size):
                    on = ((y if label == "horizontal" else x) + phase) % period < period // 2
                    v = max(0, min(255, (220 if on else 35) + rng.randint(-25, 25)))
                    row.append((v, v, v))
                rows.append(row)
            write_png(root / label / f"{i:03d}.png", rows)
    return root


def expect_ok(proc: subprocess.CompletedProcess, what: str) -> subprocess.CompletedProcess:
    assert proc.returncode == 0, f"{what} exited {proc.returncode}: {tail(proc.stderr or proc.stdout)}"
    return proc


def last_json(text: str) -> dict:
    """The output as one JSON object (scan prints it indented), else its last JSON line."""
    try:
        return json.loads(text)
    except ValueError:
        pass
    for line in reversed(text.strip().splitlines()):
        line = line.strip()
        if line.startswith("{"):
            return json.loads(line)
    raise AssertionError("no JSON line in the output")


def tail(text: str, lines: int = 6) -> str:
    return " | ".join(text.strip().splitlines()[-lines:])


class WorkerWatch:
    """Sees processes the frozen app starts as ``EXE --multiprocessing-fork ...`` (spawned workers)."""

    def __init__(self, exe: Path) -> None:
        self.exe = os.fsencode(str(exe))
        self.pids: set[int] = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> WorkerWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(0.05):
            for name in os.listdir("/proc"):
                if not name.isdigit():
                    continue
                try:
                    with open(f"/proc/{name}/cmdline", "rb") as f:
                        argv = f.read().split(b"\0")
                except OSError:
                    continue
                if argv[0] == self.exe and b"--multiprocessing-fork" in argv:
                    self.pids.add(int(name))


def free_display_number(start: int = 90) -> int:
    """An X display number no server uses here (no lock file, no socket)."""
    return next(n for n in range(start, start + 200) if not Path(f"/tmp/.X{n}-lock").exists()
                and not Path(f"/tmp/.X11-unix/X{n}").exists())


class Xvfb:
    """A virtual X server (when Xvfb is installed): the window on Qt's xcb plugin, as on a desktop."""

    def __init__(self) -> None:
        self.proc: subprocess.Popen | None = None
        self.display = ""

    def __enter__(self) -> Xvfb:
        n = free_display_number()
        self.proc = subprocess.Popen([shutil.which("Xvfb") or "Xvfb", f":{n}", "-screen", "0", "1280x800x24",
                                      "-nolisten", "tcp"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 20
        while not Path(f"/tmp/.X11-unix/X{n}").exists():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError("Xvfb did not start")
            time.sleep(0.1)
        self.display = f":{n}"
        return self

    def __exit__(self, *exc) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(timeout=30)




# ---------------------------------------------------------------- exported models


def reported_difference(lines: list[str], prefix: str) -> float:
    """The max |difference| an export check line reports, e.g. from
    'checked: onnxruntime: max |difference| 2.38e-07 vs the model, batch of 3'."""
    start = f"{prefix}: max |difference| "
    for line in lines:
        text = line.removeprefix("checked: ").strip()
        if text.startswith(start):
            return float(text[len(start):].split()[0])
    raise AssertionError(f"no '{prefix}' check reported (got {lines})")


def script_python(exe: Path | None) -> Path | None:
    """The Python a pip-installed console script runs with (its #! line), when it has one."""
    if exe is None:
        return None
    try:
        with open(exe, "rb") as f:
            first = f.readline(4096).decode("utf-8", "replace").strip()
    except OSError:
        return None
    if not first.startswith("#!"):
        return None
    target = Path(first[2:].strip().split()[0]) if first[2:].strip() else None
    if target is None or not target.name.startswith("python") or not target.is_file():
        return None
    return target


# Runs in another Python (torch, onnxruntime and tlgui installed, not the frozen app): the
# exported files must load there and give what the model.pt gives, on a batch size the
# export never saw. Prints one JSON line.
EXPORT_CHECK = r"""
import json, sys, warnings
import onnxruntime as ort
import torch
from tlgui.core.base.preprocessing import Preprocessing
from tlgui.core.models.checkpoint import load_checkpoint, model_from_checkpoint

model_pt, ts_path, onnx_path, pt2_path = sys.argv[1:5]
ckpt = load_checkpoint(model_pt)
model = model_from_checkpoint(ckpt, "cpu").eval()
prep = Preprocessing.from_dict(ckpt["preprocessing"])
channels = int(ckpt.get("in_channels", prep.channels))
x = torch.randn(5, channels, prep.crop, prep.crop, generator=torch.Generator().manual_seed(7))
extra = {"labels.json": ""}
with warnings.catch_warnings(), torch.no_grad():
    warnings.simplefilter("ignore")
    ref = model(x).float()
    scripted = torch.jit.load(ts_path, map_location="cpu", _extra_files=extra)
    ts_out = scripted(x).float()
with warnings.catch_warnings(record=True) as caught, torch.no_grad():
    warnings.simplefilter("always")  # torch.export must load without a deprecation notice
    pt2_extra = {"labels.json": ""}
    pt2_out = torch.export.load(pt2_path, extra_files=pt2_extra).module()(x).float()
pt2_warnings = [str(w.message)[:200] for w in caught if "deprecat" in str(w.message).lower()]
session = ort.InferenceSession(onnx_path, providers=["CPUExecutionProvider"])
onnx_out = torch.as_tensor(session.run(None, {session.get_inputs()[0].name: x.numpy()})[0]).float()
print(json.dumps({
    "shape": list(ref.shape),
    "torchscript": float((ts_out - ref).abs().max()) if ts_out.shape == ref.shape else None,
    "onnx": float((onnx_out - ref).abs().max()) if onnx_out.shape == ref.shape else None,
    "pt2": float((pt2_out - ref).abs().max()) if pt2_out.shape == ref.shape else None,
    "same_labels": all(bool((out.argmax(1) == ref.argmax(1)).all()) for out in (ts_out, onnx_out, pt2_out)),
    "ts_labels_match": json.loads(extra["labels.json"]) == list(ckpt["classes"]),
    "pt2_labels_match": json.loads(pt2_extra["labels.json"]) == list(ckpt["classes"]),
    "pt2_warnings": pt2_warnings,
    "torch": torch.__version__, "onnxruntime": ort.__version__,
}))
"""


def check_exports(python: Path, model_pt: Path, ts: Path, onnx: Path, pt2: Path, env: dict[str, str],
                  tolerance: float = 1e-4) -> dict:
    """Load the exported TorchScript, ONNX and torch.export (.pt2) files in ``python`` and compare
    them with the model.pt there; raises AssertionError saying what differs."""
    proc = subprocess.run([str(python), "-c", EXPORT_CHECK, str(model_pt), str(ts), str(onnx), str(pt2)],
                          env=env, capture_output=True, text=True, encoding="utf-8", errors="replace", timeout=600)
    assert proc.returncode == 0, f"{python} could not load the exports: {tail(proc.stderr or proc.stdout)}"
    report = last_json(proc.stdout)
    for fmt in ("torchscript", "onnx", "pt2"):
        diff = report.get(fmt)
        assert diff is not None, f"the {fmt} export gives outputs of another shape than the model {report['shape']}"
        assert diff <= tolerance, f"the {fmt} export differs from the model by {diff:.3g} (> {tolerance:g})"
    assert report["same_labels"], f"the exports label the batch differently from the model: {report}"
    assert report["ts_labels_match"], "the TorchScript file's labels.json is not the model's class list"
    assert report["pt2_labels_match"], "the .pt2 file's labels.json is not the model's class list"
    assert not report["pt2_warnings"], f"torch.export.load warned: {report['pt2_warnings']}"
    return report


def bundle_labels(stdout: str) -> dict[str, str]:
    """{image file name relative to its class folder: label} from the bundle's predict.py output
    (path TAB label TAB probability per line)."""
    out = {}
    for line in stdout.splitlines():
        parts = line.split("\t")
        if len(parts) >= 3:
            path = Path(parts[0])
            out[f"{path.parent.name}/{path.name}"] = parts[1]
    return out


# ---------------------------------------------------------------- install.sh


def install_round_trip(app_dir: Path, home: Path, version: str) -> str:
    """install.sh into a new HOME, the installed command and menu entry, then --uninstall."""
    home.mkdir()
    env = {"HOME": str(home), "PATH": BARE_PATH}
    proc = subprocess.run(["sh", str(app_dir / "install.sh")],
                          env=env, capture_output=True, text=True, encoding="utf-8", errors="replace", timeout=900)
    expect_ok(proc, "install.sh")
    link = home / ".local" / "bin" / APP_NAME
    desktop = home / ".local" / "share" / "applications" / "tlgui.desktop"
    assert link.is_symlink(), f"no {link}"
    got = subprocess.run([str(link), "--version"],
                         env=env, capture_output=True, text=True, encoding="utf-8", errors="replace", timeout=300)
    assert got.stdout.strip() == f"tlgui {version}", f"{link} --version: {got.stdout!r} {tail(got.stderr)}"
    text = desktop.read_text(encoding="utf-8")
    exec_line = next(line for line in text.splitlines() if line.startswith("Exec="))
    assert str(home / ".local" / "lib" / APP_NAME / APP_NAME) in exec_line, exec_line
    validated = ""
    if shutil.which("desktop-file-validate"):
        check = subprocess.run(["desktop-file-validate", str(desktop)],
                               capture_output=True, text=True, encoding="utf-8", errors="replace")
        assert check.returncode == 0 and not check.stdout.strip(), f"desktop-file-validate: {check.stdout}"
        validated = ", desktop-file-validate clean"
    proc = subprocess.run(["sh", str(home / ".local" / "lib" / APP_NAME / "install.sh"), "--uninstall"],
                          env=env, capture_output=True, text=True, encoding="utf-8", errors="replace", timeout=300)
    expect_ok(proc, "install.sh --uninstall")
    left = [p for p in (link, desktop, home / ".local" / "lib" / APP_NAME) if p.exists() or p.is_symlink()]
    assert not left, f"left behind after --uninstall: {left}"
    return f"installed, ran through ~/.local/bin/tlgui, menu entry{validated}, uninstalled"
