#!/usr/bin/env python3
"""No module of the package over the project's cap (issue 32: 400 lines).

A file near the cap gets split by owner, not trimmed: the cap is low enough that a module doing
two things shows up here before it is hard to split.

Usage: python .ci/module_cap.py [DIR ...]  (default: tlgui)   (exit 0 clean, 1 with the modules listed)
"""

from __future__ import annotations

import sys
from pathlib import Path

CAP = 400


def over_cap(roots: list[str], cap: int = CAP) -> list[tuple[str, int]]:
    """(path, lines) of every .py file under ``roots`` longer than ``cap`` lines."""
    found = []
    for root in roots:
        for path in sorted(Path(root).rglob("*.py")):
            lines = len(path.read_text(encoding="utf-8").splitlines())
            if lines > cap:
                found.append((path.as_posix(), lines))
    return found


def main(argv: list[str]) -> int:
    roots = argv or ["tlgui"]
    found = over_cap(roots)
    for path, lines in found:
        print(f"{path}: {lines} lines (cap {CAP}): split it by owner")
    print(f"module cap: {len(found)} module(s) over {CAP} lines in {' '.join(roots)}")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
