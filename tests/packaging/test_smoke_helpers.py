"""The smoke test's own helpers (the smoke test itself runs the frozen app, in CI)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest


def test_png_writer_makes_images_pillow_reads(smoke, tmp_path):
    Image = pytest.importorskip("PIL.Image")
    smoke.write_png(tmp_path / "a.png", [[(255, 0, 0), (0, 255, 0)], [(0, 0, 255), (10, 20, 30)]])
    with Image.open(tmp_path / "a.png") as im:
        assert im.size == (2, 2) and im.mode == "RGB"
        assert im.getpixel((1, 1)) == (10, 20, 30) and im.getpixel((0, 1)) == (0, 0, 255)


def test_image_folder_has_two_classes_of_distinct_images(smoke, tmp_path):
    root = smoke.make_image_folder(tmp_path / "images", per_class=4, size=16)
    files = sorted(p.relative_to(root).as_posix() for p in root.rglob("*.png"))
    assert len(files) == 8 and {f.split("/")[0] for f in files} == {"horizontal", "vertical"}
    assert len({p.read_bytes() for p in root.rglob("*.png")}) == 8  # no duplicates for scan to flag


def test_last_json_line(smoke):
    assert smoke.last_json('starting\n{"ok": false}\nmore\n{"ok": true}\n') == {"ok": True}
    assert smoke.last_json('{\n "files": 20,\n "counts": {\n  "a": 1\n }\n}\n') == {"files": 20, "counts": {"a": 1}}
    with pytest.raises(AssertionError, match="no JSON"):
        smoke.last_json("nothing here\n")


def test_locate_a_build(smoke, buildlib, tmp_path):
    linux = smoke.Layout("linux")
    assert smoke.locate(tmp_path, linux) == (None, None)
    (tmp_path / "tlgui").mkdir()
    (tmp_path / "tlgui" / "tlgui").write_text("")
    (tmp_path / "tlgui-0.1.0-linux-x86_64.tar.gz").write_text("")
    assert smoke.locate(tmp_path, linux) == (tmp_path / "tlgui-0.1.0-linux-x86_64.tar.gz", tmp_path / "tlgui")


def test_no_build_is_one_line_and_exit_2(smoke, tmp_path, capsys):
    assert smoke.main([str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "run python3 packaging/build.py first" in err[0]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_worker_watch_sees_a_spawned_child_of_the_executable(smoke, tmp_path):
    exe = tmp_path / "moved here" / "tlgui"  # argv[0] as a frozen app's spawned worker has it
    code = "import sys; sys.stdin.read()"  # alive until the test closes its stdin, however slow the machine
    child = subprocess.Popen([str(exe), "-c", code, "--multiprocessing-fork", "pipe_handle=5"],
                             executable=sys.executable, stdin=subprocess.PIPE)
    other = subprocess.Popen([str(exe), "-c", code], executable=sys.executable, stdin=subprocess.PIPE)
    try:
        # both run before the watch starts, so the scan that finds the worker has also seen the other
        with smoke.WorkerWatch(exe) as watch:
            deadline = time.monotonic() + 60  # a generous limit on a condition, not a speed
            while child.pid not in watch.pids and time.monotonic() < deadline:
                time.sleep(0.05)
    finally:
        for proc in (child, other):
            proc.stdin.close()
            proc.wait(60)
    assert watch.pids == {child.pid}


def test_installed_exe_is_made_absolute_because_steps_run_elsewhere(smoke, tmp_path, monkeypatch):
    # CI passes `--installed .venv/bin/tlgui`; the steps run with cwd in a temporary folder.
    (tmp_path / ".venv" / "bin").mkdir(parents=True)
    (tmp_path / ".venv" / "bin" / "tlgui").write_text("#!/bin/sh\n")
    monkeypatch.chdir(tmp_path)
    exe = smoke.installed_exe(".venv/bin/tlgui")
    assert exe.is_absolute() and exe == tmp_path / ".venv" / "bin" / "tlgui"
    assert smoke.installed_exe(None) is None


def test_missing_installed_exe_is_one_line_naming_it(smoke, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit, match=r"--installed nope/tlgui: no such file"):
        smoke.installed_exe("nope/tlgui")


def test_reported_difference_reads_the_apps_check_lines(smoke):
    lines = ["checked: exported with the torch.export (dynamo), opset 18", "checked: onnx.checker: valid",
             "checked: onnxruntime: max |difference| 2.38e-07 vs the model, batch of 3"]
    assert smoke.reported_difference(lines, "onnxruntime") == pytest.approx(2.38e-07)
    assert smoke.reported_difference(["checked: torch.jit.load: max |difference| 0.00e+00 vs the model, batch of 3"],
                                     "torch.jit.load") == 0.0
    # an app without onnxruntime reports that it did not compare: the smoke step must fail
    with pytest.raises(AssertionError, match="no 'onnxruntime' check"):
        smoke.reported_difference(lines[:2] + ["checked: onnxruntime is not installed: outputs not compared"],
                                  "onnxruntime")


def test_script_python_is_read_from_a_console_scripts_first_line(smoke, tmp_path):
    script = tmp_path / "tlgui"
    script.write_text(f"#!{sys.executable}\nimport sys\n")
    assert smoke.script_python(script) == Path(sys.executable)
    script.write_text("#!/bin/sh\nexec true\n")  # not a Python
    assert smoke.script_python(script) is None
    script.write_text(f"#!{tmp_path / 'gone' / 'python3'}\n")  # a Python that is not there
    assert smoke.script_python(script) is None
    script.write_bytes(b"\x7fELF\x02\x01")  # a binary (the frozen app itself)
    assert smoke.script_python(script) is None
    assert smoke.script_python(None) is None and smoke.script_python(tmp_path / "missing") is None


def test_bundle_labels_keys_images_by_class_folder_and_name(smoke):
    out = "/a/b/vertical/001.png\tvertical\t0.9100\n/a/b/horizontal/000.png\tvertical\t0.5200\nnot a row\n"
    assert smoke.bundle_labels(out) == {"vertical/001.png": "vertical", "horizontal/000.png": "vertical"}


def _report(**change):
    report = {"shape": [5, 3], "torchscript": 1e-7, "onnx": 2e-7, "pt2": 3e-7, "same_labels": True,
              "ts_labels_match": True, "pt2_labels_match": True, "pt2_warnings": [],
              "torch": "2.14.1", "onnxruntime": "1.32.0"}
    report.update(change)
    return json.dumps(report)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"onnx": 0.5}, "the onnx export differs from the model by 0.5"),
        ({"torchscript": None}, "the torchscript export gives outputs of another shape"),
        ({"same_labels": False}, "label the batch differently"),
        ({"ts_labels_match": False}, "labels.json is not the model's class list"),
        ({"pt2": 0.3}, "the pt2 export differs from the model by 0.3"),
        ({"pt2": None}, "the pt2 export gives outputs of another shape"),
        ({"pt2_labels_match": False}, "the .pt2 file's labels.json is not the model's class list"),
        ({"pt2_warnings": ["torch.export.load is deprecated"]}, "torch.export.load warned: .*deprecated"),
    ],
)
def test_check_exports_fails_on_what_differs(smoke, fake_python, tmp_path, change, message):
    python = fake_python(_report(**change))
    with pytest.raises(AssertionError, match=message):
        smoke.check_exports(python, tmp_path / "m.pt", tmp_path / "m.ts", tmp_path / "m.onnx", tmp_path / "m.pt2",
                            {"PATH": "/usr/bin:/bin"})
    assert smoke.check_exports(fake_python(_report()), tmp_path / "m.pt", tmp_path / "m.ts", tmp_path / "m.onnx",
                               tmp_path / "m.pt2", {"PATH": "/usr/bin:/bin"})["onnx"] == 2e-7


def test_check_exports_of_a_python_that_cannot_load_them(smoke, fake_python, tmp_path):
    python = fake_python("", exit_code=1, stderr="ModuleNotFoundError: No module named onnxruntime")
    with pytest.raises(AssertionError, match="could not load the exports: .*onnxruntime"):
        smoke.check_exports(python, tmp_path / "m.pt", tmp_path / "m.ts", tmp_path / "m.onnx", tmp_path / "m.pt2",
                            {"PATH": "/usr/bin:/bin"})


@pytest.mark.filterwarnings("ignore::FutureWarning")
def test_check_exports_really_loads_them_in_another_python(smoke, tmp_path):
    # the check script itself, on real exports, in a fresh interpreter: agrees with the model
    # it was exported from, and catches a TorchScript file of another model
    pytest.importorskip("onnx", reason="onnx is not installed (pip install 'tlgui[export]')")
    pytest.importorskip("onnxruntime", reason="onnxruntime is not installed (pip install 'tlgui[export]')")
    from tests.core.test_evaluate import write_model
    from tlgui.core.results.export import export_model

    model = write_model(tmp_path / "model.pt", ["a", "b", "c"], channels=3, crop=24)
    other = write_model(tmp_path / "other.pt", ["a", "b", "c"], channels=3, crop=24, seed=1)
    export_model(model, "torchscript", tmp_path / "model.ts")
    export_model(model, "onnx", tmp_path / "model.onnx")
    export_model(model, "pt2", tmp_path / "model.pt2")
    export_model(other, "torchscript", tmp_path / "other.ts")
    export_model(other, "pt2", tmp_path / "other.pt2")
    root = Path(__file__).resolve().parents[2]
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "PYTHONPATH": str(root)}
    python = Path(sys.executable)
    report = smoke.check_exports(python, model, tmp_path / "model.ts", tmp_path / "model.onnx", tmp_path / "model.pt2",
                                 env)
    assert report["shape"] == [5, 3] and report["torchscript"] <= 1e-4 and report["onnx"] <= 1e-4
    assert report["pt2"] <= 1e-4 and report["pt2_warnings"] == []
    with pytest.raises(AssertionError, match="the torchscript export differs from the model"):
        smoke.check_exports(python, model, tmp_path / "other.ts", tmp_path / "model.onnx", tmp_path / "model.pt2", env)
    with pytest.raises(AssertionError, match="the pt2 export differs from the model"):
        smoke.check_exports(python, model, tmp_path / "model.ts", tmp_path / "model.onnx", tmp_path / "other.pt2", env)


def test_missing_check_python_is_one_line_naming_it(smoke, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit, match=r"--check-python nope/python: no such file"):
        smoke.installed_exe("nope/python", "--check-python")


def test_free_display_number_skips_displays_in_use(smoke, monkeypatch):
    taken = {"/tmp/.X150-lock", "/tmp/.X11-unix/X151"}
    monkeypatch.setattr(smoke.Path, "exists", lambda self: str(self) in taken)
    assert smoke.free_display_number(150) == 152


def test_stdlib_tiff_stacks_read_as_four_channels_by_tifffile(tmp_path):
    """The smoke test's TIFFs (written without tifffile) are what tlgui reads as lab images."""
    pytest.importorskip("tifffile")
    from smoke_helpers import make_tiff_folder

    from tlgui.core.data.scan import scan_folder
    from tlgui.core.data.sources import read_image

    folder = make_tiff_folder(tmp_path / "tiffs")
    raw = read_image(str(folder / "spot" / "0.tif"))
    assert raw.array.shape == (4, 16, 16) and str(raw.array.dtype) == "uint16"
    assert raw.array[3, 8, 8] > 2700 and raw.array[2, 8, 8] < 1300
    assert scan_folder(folder, use_cache=False).summary.startswith("4 channels, 16-bit (12-bit values), 8 images")
