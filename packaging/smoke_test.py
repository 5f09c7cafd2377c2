#!/usr/bin/env python3
"""Smoke test of the frozen app (Linux, Windows, macOS), run the way a user gets it.

    python3 packaging/smoke_test.py [DIST] [--installed PATH/TO/tlgui] [--check-python PY] [--keep] [--no-install]

DIST is the folder packaging/build.py wrote (default: dist). The archive in it (Linux .tar.gz,
Windows .zip, macOS .dmg; smoke_layout.py knows each system's files) is unpacked into a new
temporary folder whose name has a space (or, without an archive, the built app is copied there),
and every command runs from there in a bare environment: a new HOME, the system's PATH only, and
QT_QPA_PLATFORM=offscreen only where a window opens. The command line runs through the console
executable (Windows: tlgui-cli.exe; macOS: tlgui.app/Contents/MacOS/tlgui). Linux-only steps (no
display, Qt platform plugins, X11, worker processes seen in /proc, install.sh) are skipped elsewhere,
and on Windows the windowed tlgui.exe runs the self-test once (no console: its exit status). Steps:
--version; no display, and no usable Qt platform plugin (each one plain line and exit 2, compared
with the installed app's); --self-test
three times (offscreen), and once on X11 when Xvfb is installed; a short demo (the transfer
check); compare; a training run with a DataLoader worker process (freeze_support); evaluate;
export to torch.export (.pt2), TorchScript, ONNX and a bundle (each checked by the app against the
model); scan; predict; the exported files loaded in another Python (the installed app's, or
--check-python: torch.export.load, torch.jit.load, onnxruntime and the bundle's predict.py must give
what model.pt gives, the .pt2 and the bundle without a deprecation warning);
weights list/path/import/models; layers; cache info; doctor --json; install.sh and its --uninstall. Prints the
folder and archive sizes, the CUDA libraries, the self-test times and the 20 largest files.
Exit status 0 when every step passed, else 1. Standard library only.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import json
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from buildlib import (  # noqa: E402
    cuda_libraries,
    folder_size,
    human_size,
    largest_files,
    read_version,
)
from smoke_helpers import (  # noqa: E402, F401 - write_png: used by the unit tests through this module
    WorkerWatch,
    Xvfb,
    bundle_labels,
    check_exports,
    expect_ok,
    free_display_number,
    install_round_trip,
    last_json,
    make_image_folder,
    make_tiff_folder,
    reported_difference,
    script_python,
    tail,
    write_png,
)
from smoke_layout import Layout, system_name, windowed_self_test  # noqa: E402

NO_DISPLAY_PREFIX = "tlgui: error: no screen to open the window on"
NO_PLATFORM_PREFIX = "tlgui: error: cannot open the window: "
SELF_TEST_RUNS = 3
EXPORT_TOLERANCE = 1e-4  # tlgui.core.results.export.TOLERANCE: a faithful export


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
    layout: Layout = field(default_factory=lambda: Layout(system_name()))

    @property
    def exe(self) -> Path:
        return self.layout.cli(self.app_dir)

    def env(self, display: bool = False, **extra: str) -> dict[str, str]:
        env = self.layout.env(self.home)
        if display:
            env["QT_QPA_PLATFORM"] = "offscreen"
        env.update(extra)
        return env

    def tlgui(self, *args: str, display: bool = False, timeout: float = 900, exe: Path | None = None,
              **extra: str) -> subprocess.CompletedProcess:
        return subprocess.run([str(exe or self.exe), *args], cwd=self.work, env=self.env(display, **extra),
                              capture_output=True, text=True, encoding="utf-8", errors="replace", timeout=timeout)

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
        print(f"smoke: {'PASS' if ok else 'FAIL'}  {name} ({s.seconds:.1f} s){': ' + detail if detail else ''}",
              flush=True)
        return s


def window_steps(s: Smoke, version: str, installed: Path | None) -> None:
    """--version, the no-display line, and the window's self-test."""

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
        return lines[0][:60] + "... (not compared: no --installed)"

    def no_platform_plugin():
        # Qt itself would print several lines, list its plugins (the frozen app has fewer) and dump core
        cases = {"QT_QPA_PLATFORM=nosuchplugin": {"QT_QPA_PLATFORM": "nosuchplugin"},
                 "DISPLAY without an X server": {"DISPLAY": f":{free_display_number(150)}"}}
        for label, extra in cases.items():
            proc = s.tlgui(**extra)
            lines = proc.stderr.strip().splitlines()
            assert proc.returncode == 2 and len(lines) == 1 and lines[0].startswith(NO_PLATFORM_PREFIX), (
                f"{label}: exited {proc.returncode}, printed {tail(proc.stderr, 3)!r}")
            if installed:
                ref = s.tlgui(exe=installed, **extra)
                assert (ref.returncode, ref.stderr) == (proc.returncode, proc.stderr), (
                    f"{label}: the installed app printed {tail(ref.stderr, 3)!r} (exit {ref.returncode}), "
                    f"the frozen one {proc.stderr!r}")
        same = f", the same as {installed}" if installed else " (not compared: no --installed)"
        return f"{' and '.join(cases)}: one line, exit 2{same}"

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
            guide = report.get("guide") or {}
            assert guide.get("ok") is True, f"Help > User guide: {guide}"
            assert shot.is_file() and shot.stat().st_size > 0, "no screenshot"
            report["wall_s"] = round(wall, 1)
            if not x_display:
                s.self_tests.append(report)
            return (f"{wall:.1f} s wall, first paint {report.get('first_paint_since_process_start_ms')} ms after "
                    f"the process started, torch import {report.get('torch_import_s')} s, "
                    f"val accuracy {report.get('val_accuracy')}, user guide {guide.get('page')} with "
                    f"{guide.get('images_loaded')} pictures")
        return go

    s.step("--version", version_step)
    if s.layout.system == "linux":  # X11/Wayland and Qt's xcb plugin: Linux only
        s.step("no display: plain line, exit 2", no_display)
        s.step("no usable Qt platform plugin: plain line, exit 2", no_platform_plugin)
    if s.layout.system == "windows":
        s.step("the windowed tlgui.exe (no stdout, no stderr): --self-test", windowed_self_test(s))
    for i in range(1, SELF_TEST_RUNS + 1):
        note = " (new HOME: trains the demo's source model first)" if i == 1 else ""
        s.step(f"--self-test run {i}{note}", self_test(i))
    if s.layout.system == "linux" and shutil.which("Xvfb"):
        def on_x11():
            with Xvfb() as x:
                return self_test(0, x.display)()

        s.step("--self-test on X11 (Xvfb, Qt's xcb platform plugin)", on_x11)
    else:
        print("smoke: skipped the X11 self-test: no Xvfb (apt install xvfb)")


