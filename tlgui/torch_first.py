"""What must happen before PyTorch is imported: its environment, and its DLLs before Qt's.

Import PyTorch before PySide6 in every entry point that opens the window:
On Windows with torch 2.9 and later, Qt's DLLs loaded first make torch's own fail to load
(``OSError: [WinError 1114] A dynamic link library (DLL) initialization routine failed``,
pytorch#166628). Importing torch first avoids it on every system, so the order is the same
everywhere and a test on Linux keeps it (tests/core/test_import_order.py). The price: the window's
first paint now waits for torch's import instead of coming before it.
"""

from __future__ import annotations

import os
import sys


def set_torch_environment(environ=os.environ, platform: str = sys.platform) -> None:
    """Environment PyTorch reads when it is imported. On macOS: operations Apple's GPU (MPS)
    lacks run on the CPU instead of stopping the run (``--device auto`` picks MPS there); a
    value the user set is kept. Called by ``tlgui/__init__.py``, before anything imports torch."""
    if platform == "darwin":
        environ.setdefault("PYTORCH_ENABLE_MPS_FALLBACK", "1")


def load_torch_before_qt() -> None:
    """Import torch unless PySide6 is loaded already (then it is too late, and harmless off
    Windows). A torch that fails to import is left to the window's loader, which says why."""
    if "torch" in sys.modules or "PySide6" in sys.modules:
        return
    try:
        import torch  # noqa: F401
    except Exception:  # noqa: BLE001 - reported in the window (ui/shell/startup.py), not here
        pass
