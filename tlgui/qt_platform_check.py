"""Which system libraries Qt's X11 (xcb) platform plugin lacks, named with the packages that bring them.

When the plugin cannot load, Qt only prints a generic hint ("xcb-cursor0 or libxcb-cursor0 is
needed") whatever is really missing. ``ldd`` on the plugin lists every library the loader cannot
find ("libxcb-icccm.so.4 => not found"), including those of the Qt libraries it pulls in.

No Qt and no tlgui.core here: this runs when Qt has just failed (and from ``tlgui doctor``), in
the installed app and in the frozen one (where the plugin sits inside the bundle).
"""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from collections.abc import Callable, Iterable
from pathlib import Path

XCB_PLUGIN = Path("platforms") / "libqxcb.so"

# soname -> (Debian/Ubuntu package, Fedora package)
PACKAGES: dict[str, tuple[str, str]] = {
    "libxcb-icccm.so.4": ("libxcb-icccm4", "xcb-util-wm"),
    "libxcb-keysyms.so.1": ("libxcb-keysyms1", "xcb-util-keysyms"),
    "libxcb-cursor.so.0": ("libxcb-cursor0", "xcb-util-cursor"),
    "libxcb-image.so.0": ("libxcb-image0", "xcb-util-image"),
    "libxcb-util.so.1": ("libxcb-util1", "xcb-util"),
    "libxcb-render-util.so.0": ("libxcb-render-util0", "xcb-util-renderutil"),
    "libxcb-xinerama.so.0": ("libxcb-xinerama0", "libxcb"),
    "libxcb-randr.so.0": ("libxcb-randr0", "libxcb"),
    "libxcb-shape.so.0": ("libxcb-shape0", "libxcb"),
    "libxcb-xfixes.so.0": ("libxcb-xfixes0", "libxcb"),
    "libxcb-sync.so.1": ("libxcb-sync1", "libxcb"),
    "libxcb-xkb.so.1": ("libxcb-xkb1", "libxcb"),
    "libxcb-shm.so.0": ("libxcb-shm0", "libxcb"),
    "libxcb-render.so.0": ("libxcb-render0", "libxcb"),
    "libxcb-glx.so.0": ("libxcb-glx0", "libxcb"),
    "libxcb.so.1": ("libxcb1", "libxcb"),
    "libX11-xcb.so.1": ("libx11-xcb1", "libX11-xcb"),
    "libX11.so.6": ("libx11-6", "libX11"),
    "libxkbcommon-x11.so.0": ("libxkbcommon-x11-0", "libxkbcommon-x11"),
    "libxkbcommon.so.0": ("libxkbcommon0", "libxkbcommon"),
    "libEGL.so.1": ("libegl1", "libglvnd-egl"),
    "libGL.so.1": ("libgl1", "libglvnd-glx"),
    "libOpenGL.so.0": ("libopengl0", "libglvnd-opengl"),
    "libGLX.so.0": ("libglx0", "libglvnd-glx"),
    "libfontconfig.so.1": ("libfontconfig1", "fontconfig"),
    "libfreetype.so.6": ("libfreetype6", "freetype"),
    "libdbus-1.so.3": ("libdbus-1-3", "dbus-libs"),
    "libglib-2.0.so.0": ("libglib2.0-0", "glib2"),
    "libgthread-2.0.so.0": ("libglib2.0-0", "glib2"),
    "libSM.so.6": ("libsm6", "libSM"),
    "libICE.so.6": ("libice6", "libICE"),
}

_NOT_FOUND = re.compile(r"^\s*(\S+)\s*=>\s*not found\s*$")

Runner = Callable[[list[str], dict[str, str]], str]


def _run_ldd(argv: list[str], env: dict[str, str]) -> str:
    done = subprocess.run(
        argv, capture_output=True, text=True, encoding="utf-8", errors="replace", timeout=20, env=env, check=False
    )
    return done.stdout


def plugin_dirs() -> list[Path]:
    """Where Qt looks for its plugins: QT_PLUGIN_PATH, then PySide6's own folder (the bundle's
    copy in the frozen app), found without importing PySide6."""
    dirs = [Path(p) for p in os.environ.get("QT_PLUGIN_PATH", "").split(os.pathsep) if p]
    bundle = getattr(sys, "_MEIPASS", None)
    if bundle:
        dirs.append(Path(bundle) / "PySide6" / "Qt" / "plugins")
    try:
        spec = importlib.util.find_spec("PySide6")
    except (ImportError, ValueError):
        spec = None
    for location in (spec.submodule_search_locations or []) if spec else []:
        dirs.append(Path(location) / "Qt" / "plugins")
    return dirs


