"""Helpers of packaging/build.py and smoke_test.py: names, checks, sizes, archives."""

from __future__ import annotations

import json
import os
import stat
import tarfile

import pytest


def test_version_is_read_without_importing_tlgui(buildlib, tmp_path):
    (tmp_path / "tlgui").mkdir()
    (tmp_path / "tlgui" / "__init__.py").write_text('"""doc"""\n\n__version__ = "1.2.3"\n')
    assert buildlib.read_version(tmp_path) == "1.2.3"
    (tmp_path / "tlgui" / "__init__.py").write_text("x = 1\n")
    with pytest.raises(buildlib.BuildError, match="no __version__"):
        buildlib.read_version(tmp_path)


def test_the_real_version_matches_the_package(buildlib):
    import tlgui

    assert buildlib.read_version() == tlgui.__version__


@pytest.mark.parametrize(
    ("system", "machine", "tag"),
    [
        ("linux", "x86_64", "linux-x86_64"),
        ("linux", "aarch64", "linux-aarch64"),
        ("darwin", "arm64", "macos-arm64"),
        ("darwin", "x86_64", "macos-x86_64"),
        ("win32", "AMD64", "windows-x86_64"),
    ],
)
def test_platform_tag(buildlib, system, machine, tag):
    assert buildlib.platform_tag(system, machine) == tag


def test_archive_names(buildlib):
    assert buildlib.archive_name("0.1.0", "linux-x86_64") == "tlgui-0.1.0-linux-x86_64.tar.gz"
    assert buildlib.archive_name("0.1.0", "macos-arm64") == "tlgui-0.1.0-macos-arm64.dmg"
    assert buildlib.archive_name("0.1.0", "windows-x86_64") == "tlgui-0.1.0-windows-x86_64.zip"


def test_old_python_gets_one_line_saying_what_to_do(buildlib):
    with pytest.raises(buildlib.BuildError) as err:
        buildlib.check_python((3, 8, 10, "final", 0), "/usr/bin/python3")
    text = str(err.value)
    assert "\n" not in text
    assert "3.10 or newer" in text and "3.8.10" in text and "/usr/bin/python3" in text
    buildlib.check_python((3, 10, 0, "final", 0), "python3")  # new enough: no error


@pytest.mark.parametrize(
    ("text", "version"),
    [("6.22.3", (6, 22, 3)), ("2.14.1+cpu", (2, 14, 1)), ("6.11.0.dev0", (6, 11, 0)), ("", ()), ("x", ())],
)
def test_parse_version(buildlib, text, version):
    assert buildlib.parse_version(text) == version


GOOD = {"python": "3.11.7", "PyInstaller": "6.22.3", "torch": "2.14.1", "torchvision": "0.29.1",
        "PySide6": "6.11.3", "cuda": "13.0"}


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"PyInstaller": ""},
         "PyInstaller is not installed in /env/bin/python: /env/bin/python -m pip install 'pyinstaller>=6.11'"),
        ({"PyInstaller": "5.13.2"}, "PyInstaller 5.13.2 in /env/bin/python is too old"),
        ({"python": "3.9.18"}, "runs Python 3.9.18; tlgui needs 3.10 or newer"),
        ({"torch": ""}, "torch is not installed in /env/bin/python"),
        ({"PySide6": ""}, "PySide6-Essentials is not installed"),
    ],
)
def test_a_build_env_that_lacks_something_gets_one_line(buildlib, change, expected):
    with pytest.raises(buildlib.BuildError) as err:
        buildlib.check_environment({**GOOD, **change}, "/env/bin/python")
    assert expected in str(err.value)
    assert "\n" not in str(err.value)


def test_a_complete_build_env_passes(buildlib):
    assert buildlib.check_environment(dict(GOOD), "/env/bin/python") == GOOD


def test_probe_reads_what_the_env_python_prints(buildlib, fake_python):
    python = fake_python(json.dumps({**GOOD, "PyInstaller": ""}))
    with pytest.raises(buildlib.BuildError, match="PyInstaller is not installed"):
        buildlib.probe_environment(python)
    assert buildlib.probe_environment(fake_python(json.dumps(GOOD)))["torch"] == "2.14.1"


def test_probe_of_a_broken_or_missing_python(buildlib, fake_python, tmp_path):
    with pytest.raises(buildlib.BuildError, match="failed to start: ImportError: boom"):
        buildlib.probe_environment(fake_python(exit_code=1, stderr="ImportError: boom"))
    with pytest.raises(buildlib.BuildError, match="cannot run the build environment's Python"):
        buildlib.probe_environment(tmp_path / "no-such-python")


def test_env_stamp_follows_dependencies_and_torch_source(buildlib, tmp_path):
    (tmp_path / "pyproject.toml").write_text("dependencies = ['torch']\n")
    base = buildlib.env_stamp(tmp_path, None, "3.11.7")
    assert buildlib.env_stamp(tmp_path, None, "3.11.7") == base
    assert buildlib.env_stamp(tmp_path, "https://download.pytorch.org/whl/cpu", "3.11.7") != base
    assert buildlib.env_stamp(tmp_path, None, "3.12.1") != base
    (tmp_path / "pyproject.toml").write_text("dependencies = ['torch', 'numpy']\n")
    assert buildlib.env_stamp(tmp_path, None, "3.11.7") != base


