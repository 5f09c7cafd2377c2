"""packaging/linux/install.sh against a stand-in app folder: install, menu entry, uninstall."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="install.sh is for Linux")


@pytest.fixture
def app(tmp_path) -> Path:
    """What the archive unpacks to, with a tiny shell script as the executable."""
    folder = tmp_path / "unpacked" / "tlgui"
    (folder / "_internal").mkdir(parents=True)
    (folder / "share").mkdir()
    (folder / "tlgui").write_text('#!/bin/sh\necho "tlgui 9.9.9"\n')
    (folder / "tlgui").chmod(0o755)
    for name in ("tlgui.desktop", "tlgui.png", "tlgui.svg"):
        shutil.copy(ROOT / "resources" / name, folder / "share" / name)
    shutil.copy(ROOT / "packaging" / "linux" / "install.sh", folder / "install.sh")
    return folder


def sh(script: Path, *args: str, home: Path) -> subprocess.CompletedProcess:
    env = {"HOME": str(home), "PATH": "/usr/bin:/bin"}
    return subprocess.run(["sh", str(script), *args], env=env, capture_output=True, text=True, timeout=60)


def test_install_then_uninstall_for_the_current_user(app, tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    proc = sh(app / "install.sh", home=home)
    assert proc.returncode == 0, proc.stderr
    local = home / ".local"
    assert (local / "lib" / "tlgui" / "_internal").is_dir()
    link = local / "bin" / "tlgui"
    assert link.is_symlink() and link.resolve() == (local / "lib" / "tlgui" / "tlgui").resolve()
    assert subprocess.run([str(link)], capture_output=True, text=True).stdout.strip() == "tlgui 9.9.9"
    desktop = (local / "share" / "applications" / "tlgui.desktop").read_text()
    assert f'Exec="{local}/lib/tlgui/tlgui"' in desktop.splitlines()
    assert f"Icon={local}/share/icons/hicolor/256x256/apps/tlgui.png" in desktop.splitlines()
    assert (local / "share" / "icons" / "hicolor" / "scalable" / "apps" / "tlgui.svg").is_file()
    assert "installed tlgui 9.9.9" in proc.stdout
    if shutil.which("desktop-file-validate"):
        check = subprocess.run(["desktop-file-validate", str(local / "share" / "applications" / "tlgui.desktop")],
                               capture_output=True, text=True)
        assert check.returncode == 0 and not check.stdout.strip(), check.stdout

    runs = local / "share" / "tlgui" / "runs" / "first"  # the app's own data: must survive
    runs.mkdir(parents=True)
    proc = sh(local / "lib" / "tlgui" / "install.sh", "--uninstall", home=home)
    assert proc.returncode == 0, proc.stderr
    assert not (local / "lib" / "tlgui").exists() and not link.is_symlink()
    assert not (local / "share" / "applications" / "tlgui.desktop").exists()
    assert not (local / "share" / "icons" / "hicolor" / "256x256" / "apps" / "tlgui.png").exists()
    assert runs.is_dir()
    assert "are kept" in proc.stdout


def test_installing_again_replaces_the_old_copy(app, tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    assert sh(app / "install.sh", home=home).returncode == 0
    stale = home / ".local" / "lib" / "tlgui" / "_internal" / "stale.txt"
    stale.write_text("from an older version")
    assert sh(app / "install.sh", home=home).returncode == 0
    assert not stale.exists()


def test_prefix_with_awkward_characters(app, tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    prefix = tmp_path / "my apps $HOME"
    proc = sh(app / "install.sh", "--prefix", str(prefix), home=home)
    assert proc.returncode == 0, proc.stderr
    desktop = (prefix / "share" / "applications" / "tlgui.desktop").read_text().splitlines()
    assert f'Exec="{tmp_path}/my apps \\\\$HOME/lib/tlgui/tlgui"' in desktop
    assert not (home / ".local").exists()
    assert f"--uninstall --prefix {prefix}" in proc.stdout
    uninstall = sh(prefix / "lib" / "tlgui" / "install.sh", "--uninstall", "--prefix", str(prefix), home=home)
    assert uninstall.returncode == 0
    assert not (prefix / "lib" / "tlgui").exists()


def test_run_from_somewhere_else_it_says_so(tmp_path):
    lonely = tmp_path / "install.sh"
    shutil.copy(ROOT / "packaging" / "linux" / "install.sh", lonely)
    home = tmp_path / "home"
    home.mkdir()
    proc = sh(lonely, home=home)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        "install.sh: error: run install.sh from the unpacked tlgui folder (it needs tlgui and _internal/ next to it)"]
    assert sh(lonely, "--bogus", home=home).returncode == 2
