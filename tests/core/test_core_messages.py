"""Core messages speak of settings and commands; where a window keeps them (its menus) is the window's business."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

import tlgui.core
from tlgui.core.base.errors import DataError
from tlgui.core.data.builtin_sets import DOWNLOAD_HINT
from tlgui.core.data.catalog import open_source
from tlgui.core.data.sources import class_imbalance_warning

MENU_WORDS = re.compile(r"\b(File|Edit|View|Data|Models|Train|Results|Tools|Help) > |\bmenus?\b|\bclick", re.IGNORECASE)


def _docstrings(tree: ast.AST) -> set[int]:
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                found.add(id(first.value))
    return found


def test_no_core_message_names_a_menu():
    root = Path(tlgui.core.__file__).parent
    offenders = []
    for path in sorted(root.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        docs = _docstrings(tree)
        for node in ast.walk(tree):
            if (isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docs
                    and MENU_WORDS.search(node.value)):
                offenders.append(f"{path.relative_to(root).as_posix()}:{node.lineno}: {node.value[:60]!r}")
    assert offenders == []


def test_the_messages_that_named_menus_name_the_setting_or_command(tmp_path):
    with pytest.raises(DataError) as caught:
        open_source(f"torchvision:CIFAR10:{tmp_path}")
    assert str(caught.value).endswith(f"{DOWNLOAD_HINT})") and " > " not in str(caught.value)
    text = class_imbalance_warning({"a": 30, "b": 5})
    assert "the Class weights setting balanced, --class-weights balanced" in text and "window" not in text
