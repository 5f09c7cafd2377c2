"""Helpers shared by build.py and smoke_test.py: names, sizes, archives, checks.

Standard library only: these run under whatever ``python3`` starts the build, before any
build environment exists. Unit tests: tests/packaging.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import os
import platform
import re
import stat
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MIN_PYTHON = (3, 10)
MIN_PYINSTALLER = (6, 11)  # bindepend_symlink_suppression, used by the torch hook
APP_NAME = "tlgui"
# CUDA runtime libraries as torch wheels ship them (nvidia-* packages or bundled copies), by prefix
_CUDA_LIB = re.compile(
    r"^lib(cublas|cudart|cudnn|cufft|cufile|cupti|curand|cusolver|cusparse|nccl|nvjitlink|nvrtc|nvshmem"
    r"|nvtoolsext|nvtx|nvperf|nvblas|nvjpeg|cuda|caffe2_nvrtc|torch_cuda|c10_cuda|torch_nvshmem)",
    re.IGNORECASE,
)


class BuildError(Exception):
    """Something the build needs is missing; the message is one line saying what and how to get it."""


# ---------------------------------------------------------------- names


def read_version(root: Path = ROOT) -> str:
    """tlgui's version, read from tlgui/__init__.py without importing it."""
    text = (root / "tlgui" / "__init__.py").read_text(encoding="utf-8")
    match = re.search(r"""^__version__\s*=\s*["']([^"']+)["']""", text, re.MULTILINE)
    if not match:
        raise BuildError(f"no __version__ in {root / 'tlgui' / '__init__.py'}")
    return match.group(1)


def platform_tag(system: str | None = None, machine: str | None = None) -> str:
    """linux-x86_64, macos-arm64, windows-amd64, ...: the suffix of the archive's name."""
    system = (system or sys.platform).lower()
    machine = (machine or platform.machine() or "unknown").lower()
    if system.startswith("linux"):
        name = "linux"
    elif system == "darwin":
        name = "macos"
    elif system in ("win32", "cygwin", "windows"):
        name = "windows"
    else:
        name = system
    machine = {"x64": "x86_64", "amd64": "x86_64"}.get(machine, machine)
    if name == "macos" and machine == "aarch64":
        machine = "arm64"  # Apple's name
    return f"{name}-{machine}"


def archive_name(version: str, tag: str) -> str:
    """tlgui-VERSION-TAG.tar.gz on Linux, .dmg on macOS (the .app to drag into Applications),
    .zip on Windows (beside the Inno Setup installer)."""
    suffix = ".tar.gz" if tag.startswith("linux") else ".dmg" if tag.startswith("macos") else ".zip"
    return f"{APP_NAME}-{version}-{tag}{suffix}"


def venv_python(venv: Path) -> Path:
    if os.name == "nt":
        return venv / "Scripts" / "python.exe"
    return venv / "bin" / "python"


def app_executable(app_dir: Path) -> Path:
    """The executable inside the one-folder app."""
    return app_dir / (APP_NAME + (".exe" if os.name == "nt" else ""))


# ---------------------------------------------------------------- checks


def check_python(version_info=sys.version_info, executable: str = sys.executable) -> None:
    if tuple(version_info[:2]) < MIN_PYTHON:
        have = ".".join(str(v) for v in version_info[:3])
        raise BuildError(
            f"Python {MIN_PYTHON[0]}.{MIN_PYTHON[1]} or newer is needed to build tlgui, this is {have} "
            f"({executable}); install a newer one (e.g. 'sudo apt install python3.11 python3.11-venv') "
            "and run packaging/build.py with it"
        )


def check_venv_support(executable: str = sys.executable) -> None:
    """``python -m venv`` needs the venv module and ensurepip (Debian and Ubuntu split them off)."""
    try:
        import ensurepip  # noqa: F401
        import venv  # noqa: F401
    except ImportError as exc:
        minor = f"{sys.version_info[0]}.{sys.version_info[1]}"
        raise BuildError(
            f"this Python ({executable}) cannot make virtual environments ({exc.name} is missing); "
            f"install it (Debian/Ubuntu: 'sudo apt install python{minor}-venv') or pass --python "
            "with an environment that has tlgui's dependencies and PyInstaller"
        ) from None


