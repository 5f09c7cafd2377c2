"""tlgui.core must import with PySide6 and pyqtgraph unavailable (the CLI and tests rely on it)."""

import pkgutil
import subprocess
import sys

import tlgui.core

BLOCKER = r"""
import sys, importlib.abc
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name.split(".")[0] in ("PySide6", "shiboken6", "pyqtgraph"):
            raise ImportError("blocked: " + name)
        return None
sys.meta_path.insert(0, Block())
import importlib
for name in sys.argv[1:]:
    importlib.import_module(name)
assert not any(m.split(".")[0] in ("PySide6", "pyqtgraph") for m in sys.modules)
print("ok", len(sys.argv) - 1)
"""


def core_modules():
    return sorted(
        m.name for m in pkgutil.walk_packages(tlgui.core.__path__, "tlgui.core.")
        if not m.name.rsplit(".", 1)[-1].startswith("_")
    )


def test_every_core_module_imports_without_qt():
    modules = core_modules() + ["tlgui.paths", "tlgui.cli"] + [
        f"tlgui.cli.{name}" for name in __import__("tlgui.cli", fromlist=["x"]).COMMAND_MODULES
    ]
    assert "tlgui.core.training.loop" in modules and "tlgui.core.base.errors" in modules
    result = subprocess.run([sys.executable, "-c", BLOCKER, *modules], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.startswith("ok")