@pytest.mark.parametrize(("n", "text"), [(0, "0 B"), (999, "999 B"), (1500, "1.5 KB"), (4_250_000_000, "4.2 GB")])
def test_human_size(buildlib, n, text):
    assert buildlib.human_size(n) == text


def _tree(root):
    (root / "_internal" / "nvidia" / "cu13" / "lib").mkdir(parents=True)
    (root / "tlgui").write_bytes(b"#!/bin/sh\n" + b"x" * 90)
    (root / "tlgui").chmod(0o755)
    (root / "_internal" / "libtorch_cpu.so").write_bytes(b"c" * 500)
    (root / "_internal" / "nvidia" / "cu13" / "lib" / "libcublasLt.so.13").write_bytes(b"n" * 300)
    (root / "_internal" / "libcudnn_ops.so.9").write_bytes(b"d" * 200)
    (root / "_internal" / "libcurl-ish.so").write_bytes(b"u" * 10)
    (root / "_internal" / "link.so").symlink_to("libtorch_cpu.so")
    return root


def test_sizes_count_files_once_and_not_links(buildlib, tmp_path):
    root = _tree(tmp_path / "app")
    assert buildlib.folder_size(root) == 100 + 500 + 300 + 200 + 10
    top = buildlib.largest_files(root, 2)
    assert top == [(500, "_internal/libtorch_cpu.so"), (300, "_internal/nvidia/cu13/lib/libcublasLt.so.13")]


def test_cuda_libraries_are_recognised(buildlib, tmp_path):
    root = _tree(tmp_path / "app")
    names = [name for _, name in buildlib.cuda_libraries(root)]
    assert names == ["_internal/nvidia/cu13/lib/libcublasLt.so.13", "_internal/libcudnn_ops.so.9"]


def test_tar_round_trip_keeps_top_folder_exec_bits_and_links(buildlib, tmp_path):
    root = _tree(tmp_path / "app")
    archive = buildlib.make_tar(root, tmp_path / "tlgui-0.1.0-linux-x86_64.tar.gz")
    assert not list(tmp_path.glob("*.part"))
    with tarfile.open(archive) as tar:
        members = {m.name: m for m in tar.getmembers()}
    assert {name.split("/")[0] for name in members} == {"tlgui"}
    assert members["tlgui/tlgui"].mode == 0o755 and members["tlgui/tlgui"].uid == 0
    assert members["tlgui/_internal/link.so"].issym()
    out = buildlib.extract_tar(archive, tmp_path / "out")
    assert out == tmp_path / "out" / "tlgui"
    assert os.stat(out / "tlgui").st_mode & stat.S_IXUSR
    assert (out / "_internal" / "link.so").is_symlink()


def test_an_archive_with_two_top_folders_is_refused(buildlib, tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    archive = tmp_path / "two.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(tmp_path / "a", arcname="a")
        tar.add(tmp_path / "b", arcname="b")
    with pytest.raises(buildlib.BuildError, match="one top folder"):
        buildlib.extract_tar(archive, tmp_path / "out")


def test_zip_has_one_top_folder(buildlib, tmp_path):
    import zipfile

    root = tmp_path / "app"
    (root / "_internal").mkdir(parents=True)
    (root / "tlgui.exe").write_bytes(b"MZ")
    archive = buildlib.make_zip(root, tmp_path / "tlgui-0.1.0-windows-x86_64.zip")
    names = zipfile.ZipFile(archive).namelist()
    assert "tlgui/tlgui.exe" in names and all(n.startswith("tlgui/") for n in names)


@pytest.mark.parametrize(
    ("dest", "kept"),
    [
        ("torch/include/ATen/ATen.h", False),
        ("torch/test/test_nn.py", False),
        ("nvidia/cu13/include/cublas.h", False),
        ("PySide6/Qt/plugins/platforms/libqeglfs.so", False),
        # these sit in PySide6/Qt/lib/: a pattern without the folder never matched them
        ("PySide6/Qt/lib/libQt6EglFSDeviceIntegration.so.6", False),
        ("PySide6/Qt/lib/libQt6EglFsKmsSupport.so.6", False),
        ("PySide6/Qt/plugins/platformthemes/libqgtk3.so", False),
        ("PySide6/Qt/lib/libQt6Gui.so.6", True),
        ("PySide6/Qt/plugins/platforms/libqxcb.so", True),
        ("PySide6/Qt/plugins/platforms/libqoffscreen.so", True),
        ("torchvision/_C_stable.so", True),
        ("torch/testing/_internal/common_utils.py", True),  # torch.utils.checkpoint imports it
        ("torch/lib/libtorch_cpu.so", True),
        ("tlgui/core/results/export.py", True),
    ],
)
def test_what_the_spec_drops_from_the_app(buildlib, dest, kept):
    assert buildlib.keep_in_app(dest) is kept