def parse_version(text: str) -> tuple[int, ...]:
    """'6.22.3' -> (6, 22, 3); '2.14.1+cpu' -> (2, 14, 1); junk after the numbers is ignored."""
    match = re.match(r"\s*(\d+(?:\.\d+)*)", text)
    return tuple(int(p) for p in match.group(1).split(".")) if match else ()


def probe_environment(python: Path) -> dict[str, str]:
    """Python, PyInstaller and torch versions of the build environment at ``python``.

    Raises BuildError (one line: what is missing, how to get it) when it cannot build.
    """
    code = (
        "import sys, json\n"
        "out = {'python': '%d.%d.%d' % sys.version_info[:3]}\n"
        "for name in ('PyInstaller', 'torch', 'torchvision', 'PySide6'):\n"
        "    try:\n"
        "        mod = __import__(name)\n"
        "        out[name] = getattr(mod, '__version__', '?')\n"
        "    except Exception:\n"
        "        out[name] = ''\n"
        "try:\n"
        "    import torch\n"
        "    out['cuda'] = torch.version.cuda or ''\n"
        "except Exception:\n"
        "    out['cuda'] = ''\n"
        "print(json.dumps(out))\n"
    )
    try:
        proc = subprocess.run([str(python), "-c", code], capture_output=True, text=True, encoding="utf-8",
                              errors="replace", timeout=600)
    except OSError as exc:
        raise BuildError(f"cannot run the build environment's Python {python}: {exc.strerror or exc}") from None
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        raise BuildError(f"the build environment's Python {python} failed to start: {last}")
    info = json.loads(proc.stdout.strip().splitlines()[-1])
    return check_environment(info, python)


def check_environment(info: dict[str, str], python: Path) -> dict[str, str]:
    pip = f"{python} -m pip install"
    if parse_version(info.get("python", "")) < MIN_PYTHON:
        raise BuildError(
            f"the build environment {python} runs Python {info.get('python')}; tlgui needs "
            f"{MIN_PYTHON[0]}.{MIN_PYTHON[1]} or newer: make it with a newer python3 -m venv"
        )
    pyi = info.get("PyInstaller", "")
    need = ".".join(map(str, MIN_PYINSTALLER))
    if not pyi:
        raise BuildError(f"PyInstaller is not installed in {python}: {pip} 'pyinstaller>={need}'")
    if parse_version(pyi) < MIN_PYINSTALLER:
        raise BuildError(f"PyInstaller {pyi} in {python} is too old: {pip} -U 'pyinstaller>={need}'")
    for name, what in (("torch", "torch"), ("torchvision", "torchvision"), ("PySide6", "PySide6-Essentials")):
        if not info.get(name):
            raise BuildError(f"{what} is not installed in {python}: {pip} '{ROOT}[export]'")
    return info


def env_stamp(root: Path, torch_index_url: str | None, python_version: str) -> str:
    """Changes when the build environment must be (re)installed: dependencies, torch source, Python."""
    digest = hashlib.sha256()
    digest.update((root / "pyproject.toml").read_bytes())
    digest.update(f"\0{torch_index_url or ''}\0{python_version}\0{MIN_PYINSTALLER}".encode())
    return digest.hexdigest()


# ---------------------------------------------------------------- what the spec leaves out

# files dropped after analysis, matched against their path inside the app folder
DROP = (
    "torch/include/*", "torch/share/*", "torch/test/*", "torch/bin/protoc*",
    "nvidia/*/include/*", "*.a", "*.lib", "*.pyi",
    "*/tests/*",
    "PySide6/Qt/translations/qtwebengine*", "PySide6/Qt/qml/*",
    # Qt platforms for embedded devices (framebuffer, EGLFS, VNC); desktops use xcb or wayland
    "PySide6/Qt/plugins/platforms/libqeglfs.so", "PySide6/Qt/plugins/platforms/libqlinuxfb.so",
    "PySide6/Qt/plugins/platforms/libqvnc.so", "PySide6/Qt/plugins/platforms/libqvkkhrdisplay.so",
    "PySide6/Qt/plugins/platforms/libqminimalegl.so", "PySide6/Qt/plugins/egldeviceintegrations/*",
    # (in PySide6/Qt/lib/; only the dropped eglfs plugins link to them)
    "*/libQt6EglFSDeviceIntegration.so*", "*/libQt6EglFsKmsSupport.so*",
    # the GTK 3 theme plugin would load the desktop's GTK against the bundled GLib and cairo,
    # which need not match; Qt's own dialogs and style are used instead
    "PySide6/Qt/plugins/platformthemes/libqgtk3.so",
)
# (torch.testing._internal stays: torch.utils.checkpoint imports it at run time)


