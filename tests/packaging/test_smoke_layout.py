"""The smoke test knows where the frozen app's files are on Windows and macOS too (issue 28, B).
These checks run anywhere; the builds themselves are made and smoke-tested by
.github/workflows/installers.yml on each system."""

from __future__ import annotations

import zipfile

import pytest


@pytest.fixture(scope="module")
def layouts(smoke):
    import smoke_layout

    return smoke_layout


def test_each_systems_executables(layouts, tmp_path):
    linux, windows, macos = (layouts.Layout(s) for s in ("linux", "windows", "macos"))
    assert linux.cli(tmp_path / "tlgui") == linux.window(tmp_path / "tlgui") == tmp_path / "tlgui" / "tlgui"
    assert windows.cli(tmp_path / "tlgui") == tmp_path / "tlgui" / "tlgui-cli.exe"  # console, for the steps
    assert windows.window(tmp_path / "tlgui") == tmp_path / "tlgui" / "tlgui.exe"  # windowed: no stdout
    assert macos.built_app(tmp_path) == tmp_path / "tlgui.app"
    assert macos.cli(tmp_path / "tlgui.app") == tmp_path / "tlgui.app" / "Contents" / "MacOS" / "tlgui"
    assert [layouts.system_name(p) for p in ("linux", "win32", "darwin")] == ["linux", "windows", "macos"]


def test_each_systems_archive_is_found(smoke, layouts, tmp_path):
    for system, name in (("windows", "tlgui-0.1.0-windows-x86_64.zip"), ("macos", "tlgui-0.1.0-macos-arm64.dmg")):
        dist = tmp_path / system
        dist.mkdir()
        (dist / name).write_bytes(b"")
        layout = layouts.Layout(system)
        app = layout.built_app(dist)
        layout.cli(app).parent.mkdir(parents=True)
        layout.cli(app).write_bytes(b"")
        assert smoke.locate(dist, layout) == (dist / name, app)


def test_the_windows_zip_unpacks_to_its_one_folder(layouts, tmp_path):
    archive = tmp_path / "tlgui-0.1.0-windows-x86_64.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("tlgui/tlgui.exe", b"MZ")
        zipped.writestr("tlgui/tlgui-cli.exe", b"MZ")
        zipped.writestr("tlgui/_internal/base_library.zip", b"")
    dest = tmp_path / "moved here"
    dest.mkdir()
    app = layouts.Layout("windows").unpack(archive, dest)
    assert app == dest / "tlgui" and (app / "tlgui-cli.exe").is_file()


def test_a_bare_windows_environment_keeps_what_windows_programs_need(layouts, tmp_path, monkeypatch):
    monkeypatch.setenv("SYSTEMROOT", r"C:\Windows")
    env = layouts.Layout("windows").env(tmp_path / "home")
    assert env["SYSTEMROOT"] == r"C:\Windows" and env["PATH"].startswith(r"C:\Windows\System32")
    assert env["USERPROFILE"] == str(tmp_path / "home") and env["TLGUI_HOME"].startswith(str(tmp_path / "home"))
    assert layouts.Layout("macos").env(tmp_path / "home") == {"HOME": str(tmp_path / "home"), "PATH": "/usr/bin:/bin"}
