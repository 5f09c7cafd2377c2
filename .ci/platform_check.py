#!/usr/bin/env python3
"""Calls that exist only on some systems, guarded (issue 28, A.5).

mypy type-checks tlgui as Linux, Windows and macOS see it (``--platform``): typeshed declares
``fcntl``, ``os.sysconf``, ``signal.SIGKILL``, ``os.getuid``, ``msvcrt`` ... for their systems only,
and mypy skips the branch of an ``if sys.platform == ...`` that the chosen system never takes.
An error that shows for Windows or macOS but not for Linux is an unguarded platform call; the
project's other typing issues (the same on every system) are not this check's business.
Third-party packages are not analysed (``--follow-imports=skip``), which keeps it to seconds.

Usage: python .ci/platform_check.py [DIR ...]  (default: tlgui packaging)   (exit 0 clean, 1 with the errors listed)
"""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile

PLATFORMS = ("linux", "win32", "darwin")
_ERROR = re.compile(r"^(?P<path>[^:]+):(?P<line>\d+): error: (?P<message>.*)$")


def mypy_errors(targets: list[str], platform: str, cache: str) -> set[tuple[str, str, str]]:
    """(path, line, message) of every error mypy reports for ``target`` checked as ``platform``."""
    command = [
        sys.executable, "-m", "mypy", "--platform", platform, "--ignore-missing-imports",
        "--follow-imports=skip", "--no-error-summary", "--show-error-codes", "--no-pretty",
        "--cache-dir", f"{cache}/{platform}", *targets,
    ]
    done = subprocess.run(command, capture_output=True, text=True, encoding="utf-8", check=False)
    if done.returncode not in (0, 1):  # 2: mypy itself failed (bad option, crash)
        raise SystemExit(f"platform check: mypy failed for {platform}:\n{done.stderr or done.stdout}")
    errors = set()
    for line in done.stdout.splitlines():
        match = _ERROR.match(line)
        if match:
            errors.add((match["path"], match["line"], match["message"]))
    return errors


def platform_only(per_platform: dict[str, set[tuple[str, str, str]]]) -> list[str]:
    """Lines for the errors some platform has that Linux (where the suite runs) has not."""
    baseline = per_platform["linux"]
    lines = []
    for platform, errors in per_platform.items():
        for path, line, message in sorted(errors - baseline):
            lines.append(f"{path}:{line}: only on {platform}: {message}")
    return lines


def main(argv: list[str]) -> int:
    targets = argv or ["tlgui", "packaging"]
    with tempfile.TemporaryDirectory(prefix="tlgui-platform-check-") as cache:
        per_platform = {p: mypy_errors(targets, p, cache) for p in PLATFORMS}
    problems = platform_only(per_platform)
    for line in problems:
        print(line)
    print(f"platform check: {len(problems)} unguarded platform-specific call(s) in {' '.join(targets)} "
          f"(mypy --platform {', '.join(PLATFORMS)})")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