def training_steps(s: Smoke, data: Path, run_dir: Path) -> None:
    """demo, compare, train (with a DataLoader worker process), evaluate."""

    def demo():
        proc = s.tlgui("demo", "--epochs", "1", "--json", "--out", str(s.work / "demo"))
        expect_ok(proc, "demo")
        report = last_json(proc.stdout)
        assert report["status"] == "completed", report
        assert Path(report["compare_png"]).is_file(), "no compare.png"
        return f"{len(report['strategies'])} strategies, {report['total_seconds']} s: {report['verdict'][:70]}"

    def compare():
        # the three strategies on the folder of images, from the demo's source model (in this HOME)
        out = s.work / "compare"
        proc = s.tlgui("compare", "--data", str(data), "--model", "smallcnn", "--weights", "demo:source",
                       "--epochs", "1", "--batch-size", "8", "--out", str(out), "--json")
        expect_ok(proc, "compare")
        report = last_json(proc.stdout)
        assert (out / "compare.json").is_file() and (out / "compare.png").is_file(), "no compare.json/compare.png"
        strategies = report.get("strategies") or {}
        assert report.get("status") == "completed", f"compare status {report.get('status')}"
        assert sorted(strategies) == ["finetune", "head", "scratch"], (
            f"strategies in compare.json: {sorted(strategies)}")
        done = [k for k, r in strategies.items() if r.get("status") == "completed" and r.get("epochs_completed") == 1]
        assert len(done) == 3, f"completed strategies: {done}"
        return f"{', '.join(strategies)}: {str(report.get('verdict'))[:70]}"

    def train_with_workers():
        # decode on demand, so that the DataLoader starts a worker process (the frozen
        # executable again, with --multiprocessing-fork): proves freeze_support() works
        linux = s.layout.system == "linux"  # the workers are seen through /proc
        with WorkerWatch(s.exe) if linux else contextlib.nullcontext() as watch:
            proc = s.tlgui("train", "--data", str(data), "--model", "smallcnn", "--epochs", "2",
                           "--batch-size", "8", "--num-workers", "1", "--out", str(run_dir), "--quiet",
                           TLGUI_MEMORY_BUDGET_MB="0")
        expect_ok(proc, "train")
        summary = json.loads((run_dir / "summary.json").read_text(encoding="utf-8"))
        assert summary["status"] == "completed", summary["status"]
        assert (run_dir / "model.pt").is_file(), "no model.pt"
        if not linux:
            return ("--num-workers 1 completed (workers not watched here), "
                    f"val accuracy {summary.get('final_val_accuracy')}")
        assert watch.pids, "no DataLoader worker process was seen"
        return f"{len(watch.pids)} worker process(es), val accuracy {summary.get('final_val_accuracy')}"

    def evaluate():
        proc = s.tlgui("evaluate", str(run_dir / "model.pt"), "--data", str(data), "--json")
        expect_ok(proc, "evaluate")
        report = last_json(proc.stdout)
        assert isinstance(report.get("accuracy"), (int, float)), f"no accuracy in {report}"
        return f"accuracy {report['accuracy']}"

    s.step("demo --epochs 1 (the transfer check)", demo)
    s.step("compare (scratch, head, fine-tune) from demo:source", compare)
    s.step("train with a DataLoader worker process", train_with_workers)
    s.step("evaluate", evaluate)


