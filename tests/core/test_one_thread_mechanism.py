"""One thread mechanism: only tlgui/workers subclasses or makes a QThread, or moves objects onto one.

Read from the source (no Qt imported), so it runs with the core tests.
"""

from __future__ import annotations

import ast
from pathlib import Path

import tlgui

PACKAGE = Path(tlgui.__file__).parent


def _name(node: ast.expr) -> str:
    if isinstance(node, ast.Attribute):
        return node.attr
    return node.id if isinstance(node, ast.Name) else ""


def _thread_making(tree: ast.AST) -> list[str]:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef) and any(_name(base) == "QThread" for base in node.bases):
            found.append(f"class {node.name}(QThread)")
        elif isinstance(node, ast.Call) and _name(node.func) in ("QThread", "moveToThread", "QThreadPool"):
            found.append(f"{_name(node.func)}(...) on line {node.lineno}")
    return found


def test_only_the_workers_make_threads_for_the_window():
    outside = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE).as_posix()
        if relative.startswith("workers/"):
            continue
        found = _thread_making(ast.parse(path.read_text(encoding="utf-8")))
        if found:
            outside[relative] = found
    assert outside == {}


def test_the_workers_base_is_found_by_the_check():
    # the check itself works: it sees the one QThread subclass, in the workers' base
    found = _thread_making(ast.parse((PACKAGE / "workers" / "base.py").read_text(encoding="utf-8")))
    assert found == ["class _Thread(QThread)"]
