"""``tlgui --help`` must stay fast (building the parser imports neither torch nor Qt); no screen or
no usable Qt platform plugin is one plain line, not a Qt abort."""

import subprocess
import sys

import pytest

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


def _free_display() -> str:
    import os

    n = next(n for n in range(97, 300)
             if not os.path.exists(f"/tmp/.X11-unix/X{n}") and not os.path.exists(f"/tmp/.X{n}-lock"))
    return f":{n}"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Qt's xcb platform")
@pytest.mark.parametrize("setting", ["display", "plugin"])
def test_no_usable_qt_platform_plugin_is_one_plain_line_not_an_abort(setting):
    # without the guard Qt prints several qt.qpa lines, lists its plugins and dumps core (134)
    import os

    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    if setting == "display":
        from tlgui.qt_platform_check import xcb_missing_reason

        env["DISPLAY"] = display = _free_display()  # no X server there
        # where the xcb plugin cannot even load (its system libraries missing) Qt never tries
        # the display, and the line names those libraries instead
        missing = xcb_missing_reason()
        expected = "Qt's X11 plugin needs libraries" if missing else f"could not connect to display {display}"
    else:
        env["QT_QPA_PLATFORM"] = "nosuchplugin"
        expected = 'could not find the Qt platform plugin "nosuchplugin"'
    out = subprocess.run([sys.executable, "-m", "tlgui"], capture_output=True, text=True, timeout=120, env=env)
    assert out.returncode == 2, (out.returncode, out.stderr)
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("tlgui: error: cannot open the window: " + expected)
    assert "tlgui --help" in lines[0] and "Available platform plugins" not in out.stderr


def test_platform_failure_names_the_most_specific_reason():
    from tlgui.app import platform_failure

    fatal = "This application failed to start because no Qt platform plugin could be initialized."
    xcb = [("qt.qpa.xcb", "could not connect to display :97"),
           ("qt.qpa.plugin", "From 6.5.0, xcb-cursor0 or libxcb-cursor0 is needed to load the Qt xcb platform plugin."),
           ("qt.qpa.plugin", 'Could not load the Qt platform plugin "xcb" in "" even though it was found.')]
    # a display that cannot be reached, not the library hint Qt adds whenever xcb fails
    assert "could not connect to display :97 (" in platform_failure(xcb, fatal)
    # with a display, the library hint is the reason
    assert "xcb-cursor0 or libxcb-cursor0 is needed" in platform_failure(xcb[1:], fatal)
    assert "platform plugin it could start" in platform_failure([], fatal)
    assert 'in ""' not in platform_failure(xcb[2:], fatal)


def test_platform_failure_names_missing_xcb_libraries_when_the_plugin_did_not_load():
    from tlgui.app import platform_failure

    fatal = "This application failed to start because no Qt platform plugin could be initialized."
    unloadable = [("qt.qpa.plugin",
                   "From 6.5.0, xcb-cursor0 or libxcb-cursor0 is needed to load the Qt xcb platform plugin."),
                  ("qt.qpa.plugin", 'Could not load the Qt platform plugin "xcb" in "" even though it was found.')]
    named = "Qt's X11 plugin needs libraries this system lacks: libxcb-icccm.so.4; install them (...)"
    line = platform_failure(unloadable, fatal, lambda: named)
    assert line.startswith(f"cannot open the window: {named}, or use") and "tlgui --help" in line
    assert "xcb-cursor0" not in line
    # nothing found missing, or the check itself failed: Qt's own hint stays
    assert "xcb-cursor0 or libxcb-cursor0 is needed" in platform_failure(unloadable, fatal, lambda: None)
    assert "xcb-cursor0 or libxcb-cursor0 is needed" in platform_failure(unloadable, fatal, lambda: 1 / 0)
    # the plugin loaded and the display is unreachable: the libraries are not asked about
    asked = []
    display = [("qt.qpa.xcb", "could not connect to display :97"), *unloadable]
    line = platform_failure(display, fatal, lambda: asked.append(1) or named)
    assert "could not connect to display :97" in line and not asked
    missing_plugin = [("qt.qpa.plugin", 'Could not find the Qt platform plugin "nosuch" in ""')]
    assert "could not find" in platform_failure(missing_plugin, fatal, lambda: asked.append(1) or named)
    assert not asked
