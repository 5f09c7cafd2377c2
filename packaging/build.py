#!/usr/bin/env python3
"""Build tlgui as a one-folder app (PyInstaller) and pack it, from a clean clone.

    python3 packaging/build.py                        # makes packaging/build/venv once, reuses it
    python3 packaging/build.py --torch-index-url https://download.pytorch.org/whl/cpu   # CPU-only torch
    python3 packaging/build.py --python ENV/bin/python   # an existing environment instead

Linux output: dist/tlgui/ (run dist/tlgui/tlgui) and dist/tlgui-VERSION-linux-x86_64.tar.gz, whose
top folder tlgui/ holds the executable, install.sh (menu entry, ~/.local) and README.txt.
macOS: dist/tlgui.app, signed ad hoc (codesign -s -), in dist/tlgui-VERSION-macos-ARCH.dmg beside a
link to /Applications. Windows: dist/tlgui/ (tlgui.exe, the window; tlgui-cli.exe, the command
line) and a .zip, plus the Inno Setup installer (packaging/windows/tlgui.iss) when iscc is on PATH
or given with --inno. .github/workflows/installers.yml builds all three on their own systems.

Notarisation (not done here): an ad hoc signature lets the .app run on the Mac that built it and,
after the user right-clicks Open once, on others; Gatekeeper accepts it without that step only when
it is signed with a "Developer ID Application" certificate (an Apple Developer account),
``codesign --force --deep --options runtime --timestamp --sign "Developer ID Application: ..."``,
submitted with ``xcrun notarytool submit tlgui-....dmg --apple-id ... --team-id ... --password
APP-SPECIFIC-PASSWORD --wait`` and stapled with ``xcrun stapler staple tlgui-....dmg``. The torch in the build
environment decides the size: PyPI's Linux
torch is a CUDA build (about 4 GB frozen); a CPU torch gives a much smaller app.

Standard library only. Exit status: 0 built, 1 a build step failed, 2 something is missing
(one line saying what and how to get it).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from buildlib import (  # noqa: E402
    APP_NAME,
    MIN_PYINSTALLER,
    ROOT,
    BuildError,
    app_executable,
    archive_name,
    check_python,
    check_venv_support,
    cuda_libraries,
    env_stamp,
    folder_size,
    human_size,
    make_tar,
    make_zip,
    platform_tag,
    probe_environment,
    read_version,
    venv_python,
)

BUILD_DIR = ROOT / "packaging" / "build"
DIST_DIR = ROOT / "dist"
SPEC = ROOT / "packaging" / "tlgui.spec"
CPU_INDEX = "https://download.pytorch.org/whl/cpu"


def say(text: str) -> None:
    print(f"build: {text}", flush=True)


def run(cmd: list, log: Path | None = None, **kwargs) -> None:
    """Run a build step; on failure show the end of its output and raise."""
    shown = " ".join(str(c) for c in cmd)
    if log is None:
        proc = subprocess.run([str(c) for c in cmd], **kwargs)
    else:
        with open(log, "w", encoding="utf-8") as out:
            proc = subprocess.run([str(c) for c in cmd], stdout=out, stderr=subprocess.STDOUT, **kwargs)
    if proc.returncode != 0:
        if log is not None:
            tail = log.read_text(encoding="utf-8", errors="replace").splitlines()[-40:]
            print("\n".join(tail), file=sys.stderr)
        raise StepFailed(f"this step failed (exit status {proc.returncode}): {shown}"
                         + (f" (full log: {log})" if log else ""))


class StepFailed(Exception):
    """A build step ran and failed (exit status 1, unlike a missing tool)."""


# ---------------------------------------------------------------- build environment


def plan_env(old: dict | None, new: dict) -> str:
    """'create', 'reuse', 'update' (dependencies changed) or 'recreate' (other torch or Python)."""
    if old is None:
        return "create"
    if old == new:
        return "reuse"
    if old.get("torch_index_url") != new.get("torch_index_url") or old.get("python") != new.get("python"):
        return "recreate"  # pip would keep the installed torch; start from an empty env instead
    return "update"


def read_stamp(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def ensure_build_env(venv: Path, torch_index_url: str | None, fresh: bool) -> Path:
    """The build environment's python: tlgui's dependencies (with [export]) and PyInstaller."""
    python = venv_python(venv)
    stamp_file = venv / "tlgui-build-env.json"
    version = ".".join(map(str, sys.version_info[:3]))
    new = {"deps": env_stamp(ROOT, torch_index_url, version), "torch_index_url": torch_index_url or "",
           "python": version}
    plan = plan_env(None if fresh or not python.exists() else read_stamp(stamp_file), new)
    if plan == "reuse":
        say(f"reusing the build environment {venv} (--fresh remakes it)")
        return python
    if plan in ("recreate", "create") and venv.exists():
        say(f"removing the old build environment {venv}")
        shutil.rmtree(venv)
    if not python.exists():
        check_venv_support()
        say(f"making the build environment {venv}")
        run([sys.executable, "-m", "venv", venv])
    pip = [python, "-m", "pip", "install", "--disable-pip-version-check", "--progress-bar", "off"]
    if torch_index_url:
        say(f"installing torch and torchvision from {torch_index_url}")
        run(pip + ["--index-url", torch_index_url, "torch", "torchvision"])
    say("installing tlgui's dependencies and PyInstaller (PyTorch is large: minutes, once)")
    min_pyi = ".".join(map(str, MIN_PYINSTALLER))
    run(pip + [f"{ROOT}[export]", f"pyinstaller>={min_pyi}"])
    # the app's code comes from this checkout (the spec puts it first); no stale copy in the env
    run([python, "-m", "pip", "uninstall", "--disable-pip-version-check", "-y", "-q", APP_NAME])
    stamp_file.write_text(json.dumps(new), encoding="utf-8")
    return python


# ---------------------------------------------------------------- outputs


def remove_old_outputs(dist: Path, tag: str) -> None:
    """One frozen build at a time: they weigh gigabytes."""
    for path in (dist / APP_NAME, dist / f"{APP_NAME}.app"):
        if path.exists():
            shutil.rmtree(path)
    for path in dist.glob(f"{APP_NAME}-*-{tag}*"):
        path.unlink()


def add_linux_extras(app_dir: Path, version: str) -> None:
    """install.sh, the menu entry and icons, README.txt: next to the executable, in the archive."""
    shutil.copy2(ROOT / "packaging" / "linux" / "install.sh", app_dir / "install.sh")
    (app_dir / "install.sh").chmod(0o755)
    share = app_dir / "share"
    share.mkdir(exist_ok=True)
    for name in ("tlgui.desktop", "tlgui.png", "tlgui.svg"):
        shutil.copy2(ROOT / "resources" / name, share / name)
    (app_dir / "README.txt").write_text(README_TXT.format(version=version), encoding="utf-8")


README_TXT = """\
tlgui {version}: transfer learning, point and click. No Python needed.