def keep_in_app(dest_name: str) -> bool:
    """False for a file DROP names (matched against its path inside the app folder)."""
    path = dest_name.replace("\\", "/")
    return not any(fnmatch.fnmatch(path, pattern) for pattern in DROP)


# ---------------------------------------------------------------- sizes


def human_size(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if abs(n) < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    raise AssertionError("unreachable")


def _files(root: Path):
    """Regular files under root, symlinks not followed (a link costs no space)."""
    for dirpath, _dirs, names in os.walk(root):
        for name in names:
            path = Path(dirpath) / name
            if not path.is_symlink() and path.is_file():
                yield path


def folder_size(root: Path) -> int:
    return sum(p.stat().st_size for p in _files(root))


def largest_files(root: Path, count: int = 20) -> list[tuple[int, str]]:
    sizes = [(p.stat().st_size, p.relative_to(root).as_posix()) for p in _files(root)]
    return sorted(sizes, reverse=True)[:count]


def cuda_libraries(root: Path) -> list[tuple[int, str]]:
    """CUDA libraries in a build (empty for a CPU-only torch), largest first."""
    found = [
        (p.stat().st_size, p.relative_to(root).as_posix())
        for p in _files(root)
        if _CUDA_LIB.match(p.name) and (".so" in p.name or p.suffix in (".dll", ".dylib"))
    ]
    return sorted(found, reverse=True)


# ---------------------------------------------------------------- archives


def _tar_filter(info: tarfile.TarInfo) -> tarfile.TarInfo:
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    if info.isfile() and info.mode & stat.S_IXUSR:
        info.mode = 0o755
    elif info.isfile():
        info.mode = 0o644
    elif info.isdir():
        info.mode = 0o755
    return info


def make_tar(app_dir: Path, archive: Path, top: str = APP_NAME, level: int = 6) -> Path:
    """Pack app_dir as ``top/`` into a .tar.gz (symlinks kept as links, executables stay executable)."""
    part = archive.with_name(archive.name + ".part")
    with tarfile.open(part, "w:gz", compresslevel=level) as tar:
        tar.add(app_dir, arcname=top, filter=_tar_filter)
    os.replace(part, archive)
    return archive


def make_zip(app_dir: Path, archive: Path, top: str = APP_NAME) -> Path:
    """Pack app_dir as ``top/`` into a .zip (Windows; macOS uses ditto, which keeps the bundle's links)."""
    part = archive.with_name(archive.name + ".part")
    with zipfile.ZipFile(part, "w", zipfile.ZIP_DEFLATED, compresslevel=6) as zf:
        for path in sorted(app_dir.rglob("*")):
            zf.write(path, Path(top, path.relative_to(app_dir)).as_posix())
    os.replace(part, archive)
    return archive


def extract_tar(archive: Path, dest: Path) -> Path:
    """Unpack a build archive into dest; returns its single top folder."""
    with tarfile.open(archive) as tar:
        tops = {Path(m.name).parts[0] for m in tar.getmembers() if m.name}
        if len(tops) != 1:
            raise BuildError(f"{archive} should hold one top folder, it holds {sorted(tops)}")
        if hasattr(tarfile, "data_filter"):
            tar.extractall(dest, filter="tar")
        else:  # Python < 3.10.12 / 3.11.4: our own archive, so no filter is acceptable
            tar.extractall(dest)  # noqa: S202
    return dest / tops.pop()
