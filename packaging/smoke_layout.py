"""Where the frozen app's files are on each system, for packaging/smoke_test.py (standard library only).

=========  ==============================  =============================  ====================================
system     archive build.py makes          app as built                   command line / window executables
=========  ==============================  =============================  ====================================
linux      tlgui-V-linux-ARCH.tar.gz       dist/tlgui/                    tlgui / tlgui
windows    tlgui-V-windows-ARCH.zip        dist/tlgui/                    tlgui-cli.exe (console) / tlgui.exe
           (and ...-setup.exe, Inno)                                      (windowed: no stdout, no stderr)
macos      tlgui-V-macos-ARCH.dmg          dist/tlgui.app/                Contents/MacOS/tlgui, both
=========  ==============================  =============================  ====================================
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from buildlib import APP_NAME, BuildError, extract_tar
from smoke_helpers import BARE_PATH


def system_name(platform: str = sys.platform) -> str:
    if platform.startswith("linux"):
        return "linux"
    if platform == "darwin":
        return "macos"
    if platform in ("win32", "cygwin"):
        return "windows"
    raise SystemExit(f"smoke: error: no frozen build of tlgui for {platform}")


@dataclass(frozen=True)
class Layout:
    system: str

    @property
    def archive_pattern(self) -> str:
        suffix = {"linux": ".tar.gz", "windows": ".zip", "macos": ".dmg"}[self.system]
        return f"{APP_NAME}-*-{self.system}-*{suffix}"

    def built_app(self, dist: Path) -> Path:
        """The app as build.py leaves it in DIST (a folder; on macOS the .app bundle)."""
        return dist / (f"{APP_NAME}.app" if self.system == "macos" else APP_NAME)

    def cli(self, app: Path) -> Path:
        """The executable that runs the command line and prints (the smoke test's steps)."""
        if self.system == "windows":
            return app / f"{APP_NAME}-cli.exe"
        if self.system == "macos":
            return app / "Contents" / "MacOS" / APP_NAME
        return app / APP_NAME

    def window(self, app: Path) -> Path:
        """The executable a user double-clicks."""
        return app / f"{APP_NAME}.exe" if self.system == "windows" else self.cli(app)

    def has_app(self, dist: Path) -> bool:
        return self.cli(self.built_app(dist)).exists()

    def unpack(self, archive: Path, dest: Path) -> Path:
        """The app from ``archive``, as a user gets it, in ``dest``; returns it."""
        if self.system == "linux":
            return extract_tar(archive, dest)
        if self.system == "windows":
            with zipfile.ZipFile(archive) as zipped:
                tops = {Path(name).parts[0] for name in zipped.namelist() if name}
                if len(tops) != 1:
                    raise BuildError(f"{archive} should hold one top folder, it holds {sorted(tops)}")
                zipped.extractall(dest)
            return dest / tops.pop()
        return _copy_from_dmg(archive, dest)

    def copy(self, app: Path, dest: Path) -> Path:
        target = dest / app.name
        if self.system == "macos":  # ditto keeps the bundle's signature and extended attributes
            subprocess.run(["ditto", str(app), str(target)], check=True)
        else:
            shutil.copytree(app, target, symlinks=True)
        return target

    def env(self, home: Path) -> dict[str, str]:
        """A bare environment, as a new user's: their own home, the system's PATH only."""
        if self.system != "windows":
            return {"HOME": str(home), "PATH": BARE_PATH}
        system_root = os.environ.get("SYSTEMROOT", r"C:\Windows")
        temp = home / "AppData" / "Local" / "Temp"
        temp.mkdir(parents=True, exist_ok=True)
        return {  # Windows programs need SYSTEMROOT; the user folders point into the new home
            "SYSTEMROOT": system_root, "WINDIR": system_root, "PATH": rf"{system_root}\System32;{system_root}",
            "USERPROFILE": str(home), "HOME": str(home), "APPDATA": str(home / "AppData" / "Roaming"),
            "LOCALAPPDATA": str(home / "AppData" / "Local"), "TEMP": str(temp), "TMP": str(temp),
            # platformdirs asks Windows itself for the user folders, not these variables
            "TLGUI_HOME": str(home / "AppData" / "Local" / APP_NAME),
        }


def _copy_from_dmg(dmg: Path, dest: Path) -> Path:
    """Mount the disk image read-only, copy the .app out as a user drags it, unmount."""
    mount = Path(tempfile.mkdtemp(prefix="tlgui-dmg-"))
    subprocess.run(["hdiutil", "attach", "-nobrowse", "-readonly", "-mountpoint", str(mount), str(dmg)],
                   check=True, capture_output=True)
    try:
        apps = sorted(mount.glob("*.app"))
        if len(apps) != 1:
            raise BuildError(f"{dmg} should hold one .app, it holds {[a.name for a in apps]}")
        target = dest / apps[0].name
        subprocess.run(["ditto", str(apps[0]), str(target)], check=True)
        return target
    finally:
        subprocess.run(["hdiutil", "detach", str(mount)], check=False, capture_output=True)
        shutil.rmtree(mount, ignore_errors=True)



def windowed_self_test(s):
    """Windows: the executable a user double-clicks has no console (sys.stdout and sys.stderr are
    None); it must still open, train and close. Only its exit status and screenshot tell."""
    def go():
        shot = s.work / "self-test-windowed.png"
        proc = subprocess.run([str(s.layout.window(s.app_dir)), "--self-test", "--screenshot", str(shot)],
                              cwd=s.work, env=s.env(True), capture_output=True, timeout=900)
        assert proc.returncode == 0, f"exited {proc.returncode}"
        assert shot.is_file() and shot.stat().st_size > 0, "no screenshot"
        return f"exit 0, screenshot {shot.stat().st_size} bytes"
    return go