Run it from this folder:      ./tlgui            (the window)
                              ./tlgui --help     (the command line)
Install it for yourself:      ./install.sh       (copies this folder to ~/.local/lib/tlgui, adds the
                                                  'tlgui' command to ~/.local/bin and a menu entry)
Uninstall:                    ~/.local/lib/tlgui/install.sh --uninstall
                              (your runs, models and settings stay; it says where they are)

The folder can be moved anywhere; keep the tlgui executable and _internal/ together.
"""


def pack(app_dir: Path, dist: Path, version: str, tag: str, inno: str | None) -> list[Path]:
    archive = dist / archive_name(version, tag)
    if tag.startswith("linux"):
        return [make_tar(app_dir, archive)]
    if tag.startswith("macos"):
        bundle = dist / f"{APP_NAME}.app"
        sign_ad_hoc(bundle)
        make_dmg(bundle, archive)
        return [archive]
    made = [make_zip(app_dir, archive)]
    iscc = inno or shutil.which("iscc") or shutil.which("ISCC")
    if iscc:
        run([iscc, f"/DAppVersion={version}", f"/DSourceDir={app_dir}", f"/O{dist}",
             ROOT / "packaging" / "windows" / "tlgui.iss"])
        made += sorted(dist.glob(f"{APP_NAME}-{version}-*-setup.exe"))
    else:
        say("Inno Setup's iscc is not on PATH: no installer made (the .zip works without one)")
    return made


def sign_ad_hoc(bundle: Path) -> None:
    """macOS: sign the .app ad hoc (no certificate), every binary inside it, and check the result.
    Apple silicon refuses to run unsigned code; notarisation needs a Developer ID (module docstring)."""
    say(f"signing {bundle.name} ad hoc (codesign -s -)")
    run(["codesign", "--force", "--deep", "--sign", "-", bundle])
    run(["codesign", "--verify", "--deep", "--strict", bundle])


def make_dmg(bundle: Path, dmg: Path) -> None:
    """macOS: a compressed disk image holding the .app and a link to /Applications to drag it onto."""
    staging = BUILD_DIR / "dmg"
    if staging.exists():
        shutil.rmtree(staging)
    staging.mkdir(parents=True)
    run(["ditto", bundle, staging / bundle.name])  # ditto keeps the signature and extended attributes
    (staging / "Applications").symlink_to("/Applications")
    run(["hdiutil", "create", "-volname", APP_NAME, "-srcfolder", staging, "-ov", "-format", "UDZO", dmg])
    shutil.rmtree(staging)


def report(app_dir: Path, archives: list[Path], seconds: dict[str, float]) -> None:
    size = folder_size(app_dir)
    cuda = cuda_libraries(app_dir)
    say(f"{app_dir}: {human_size(size)}")
    if cuda:
        cuda_size = sum(s for s, _ in cuda)
        say(f"CUDA libraries: {len(cuda)} files, {human_size(cuda_size)} ({100 * cuda_size / size:.0f} % of "
            f"the app); a CPU-only torch leaves them out (--torch-index-url {CPU_INDEX})")
    else:
        say("CUDA libraries: none (a CPU-only torch)")
    for archive in archives:
        say(f"{archive}: {human_size(archive.stat().st_size)}")
    say("times: " + ", ".join(f"{k} {v:.0f} s" for k, v in seconds.items()))


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="packaging/build.py", description=__doc__.split("\n\n")[0])
    p.add_argument("--python", metavar="PY", help="build with this environment's Python instead of "
                   "making one (it needs tlgui's dependencies, tlgui[export] for ONNX, and PyInstaller)")
    p.add_argument("--torch-index-url", metavar="URL", default=os.environ.get("TLGUI_TORCH_INDEX_URL") or None,
                   help=f"install torch/torchvision from this index, e.g. {CPU_INDEX} for a CPU-only app "
                   "(default: $TLGUI_TORCH_INDEX_URL, else pip's usual index)")
    p.add_argument("--fresh", action="store_true", help="remake the build environment")
    p.add_argument("--clean", action="store_true", help="empty PyInstaller's cache first")
    p.add_argument("--no-archive", action="store_true", help="only the folder, no archive")
    p.add_argument("--inno", metavar="ISCC", help="Windows: path to Inno Setup's iscc.exe")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    start = time.monotonic()
    seconds: dict[str, float] = {}
    try:
        check_python()
        if args.python and args.torch_index_url:
            raise BuildError("--torch-index-url installs into the build environment build.py makes; with "
                             "--python, install the torch you want into that environment yourself")
        BUILD_DIR.mkdir(parents=True, exist_ok=True)
        python = Path(args.python) if args.python else ensure_build_env(
            BUILD_DIR / "venv", args.torch_index_url, args.fresh)
        info = probe_environment(python)
        say(f"Python {info['python']}, PyInstaller {info['PyInstaller']}, torch {info['torch']} "
            f"({'CUDA ' + info['cuda'] if info['cuda'] else 'CPU only'}), torchvision {info['torchvision']}, "
            f"PySide6 {info['PySide6']}")
        seconds["environment"] = time.monotonic() - start

        version, tag = read_version(), platform_tag()
        DIST_DIR.mkdir(exist_ok=True)
        remove_old_outputs(DIST_DIR, tag)
        log = BUILD_DIR / "pyinstaller.log"
        say(f"running PyInstaller on {SPEC.relative_to(ROOT)} (minutes; log: {log})")
        t = time.monotonic()
        cmd = [python, "-m", "PyInstaller", "--noconfirm", "--distpath", DIST_DIR,
               "--workpath", BUILD_DIR / "work", SPEC]
        run(cmd + (["--clean"] if args.clean else []), log=log, cwd=BUILD_DIR)
        seconds["pyinstaller"] = time.monotonic() - t
        app_dir = DIST_DIR / APP_NAME
        if not app_executable(app_dir).exists():
            raise StepFailed(f"PyInstaller finished but {app_executable(app_dir)} is missing (log: {log})")
        if tag.startswith("linux"):
            add_linux_extras(app_dir, version)
        archives: list[Path] = []
        if not args.no_archive:
            t = time.monotonic()
            say("packing the archive")
            archives = pack(app_dir, DIST_DIR, version, tag, args.inno)
            seconds["archive"] = time.monotonic() - t
        seconds["total"] = time.monotonic() - start
        report(app_dir, archives, seconds)
        shown = DIST_DIR.relative_to(Path.cwd()) if DIST_DIR.is_relative_to(Path.cwd()) else DIST_DIR
        say(f"smoke test: python3 packaging/smoke_test.py {shown}")
        return 0
    except BuildError as exc:
        print(f"build: error: {exc}", file=sys.stderr)
        return 2
    except StepFailed as exc:
        print(f"build: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("build: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
