"""Load the build scripts by file path: packaging/ is not a package (the name is PyPI's)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

PACKAGING = Path(__file__).resolve().parents[2] / "packaging"


def load(name: str):
    if str(PACKAGING) not in sys.path:
        sys.path.insert(0, str(PACKAGING))  # build.py and smoke_test.py import buildlib by name
    module_name = "buildlib" if name == "buildlib" else f"tlgui_packaging_{name}"
    if module_name in sys.modules:
        return sys.modules[module_name]
    spec = importlib.util.spec_from_file_location(module_name, PACKAGING / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def buildlib():
    return load("buildlib")


@pytest.fixture(scope="session")
def build():
    return load("build")


@pytest.fixture(scope="session")
def smoke():
    return load("smoke_test")


@pytest.fixture
def fake_python(tmp_path):
    """An executable that prints a given line (a stand-in for a build environment's python)."""

    def make(stdout: str = "", exit_code: int = 0, stderr: str = "") -> Path:
        path = tmp_path / "fake-python"
        path.write_text(f"#!/bin/sh\nprintf '%s\\n' '{stdout}'\nprintf '%s\\n' '{stderr}' >&2\nexit {exit_code}\n")
        path.chmod(0o755)
        return path

    return make
