"""The smoke test's own helpers (the smoke test itself runs the frozen app, in CI)."""

from __future__ import annotations

import subprocess
import sys
import time

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
    assert smoke.locate(tmp_path) == (None, None)
    (tmp_path / "tlgui").mkdir()
    (tmp_path / "tlgui" / "tlgui").write_text("")
    (tmp_path / "tlgui-0.1.0-linux-x86_64.tar.gz").write_text("")
    assert smoke.locate(tmp_path) == (tmp_path / "tlgui-0.1.0-linux-x86_64.tar.gz", tmp_path / "tlgui")


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
