#!/usr/bin/env python3
"""Smoke test of the frozen Linux app, run the way a user gets it.

    python3 packaging/smoke_test.py [DIST] [--installed PATH/TO/tlgui] [--keep] [--no-install]

DIST is the folder packaging/build.py wrote (default: dist). The archive in it is unpacked into
a new temporary folder whose name has a space (or, without an archive, DIST/tlgui is copied
there), and every command runs from there in a bare environment: ``env -i`` with a new HOME,
PATH=/usr/bin:/bin, and QT_QPA_PLATFORM=offscreen only where a window opens. Steps:
--version; no display (the installed app's one plain line, exit 2); --self-test three times
(offscreen), and once on X11 when Xvfb is installed;
a short demo (the transfer check); a training run with a DataLoader worker process
(freeze_support); evaluate; TorchScript and ONNX export; scan; predict; weights; layers;
install.sh and its --uninstall. Prints the folder and archive sizes, the CUDA libraries, the
self-test times and the 20 largest files. Exit status 0 when every step passed, else 1.
Standard library only.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import shutil
import struct
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import zlib
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from buildlib import (  # noqa: E402
    APP_NAME,
    app_executable,
    cuda_libraries,
    extract_tar,
    folder_size,
    human_size,
    largest_files,
    read_version,
)

BARE_PATH = "/usr/bin:/bin"
NO_DISPLAY_PREFIX = "tlgui: error: no screen to open the window on"
SELF_TEST_RUNS = 3


# ---------------------------------------------------------------- small helpers


def write_png(path: Path, pixels: list[list[tuple[int, int, int]]]) -> None:
    """An 8-bit RGB PNG from rows of (r, g, b), with the standard library only."""
    height, width = len(pixels), len(pixels[0])
    raw = b"".join(b"\x00" + bytes(c for px in row for c in px) for row in pixels)

    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


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


class Xvfb:
    """A virtual X server (when Xvfb is installed): the window on Qt's xcb plugin, as on a desktop."""

    def __init__(self) -> None:
        self.proc: subprocess.Popen | None = None
        self.display = ""

    def __enter__(self) -> Xvfb:
        n = next(n for n in range(90, 200) if not Path(f"/tmp/.X{n}-lock").exists()
                 and not Path(f"/tmp/.X11-unix/X{n}").exists())
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


# ---------------------------------------------------------------- the run


@dataclass
class Step:
    name: str
    ok: bool
    seconds: float
    detail: str


@dataclass
class Smoke:
    app_dir: Path  # the unpacked copy
    work: Path  # the current folder of every command
    home: Path
    steps: list[Step] = field(default_factory=list)
    self_tests: list[dict] = field(default_factory=list)

    @property
    def exe(self) -> Path:
        return app_executable(self.app_dir)

    def env(self, display: bool = False, **extra: str) -> dict[str, str]:
        env = {"HOME": str(self.home), "PATH": BARE_PATH}
        if display:
            env["QT_QPA_PLATFORM"] = "offscreen"
        env.update(extra)
        return env

    def tlgui(self, *args: str, display: bool = False, timeout: float = 900, exe: Path | None = None,
              **extra: str) -> subprocess.CompletedProcess:
        return subprocess.run([str(exe or self.exe), *args], cwd=self.work, env=self.env(display, **extra),
                              capture_output=True, text=True, timeout=timeout)

    def step(self, name: str, fn) -> object:
        t = time.monotonic()
        try:
            detail = fn() or ""
            ok = True
        except AssertionError as exc:
            detail, ok = str(exc) or "assertion failed", False
        except Exception as exc:  # noqa: BLE001 - report and go on with the other steps
            detail, ok = f"{type(exc).__name__}: {exc} {tail(traceback.format_exc(), 3)}", False
        s = Step(name, ok, time.monotonic() - t, detail)
        self.steps.append(s)
        print(f"smoke: {'PASS' if ok else 'FAIL'}  {name} ({s.seconds:.1f} s){': ' + detail if detail else ''}", flush=True)
        return s


def expect_ok(proc: subprocess.CompletedProcess, what: str) -> None:
    assert proc.returncode == 0, f"{what} exited {proc.returncode}: {tail(proc.stderr or proc.stdout)}"