def find_xcb_plugin(dirs: Iterable[Path] | None = None) -> Path | None:
    """The xcb platform plugin's file, or None where there is none (no PySide6, not Linux)."""
    for folder in plugin_dirs() if dirs is None else dirs:
        candidate = Path(folder) / XCB_PLUGIN
        if candidate.is_file():
            return candidate
    return None


def parse_ldd(output: str) -> list[str]:
    """The sonames ``ldd`` could not find, each once, in its order."""
    missing: list[str] = []
    for line in output.splitlines():
        match = _NOT_FOUND.match(line)
        if match and match.group(1) not in missing:
            missing.append(match.group(1))
    return missing


def missing_libraries(plugin: Path, run: Runner | None = None) -> list[str]:
    """The shared libraries ``plugin`` needs and the loader cannot find ([] also where ``ldd``
    is not available or fails: nothing is then known to be missing)."""
    env = dict(os.environ)
    bundle = getattr(sys, "_MEIPASS", None)
    if bundle:  # the frozen app's own copies of system libraries count as present
        env["LD_LIBRARY_PATH"] = os.pathsep.join(p for p in (bundle, env.get("LD_LIBRARY_PATH", "")) if p)
    try:
        output = (run or _run_ldd)(["ldd", str(plugin)], env)
    except (OSError, subprocess.SubprocessError):
        return []
    return parse_ldd(output or "")


def install_hint(missing: Iterable[str]) -> str:
    """'Debian/Ubuntu: sudo apt install ...; Fedora: sudo dnf install ...' for the known sonames, or ''."""
    known = [PACKAGES[name] for name in missing if name in PACKAGES]
    if not known:
        return ""
    debian = " ".join(dict.fromkeys(deb for deb, _ in known))
    fedora = " ".join(dict.fromkeys(fed for _, fed in known))
    return f"Debian/Ubuntu: sudo apt install {debian}; Fedora: sudo dnf install {fedora}"


def missing_library_reason(missing: list[str]) -> str:
    """The reason part of tlgui's one line, naming every missing library (known or not)."""
    hint = install_hint(missing)
    unknown = [name for name in missing if name not in PACKAGES]
    text = f"Qt's X11 plugin needs libraries this system lacks: {', '.join(missing)}; "
    if not hint:
        return text + "install the packages that provide them"
    also = f"; and the package that provides {', '.join(unknown)}" if unknown else ""
    return text + f"install them ({hint}{also})"


def xcb_missing_reason(dirs: Iterable[Path] | None = None, run: Runner | None = None) -> str | None:
    """Why the xcb plugin cannot load, naming the missing libraries; None when nothing is found
    missing (no plugin, no ldd, or a complete system: the caller keeps Qt's own reason)."""
    if not sys.platform.startswith("linux"):
        return None
    plugin = find_xcb_plugin(dirs)
    if plugin is None:
        return None
    missing = missing_libraries(plugin, run)
    return missing_library_reason(missing) if missing else None


def pyside_version() -> str | None:
    """PySide6's version (Qt's is the same), read from the installed metadata without importing it."""
    from importlib import metadata

    for distribution in ("PySide6", "PySide6_Essentials"):  # pip installs either as the Qt modules
        try:
            return metadata.version(distribution)
        except metadata.PackageNotFoundError:
            continue
    loaded = sys.modules.get("PySide6")  # the frozen app carries no package metadata
    return getattr(loaded, "__version__", None)


def planned_platform(environ: dict[str, str] | None = None) -> str:
    """The platform plugin Qt would start here: QT_QPA_PLATFORM, else Qt's own choice from the
    session (wayland on a Wayland session, xcb with a DISPLAY), or "none" without a screen."""
    env = os.environ if environ is None else environ
    if env.get("QT_QPA_PLATFORM"):
        return env["QT_QPA_PLATFORM"]
    if sys.platform == "darwin":
        return "cocoa"
    if sys.platform.startswith("win"):
        return "windows"
    if env.get("XDG_SESSION_TYPE") == "wayland" and env.get("WAYLAND_DISPLAY"):
        return "wayland"
    if env.get("DISPLAY"):
        return "xcb"
    return "wayland" if env.get("WAYLAND_DISPLAY") else "none (no DISPLAY or WAYLAND_DISPLAY)"


def qt_platform_info(running: str | None = None, run: Runner | None = None) -> dict[str, object]:
    """Qt's platform for a system report, without importing Qt: the plugin in use (``running``,
    from the window) or the one Qt would start, and what the X11 plugin lacks on Linux."""
    info: dict[str, object] = {"platform": running or planned_platform(), "in_use": running is not None}
    if sys.platform.startswith("linux"):
        plugin = find_xcb_plugin()
        info["xcb_plugin"] = str(plugin) if plugin else None
        missing = missing_libraries(plugin, run) if plugin else []
        info["xcb_missing_libraries"] = missing
        hint = install_hint(missing)
        if hint:
            info["xcb_install"] = hint
    return info
