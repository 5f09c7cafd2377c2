"""packaging/build.py: when it reuses its environment, what it puts next to the app, bad input."""

from __future__ import annotations

import json
import os

import pytest


@pytest.mark.parametrize(
    ("old", "new", "plan"),
    [
        (None, {"deps": "a", "torch_index_url": "", "python": "3.11.7"}, "create"),
        ({"deps": "a", "torch_index_url": "", "python": "3.11.7"},
         {"deps": "a", "torch_index_url": "", "python": "3.11.7"}, "reuse"),
        ({"deps": "a", "torch_index_url": "", "python": "3.11.7"},
         {"deps": "b", "torch_index_url": "", "python": "3.11.7"}, "update"),
        ({"deps": "a", "torch_index_url": "", "python": "3.11.7"},
         {"deps": "b", "torch_index_url": "cpu", "python": "3.11.7"}, "recreate"),
        ({"deps": "a", "torch_index_url": "", "python": "3.11.7"},
         {"deps": "b", "torch_index_url": "", "python": "3.12.0"}, "recreate"),
    ],
)
def test_plan_env(build, old, new, plan):
    assert build.plan_env(old, new) == plan


def test_a_broken_stamp_means_a_new_env(build, tmp_path):
    (tmp_path / "stamp.json").write_text("{not json")
    assert build.read_stamp(tmp_path / "stamp.json") is None
    assert build.read_stamp(tmp_path / "missing.json") is None


def _one_error_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert err[0].startswith("build: error: ")
    return err[0]


def test_a_python_that_does_not_exist(build, tmp_path, capsys):
    assert build.main(["--python", str(tmp_path / "nope" / "python")]) == 2
    assert "cannot run the build environment's Python" in _one_error_line(capsys)


def test_an_env_without_pyinstaller(build, fake_python, capsys):
    info = {"python": "3.11.7", "PyInstaller": "", "torch": "2.14.1", "torchvision": "0.29.1",
            "PySide6": "6.11.3", "cuda": ""}
    assert build.main(["--python", str(fake_python(json.dumps(info)))]) == 2
    assert "pip install 'pyinstaller>=6.11'" in _one_error_line(capsys)


def test_python_and_torch_index_do_not_mix(build, capsys):
    assert build.main(["--python", "/x/python", "--torch-index-url", "https://download.pytorch.org/whl/cpu"]) == 2
    assert "install the torch you want into that environment yourself" in _one_error_line(capsys)


def test_linux_extras_sit_next_to_the_executable(build, tmp_path):
    app = tmp_path / "tlgui"
    app.mkdir()
    build.add_linux_extras(app, "9.9.9")
    assert os.access(app / "install.sh", os.X_OK)
    assert sorted(p.name for p in (app / "share").iterdir()) == ["tlgui.desktop", "tlgui.png", "tlgui.svg"]
    readme = (app / "README.txt").read_text()
    assert "tlgui 9.9.9" in readme and "install.sh --uninstall" in readme


def test_only_this_platforms_old_builds_are_removed(build, tmp_path):
    (tmp_path / "tlgui" / "_internal").mkdir(parents=True)
    for name in ("tlgui-0.0.9-linux-x86_64.tar.gz", "tlgui-0.1.0-linux-x86_64.tar.gz.part",
                 "tlgui-0.1.0-windows-x86_64.zip", "other.txt"):
        (tmp_path / name).write_text("x")
    build.remove_old_outputs(tmp_path, "linux-x86_64")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["other.txt", "tlgui-0.1.0-windows-x86_64.zip"]