def model_steps(s: Smoke, data: Path, run_dir: Path, check_python: Path | None) -> None:
    """export (four formats), scan, predict, the exports in another Python, weights, layers, cache."""
    model = str(run_dir / "model.pt")
    exported = s.work / "export"
    predictions = s.work / "predictions.csv"

    def export(fmt: str, name: str, check: str):
        def go():
            out = exported / name
            proc = s.tlgui("export", model, "--format", fmt, "--out", str(out))
            expect_ok(proc, f"export {fmt}")
            assert out.exists(), f"no {out}"
            checks = [line for line in proc.stdout.splitlines() if line.startswith("checked:")]
            # the app compares the saved file with the model itself; it must have done so here
            diff = reported_difference(checks, check)
            assert diff <= EXPORT_TOLERANCE, f"{check} differs from the model by {diff:.3g}"
            return "; ".join(c[len("checked: "):] for c in checks)
        return go

    def scan():
        proc = s.tlgui("scan", str(data), "--json")
        expect_ok(proc, "scan")
        report = last_json(proc.stdout)
        assert report.get("files") == 20, f"scan found {report.get('files')} of 20 images"
        return f"{report['files']} images, {len(report.get('warnings') or [])} warning(s)"

    def predict():
        proc = s.tlgui("predict", model, str(data), "--csv", str(predictions), "--quiet")
        expect_ok(proc, "predict")
        with open(predictions, newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
        assert len(rows) == 20, f"{len(rows)} predictions for 20 images"
        right = sum(1 for r in rows if Path(r["path"]).parent.name == r["label"])
        return f"{len(rows)} images, {right} labelled as their folder"

    def elsewhere():
        env = s.env()
        report = check_exports(check_python, run_dir / "model.pt", exported / "model.ts", exported / "model.onnx",
                               exported / "model.pt2", env)
        proc = subprocess.run([str(check_python), str(exported / "bundle" / "predict.py"), str(data)], env=env,
                              capture_output=True, text=True, encoding="utf-8", errors="replace", timeout=600)
        expect_ok(proc, "the bundle's predict.py")
        assert "deprecat" not in proc.stderr.lower(), f"the bundle's predict.py warned: {tail(proc.stderr)}"
        with open(predictions, newline="", encoding="utf-8") as f:
            frozen = {f"{Path(r['path']).parent.name}/{Path(r['path']).name}": r["label"] for r in csv.DictReader(f)}
        assert bundle_labels(proc.stdout) == frozen, (
            "the bundle's predict.py labels the images differently from 'tlgui predict'")
        return (f"torch {report['torch']}: .pt2 max |difference| {report['pt2']:.1e}, "
                f"TorchScript {report['torchscript']:.1e}, onnxruntime "
                f"{report['onnxruntime']}: ONNX {report['onnx']:.1e} vs model.pt (batch of 5); bundle's predict.py "
                f"gives tlgui predict's {len(frozen)} labels")

    def weights():
        listed = last_json(expect_ok(s.tlgui("weights", "list", "--json"), "weights list").stdout)
        assert "architectures" in listed, f"weights list --json: {listed}"
        folders = expect_ok(s.tlgui("weights", "path"), "weights path").stdout.split()
        assert folders and all(f.startswith(str(s.home)) for f in folders), f"weights path: {folders}"
        imported = last_json(expect_ok(s.tlgui("weights", "import", model, "--json"), "weights import").stdout)
        mine = last_json(expect_ok(s.tlgui("weights", "models", "--json"), "weights models").stdout)
        assert imported["path"] in json.dumps(mine), f"weights models does not list the imported {imported['path']}"
        return (f"list, path ({len(folders)} folder(s) under the new HOME), "
                f"import of model.pt as {imported['kind']}, models")

    def layers_and_cache():
        expect_ok(s.tlgui("layers", "smallcnn"), "layers smallcnn")
        info = expect_ok(s.tlgui("cache", "info"), "cache info").stdout.strip()
        assert info.startswith(str(s.home)), f"cache info: {info}"
        return f"layers smallcnn; cache info: ~{info[len(str(s.home)):][:70]}"

    def doctor():
        report = json.loads(expect_ok(s.tlgui("doctor", "--json"), "doctor --json").stdout)
        assert report["frozen"] is True and report["torch"] and report["pyside6"], f"doctor: {report}"
        assert report["folders"]["cache"]["path"].startswith(str(s.home)), f"doctor folders: {report['folders']}"
        qt = report["qt_platform"]
        return (f"torch {report['torch']}, PySide6 {report['pyside6']}, device {report['device']['label']}; "
                f"xcb plugin lacks {qt.get('xcb_missing_libraries') or 'nothing'}")

    s.step("export pt2", export("pt2", "model.pt2", "torch.export.load"))
    s.step("export torchscript", export("torchscript", "model.ts", "torch.jit.load"))
    s.step("export onnx", export("onnx", "model.onnx", "onnxruntime"))
    s.step("export bundle", export("bundle", "bundle", "torch.export.load"))
    s.step("scan", scan)
    s.step("predict", predict)
    if check_python:
        s.step(f"the exports load in {check_python} and agree with model.pt", elsewhere)
    else:
        print("smoke: skipped loading the exports in another Python: give --installed (a pip-installed tlgui) "
              "or --check-python")
    s.step("weights list, path, import, models", weights)
    s.step("layers, cache", layers_and_cache)
    s.step("doctor --json (the system report)", doctor)

    def lab_images():
        # 16-bit, 4-channel TIFF stacks: tifffile must be in the frozen app, every channel read
        folder = make_tiff_folder(s.work / "tiffs")
        report = json.loads(expect_ok(s.tlgui("scan", str(folder), "--json", "--no-cache"), "scan tiffs").stdout)
        assert report["summary"].startswith("4 channels, 16-bit (12-bit values), 8 images"), report["summary"]
        assert not report["bad"], f"unreadable TIFFs: {report['bad']}"
        return report["summary"]

    s.step("scan 16-bit 4-channel TIFF stacks (tifffile)", lab_images)

    def explain():
        # captum (and the matplotlib it imports) must be in the frozen app
        image = sorted(data.rglob("*.png"))[0]
        proc = s.tlgui("explain", model, str(image), "--out", str(s.work / "heatmaps"), "--json")
        report = last_json(expect_ok(proc, "explain").stdout)
        shown = report["images"][0]
        assert Path(shown["heatmap"]).is_file(), f"no heatmap PNG: {shown}"
        return f"{shown['predicted']} ({shown['probability']:.2f}), peak at {shown['peak']}"

    s.step("explain: a heatmap (captum)", explain)


# ---------------------------------------------------------------- sizes and summary


def print_sizes(app_dir: Path, archive: Path | None) -> None:
    size = folder_size(app_dir)
    print(f"smoke: folder {human_size(size)} ({size:,} bytes)")
    if archive is not None:
        print(f"smoke: archive {archive.name} {human_size(archive.stat().st_size)} ({archive.stat().st_size:,} bytes)")
    cuda = cuda_libraries(app_dir)
    if cuda:
        total = sum(n for n, _ in cuda)
        print(f"smoke: CUDA libraries: {len(cuda)} files, {human_size(total)} "
              f"({100 * total / size:.0f} % of the folder)")
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


def locate(dist: Path, layout: Layout) -> tuple[Path | None, Path | None]:
    """(archive, built app) in DIST; either may be missing."""
    archives = sorted(dist.glob(layout.archive_pattern))
    return (archives[-1] if archives else None), (layout.built_app(dist) if layout.has_app(dist) else None)


def installed_exe(arg: str | None, option: str = "--installed") -> Path | None:
    """The --installed executable (or --check-python) as an absolute path: the steps run in a
    temporary folder, so a relative path (CI passes .venv/bin/tlgui) would not be found from there."""
    if not arg:
        return None
    exe = Path(arg).expanduser().absolute()
    if not exe.is_file():
        raise SystemExit(f"smoke: error: {option} {arg}: no such file ({exe})")
    return exe


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="packaging/smoke_test.py", description=__doc__.split("\n\n")[0])
    p.add_argument("dist", nargs="?", default="dist", help="the build's output folder (default: dist)")
    p.add_argument("--installed", metavar="TLGUI", help="an installed (pip) tlgui to compare the no-display line with")
    p.add_argument("--check-python", metavar="PY", help="a Python with torch, onnxruntime and tlgui to load the "
                   "exported models in (default: the one --installed runs with)")
    p.add_argument("--keep", action="store_true", help="keep the temporary folder")
    p.add_argument("--no-install", action="store_true", help="skip the install.sh round trip (it copies the app)")
    args = p.parse_args(argv)
    layout = Layout(system_name())
    installed = installed_exe(args.installed)
    check_python = installed_exe(args.check_python, "--check-python") if args.check_python else script_python(installed)
    dist = Path(args.dist).resolve()
    archive, folder = locate(dist, layout)
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
            app_dir = layout.unpack(archive, moved)
            how = f"unpacked {archive.name}"
        else:
            app_dir = layout.copy(folder, moved)
            how = f"copied {folder}"
        print(f"smoke: {how} to {app_dir} in {time.monotonic() - t:.0f} s", flush=True)
        print_sizes(app_dir, archive)
        s = Smoke(app_dir=app_dir, work=tmp / "work", home=tmp / "home", layout=layout)
        s.work.mkdir()
        s.home.mkdir()
        data = make_image_folder(s.work / "images")
        window_steps(s, version, installed)
        training_steps(s, data, s.work / "run")
        model_steps(s, data, s.work / "run", check_python)
        if not args.no_install and layout.system == "linux":
            s.step("install.sh, then --uninstall",
                   lambda: install_round_trip(s.app_dir, tmp / "home for install", version))
        print_summary(s)
        return 0 if all(st.ok for st in s.steps) else 1
    finally:
        if args.keep:
            print(f"smoke: kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
