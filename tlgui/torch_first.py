"""What must happen before PyTorch is imported: its environment, and (on Windows) its DLLs before Qt's.

On Windows with torch 2.9 and later, Qt's DLLs loaded first make torch's own fail to load
(``OSError: [WinError 1114] A dynamic link library (DLL) initialization routine failed``,
pytorch#166628), so every entry point that opens the window calls :func:`load_torch_before_qt`
before PySide6. Elsewhere the window keeps painting first (about 0.2 s instead of after torch's
1-3 s import) and loads torch in the background; ``TLGUI_TORCH_FIRST=1`` takes the Windows order
on any system, which is how a test on Linux keeps it (tests/core/test_import_order.py).
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


def torch_first_wanted(platform: str = sys.platform, environ=os.environ) -> bool:
    """Whether torch must be loaded before Qt here: on Windows, or when TLGUI_TORCH_FIRST=1."""
    return platform == "win32" or environ.get("TLGUI_TORCH_FIRST") == "1"


def load_torch_before_qt() -> None:
    """Where :func:`torch_first_wanted`, import torch unless PySide6 is loaded already (then it is
    too late). A torch that fails to import is left to the window's loader, which says why."""
    if not torch_first_wanted() or "torch" in sys.modules or "PySide6" in sys.modules:
        return
    try:
        import torch  # noqa: F401
    except Exception:  # noqa: BLE001 - reported in the window (ui/shell/startup.py), not here
        pass
