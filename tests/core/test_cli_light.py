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