def run_steps(s: Smoke, version: str, installed: Path | None, do_install: bool) -> None:
    data = make_image_folder(s.work / "images")
    run_dir = s.work / "run"

    def version_step():
        proc = s.tlgui("--version")
        expect_ok(proc, "--version")
        assert proc.stdout.strip() == f"tlgui {version}", f"printed {proc.stdout.strip()!r}"
        return proc.stdout.strip()

    def no_display():
        proc = s.tlgui()  # neither DISPLAY, WAYLAND_DISPLAY nor QT_QPA_PLATFORM
        lines = proc.stderr.strip().splitlines()
        assert proc.returncode == 2, f"exited {proc.returncode}, not 2: {tail(proc.stderr)}"
        assert len(lines) == 1 and lines[0].startswith(NO_DISPLAY_PREFIX), f"printed {proc.stderr!r}"
        if installed:
            ref = s.tlgui(exe=installed)
            assert (ref.returncode, ref.stderr) == (proc.returncode, proc.stderr), (
                f"the installed app printed {ref.stderr!r} (exit {ref.returncode}), the frozen one {proc.stderr!r}")
            return f"the same line and exit status 2 as {installed}"
        return lines[0][:60] + "..."

    def self_test(i: int, x_display: str = ""):
        def go():
            shot = s.work / f"self-test-{i}.png"
            t = time.monotonic()
            if x_display:  # Qt picks xcb from DISPLAY, as on a desktop
                proc = s.tlgui("--self-test", "--screenshot", str(shot), DISPLAY=x_display)
            else:
                proc = s.tlgui("--self-test", "--screenshot", str(shot), display=True)
            wall = time.monotonic() - t
            expect_ok(proc, "--self-test")
            report = last_json(proc.stdout)
            assert report.get("ok") is True, f"self-test report: {report}"
            assert shot.is_file() and shot.stat().st_size > 0, "no screenshot"
            report["wall_s"] = round(wall, 1)
            if not x_display:
                s.self_tests.append(report)
            return (f"{wall:.1f} s wall, first paint {report.get('first_paint_since_process_start_ms')} ms after "
                    f"the process started, torch import {report.get('torch_import_s')} s, "
                    f"val accuracy {report.get('val_accuracy')}")
        return go

    def demo():
        proc = s.tlgui("demo", "--epochs", "1", "--json", "--out", str(s.work / "demo"))
        expect_ok(proc, "demo")
        report = last_json(proc.stdout)
        assert report["status"] == "completed", report
        assert Path(report["compare_png"]).is_file(), "no compare.png"
        return f"{len(report['strategies'])} strategies, {report['total_seconds']} s: {report['verdict'][:70]}"

    def train_with_workers():
        # decode on demand, so that the DataLoader starts a worker process (the frozen
        # executable again, with --multiprocessing-fork): proves freeze_support() works
        with WorkerWatch(s.exe) as watch:
            proc = s.tlgui("train", "--data", str(data), "--model", "smallcnn", "--epochs", "2",
                           "--batch-size", "8", "--num-workers", "1", "--out", str(run_dir), "--quiet",
                           TLGUI_MEMORY_BUDGET_MB="0")
        expect_ok(proc, "train")
        summary = json.loads((run_dir / "summary.json").read_text())
        assert summary["status"] == "completed", summary["status"]
        assert (run_dir / "model.pt").is_file(), "no model.pt"
        assert watch.pids, "no DataLoader worker process was seen"
        return f"{len(watch.pids)} worker process(es), val accuracy {summary.get('final_val_accuracy')}"

    def evaluate():
        proc = s.tlgui("evaluate", str(run_dir / "model.pt"), "--data", str(data), "--json")
        expect_ok(proc, "evaluate")
        return f"accuracy {last_json(proc.stdout).get('accuracy')}"

    def export(fmt: str, suffix: str):
        def go():
            out = s.work / "export" / f"model{suffix}"
            proc = s.tlgui("export", str(run_dir / "model.pt"), "--format", fmt, "--out", str(out))
            expect_ok(proc, f"export {fmt}")
            assert out.is_file() and out.stat().st_size > 0, f"no {out}"
            checks = [line for line in proc.stdout.splitlines() if line.startswith("checked:")]
            assert checks, f"no checks reported: {tail(proc.stdout)}"
            return "; ".join(c[len("checked: "):] for c in checks)
        return go

    def scan():
        proc = s.tlgui("scan", str(data), "--json")
        expect_ok(proc, "scan")
        report = last_json(proc.stdout)
        assert report.get("files") == 20, f"scan found {report.get('files')} of 20 images"
        return f"{report['files']} images, {len(report.get('warnings') or [])} warning(s)"

    def predict():
        out = s.work / "predictions.csv"
        proc = s.tlgui("predict", str(run_dir / "model.pt"), str(data), "--csv", str(out), "--quiet")
        expect_ok(proc, "predict")
        with open(out, newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
        assert len(rows) == 20, f"{len(rows)} predictions for 20 images"
        right = sum(1 for r in rows if Path(r["path"]).parent.name == r["label"])
        return f"{len(rows)} images, {right} labelled as their folder"

    def weights_and_layers():
        expect_ok(s.tlgui("weights", "list", "--json"), "weights list")
        expect_ok(s.tlgui("layers", "smallcnn"), "layers smallcnn")
        return "weights list, layers smallcnn"

    s.step("--version", version_step)
    s.step("no display: plain line, exit 2", no_display)
    for i in range(1, SELF_TEST_RUNS + 1):
        note = " (new HOME: trains the demo's source model first)" if i == 1 else ""
        s.step(f"--self-test run {i}{note}", self_test(i))
    if shutil.which("Xvfb"):
        def on_x11():
            with Xvfb() as x:
                return self_test(0, x.display)()

        s.step("--self-test on X11 (Xvfb, Qt's xcb platform plugin)", on_x11)
    else:
        print("smoke: skipped the X11 self-test: no Xvfb (apt install xvfb)")
    s.step("demo --epochs 1 (the transfer check)", demo)
    s.step("train with a DataLoader worker process", train_with_workers)
    s.step("evaluate", evaluate)
    s.step("export torchscript", export("torchscript", ".ts"))
    s.step("export onnx", export("onnx", ".onnx"))
    s.step("scan", scan)
    s.step("predict", predict)
    s.step("weights, layers", weights_and_layers)
    if do_install:
        s.step("install.sh, then --uninstall", lambda: install_round_trip(s, version))


def install_round_trip(s: Smoke, version: str) -> str:
    home = s.work.parent / "home for install"
    home.mkdir()
    env = {"HOME": str(home), "PATH": BARE_PATH}
    proc = subprocess.run(["sh", str(s.app_dir / "install.sh")], env=env, capture_output=True, text=True, timeout=900)
    expect_ok(proc, "install.sh")
    link = home / ".local" / "bin" / APP_NAME
    desktop = home / ".local" / "share" / "applications" / "tlgui.desktop"
    assert link.is_symlink(), f"no {link}"
    got = subprocess.run([str(link), "--version"], env=env, capture_output=True, text=True, timeout=300)
    assert got.stdout.strip() == f"tlgui {version}", f"{link} --version: {got.stdout!r} {tail(got.stderr)}"
    text = desktop.read_text(encoding="utf-8")
    exec_line = next(line for line in text.splitlines() if line.startswith("Exec="))
    assert str(home / ".local" / "lib" / APP_NAME / APP_NAME) in exec_line, exec_line
    validated = ""
    if shutil.which("desktop-file-validate"):
        check = subprocess.run(["desktop-file-validate", str(desktop)], capture_output=True, text=True)
        assert check.returncode == 0 and not check.stdout.strip(), f"desktop-file-validate: {check.stdout}"
        validated = ", desktop-file-validate clean"
    proc = subprocess.run(["sh", str(home / ".local" / "lib" / APP_NAME / "install.sh"), "--uninstall"],
                          env=env, capture_output=True, text=True, timeout=300)
    expect_ok(proc, "install.sh --uninstall")
    left = [p for p in (link, desktop, home / ".local" / "lib" / APP_NAME) if p.exists() or p.is_symlink()]
    assert not left, f"left behind after --uninstall: {left}"
    return f"installed, ran through ~/.local/bin/tlgui, menu entry{validated}, uninstalled"


# ---------------------------------------------------------------- sizes and summary


def print_sizes(app_dir: Path, archive: Path | None) -> None:
    size = folder_size(app_dir)
    print(f"smoke: folder {human_size(size)} ({size:,} bytes)")
    if archive is not None:
        print(f"smoke: archive {archive.name} {human_size(archive.stat().st_size)} ({archive.stat().st_size:,} bytes)")
    cuda = cuda_libraries(app_dir)
    if cuda:
        total = sum(n for n, _ in cuda)
        print(f"smoke: CUDA libraries: {len(cuda)} files, {human_size(total)} ({100 * total / size:.0f} % of the folder)")
    else:
        print("smoke: CUDA libraries: none")
    print("smoke: the 20 largest files:")
    for n, name in largest_files(app_dir, 20):
        print(f"  {human_size(n):>9}  {name}")


def print_summary(s: Smoke) -> None:
    if s.self_tests:
        walls = [r["wall_s"] for r in s.self_tests]
        paints = [r.get("first_paint_since_process_start_ms") for r in s.self_tests]
        print(f"smoke: self-test wall time per run: {', '.join(f'{w:.1f} s' for w in walls)} "
              f"(run 1 also trains the demo's source model)")
        print(f"smoke: first paint of the window after process start: {', '.join(f'{p} ms' for p in paints)}")
    failed = [st.name for st in s.steps if not st.ok]
    print(f"smoke: {len(s.steps) - len(failed)} of {len(s.steps)} steps passed"
          + (f"; FAILED: {', '.join(failed)}" if failed else ""))


def locate(dist: Path) -> tuple[Path | None, Path | None]:
    """(archive, app folder) in DIST; either may be missing."""
    archives = sorted(dist.glob(f"{APP_NAME}-*-linux-*.tar.gz"))
    folder = dist / APP_NAME
    return (archives[-1] if archives else None), (folder if app_executable(folder).exists() else None)


def installed_exe(arg: str | None) -> Path | None:
    """The --installed executable as an absolute path: the steps run in a temporary folder, so a
    relative path (CI passes .venv/bin/tlgui) would not be found from there."""
    if not arg:
        return None
    exe = Path(arg).expanduser().absolute()
    if not exe.is_file():
        raise SystemExit(f"smoke: error: --installed {arg}: no such file ({exe})")
    return exe


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="packaging/smoke_test.py", description=__doc__.split("\n\n")[0])
    p.add_argument("dist", nargs="?", default="dist", help="the build's output folder (default: dist)")
    p.add_argument("--installed", metavar="TLGUI", help="an installed (pip) tlgui to compare the no-display line with")
    p.add_argument("--keep", action="store_true", help="keep the temporary folder")
    p.add_argument("--no-install", action="store_true", help="skip the install.sh round trip (it copies the app)")
    args = p.parse_args(argv)
    if not sys.platform.startswith("linux"):
        print("smoke: error: this smoke test runs the Linux build; see the README for Windows and macOS", file=sys.stderr)
        return 2
    installed = installed_exe(args.installed)
    dist = Path(args.dist).resolve()
    archive, folder = locate(dist)
    if archive is None and folder is None:
        print(f"smoke: error: no tlgui build in {dist}: run python3 packaging/build.py first", file=sys.stderr)
        return 2
    version = read_version()
    tmp = Path(tempfile.mkdtemp(prefix="tlgui-smoke-"))
    try:
        moved = tmp / "moved here"  # a new place, with a space in its path
        moved.mkdir()
        t = time.monotonic()
        if archive is not None:
            app_dir = extract_tar(archive, moved)
            how = f"unpacked {archive.name}"
        else:
            app_dir = moved / APP_NAME
            shutil.copytree(folder, app_dir, symlinks=True)
            how = f"copied {folder}"
        print(f"smoke: {how} to {app_dir} in {time.monotonic() - t:.0f} s", flush=True)
        print_sizes(app_dir, archive)
        s = Smoke(app_dir=app_dir, work=tmp / "work", home=tmp / "home")
        s.work.mkdir()
        s.home.mkdir()
        run_steps(s, version, installed, not args.no_install)
        print_summary(s)
        return 0 if all(st.ok for st in s.steps) else 1
    finally:
        if args.keep:
            print(f"smoke: kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
