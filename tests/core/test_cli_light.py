"""``tlgui --help`` must stay fast: building the parser imports neither torch nor Qt."""

import subprocess
import sys

CHECK = r"""
import sys
from tlgui.cli import build_parser
build_parser()
heavy = sorted({m.split('.')[0] for m in sys.modules} & {'torch', 'torchvision', 'PySide6', 'pyqtgraph'})
print(','.join(heavy) or 'light')
"""


def test_parser_imports_no_heavy_modules():
    out = subprocess.run([sys.executable, "-c", CHECK], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "light"


def test_python_m_tlgui_help_lists_commands():
    out = subprocess.run([sys.executable, "-m", "tlgui", "--help"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    for command in ("train", "evaluate", "layers", "demo", "scan"):
        assert command in out.stdout


def test_no_display_gives_a_plain_message_instead_of_a_qt_abort():
    import os

    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    out = subprocess.run([sys.executable, "-m", "tlgui"], capture_output=True, text=True, timeout=60, env=env)
    assert out.returncode == 2
    assert "no screen to open the window on" in out.stderr and "tlgui --help" in out.stderr
    assert "Traceback" not in out.stderr and "qt.qpa" not in out.stderr
