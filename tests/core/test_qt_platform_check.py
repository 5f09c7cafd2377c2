"""Naming the system libraries Qt's xcb plugin lacks, from ``ldd`` output (a fake plugin and a fake ldd)."""

import subprocess

from tlgui import qt_platform_check as q

LDD_MISSING = """\
\tlinux-vdso.so.1 (0x00007ffd5a7e1000)
\tlibQt6XcbQpa.so.6 => /venv/PySide6/Qt/plugins/platforms/../../lib/libQt6XcbQpa.so.6 (0x00007f57c909e000)
\tlibxcb-cursor.so.0 => /lib/x86_64-linux-gnu/libxcb-cursor.so.0 (0x00007f57c8fb4000)
\tlibxcb-icccm.so.4 => not found
\tlibxcb-keysyms.so.1 => not found
\tlibxcb.so.1 => /lib/x86_64-linux-gnu/libxcb.so.1 (0x00007f57c8f21000)
\tlibxcb-icccm.so.4 => not found
\tlibxcb-keysyms.so.1 => not found
"""
LDD_COMPLETE = "\tlibxcb.so.1 => /lib/x86_64-linux-gnu/libxcb.so.1 (0x00007f57c8f21000)\n"


def _fake_plugin(tmp_path):
    plugin = tmp_path / "plugins" / "platforms" / "libqxcb.so"
    plugin.parent.mkdir(parents=True)
    plugin.write_bytes(b"\x7fELF not really")
    return tmp_path / "plugins", plugin


def test_parse_ldd_lists_each_missing_library_once_in_order():
    assert q.parse_ldd(LDD_MISSING) == ["libxcb-icccm.so.4", "libxcb-keysyms.so.1"]
    assert q.parse_ldd(LDD_COMPLETE) == []
    assert q.parse_ldd("") == []


def test_missing_libraries_runs_ldd_on_the_plugin(tmp_path):
    folder, plugin = _fake_plugin(tmp_path)
    calls = []

    def fake_ldd(argv, env):
        calls.append(argv)
        return LDD_MISSING

    assert q.find_xcb_plugin([tmp_path / "elsewhere", folder]) == plugin
    assert q.missing_libraries(plugin, fake_ldd) == ["libxcb-icccm.so.4", "libxcb-keysyms.so.1"]
    assert calls == [["ldd", str(plugin)]]


def test_the_line_names_the_libraries_and_the_packages_for_debian_and_fedora(tmp_path):
    folder, _ = _fake_plugin(tmp_path)
    reason = q.xcb_missing_reason([folder], lambda argv, env: LDD_MISSING)
    assert reason == (
        "Qt's X11 plugin needs libraries this system lacks: libxcb-icccm.so.4, libxcb-keysyms.so.1; "
        "install them (Debian/Ubuntu: sudo apt install libxcb-icccm4 libxcb-keysyms1; "
        "Fedora: sudo dnf install xcb-util-wm xcb-util-keysyms)")


def test_unknown_libraries_are_still_named(tmp_path):
    folder, _ = _fake_plugin(tmp_path)
    both = q.xcb_missing_reason([folder], lambda argv, env: "\tlibfoo.so.3 => not found\n\tlibEGL.so.1 => not found\n")
    assert "lacks: libfoo.so.3, libEGL.so.1;" in both
    assert "sudo apt install libegl1;" in both and "libglvnd-egl" in both
    assert "the package that provides libfoo.so.3" in both
    only = q.xcb_missing_reason([folder], lambda argv, env: "\tlibfoo.so.3 => not found\n")
    assert only.endswith("lacks: libfoo.so.3; install the packages that provide them")


def test_packages_shared_by_several_libraries_are_named_once():
    hint = q.install_hint(["libxcb-randr.so.0", "libxcb-shape.so.0"])
    assert hint == "Debian/Ubuntu: sudo apt install libxcb-randr0 libxcb-shape0; Fedora: sudo dnf install libxcb"


def test_nothing_missing_no_plugin_or_no_ldd_means_no_reason(tmp_path):
    folder, plugin = _fake_plugin(tmp_path)
    assert q.xcb_missing_reason([folder], lambda argv, env: LDD_COMPLETE) is None
    assert q.xcb_missing_reason([tmp_path / "none"], lambda argv, env: LDD_MISSING) is None

    def no_ldd(argv, env):
        raise FileNotFoundError("ldd")

    def hung(argv, env):
        raise subprocess.TimeoutExpired(argv, 20)

    assert q.missing_libraries(plugin, no_ldd) == [] and q.missing_libraries(plugin, hung) == []


def test_the_frozen_apps_bundle_is_searched_and_its_libraries_count(tmp_path, monkeypatch):
    bundle = tmp_path / "_internal"
    plugin = bundle / "PySide6" / "Qt" / "plugins" / "platforms" / "libqxcb.so"
    plugin.parent.mkdir(parents=True)
    plugin.write_bytes(b"")
    monkeypatch.setattr("sys._MEIPASS", str(bundle), raising=False)
    monkeypatch.delenv("QT_PLUGIN_PATH", raising=False)
    assert q.find_xcb_plugin() == plugin
    seen = {}
    q.missing_libraries(plugin, lambda argv, env: seen.update(env) or "")
    assert seen["LD_LIBRARY_PATH"].split(":")[0] == str(bundle)


def test_the_real_plugin_can_be_inspected():
    # whatever this machine has: a list of sonames, never an exception
    plugin = q.find_xcb_plugin()
    if plugin is not None:
        assert all(".so" in name for name in q.missing_libraries(plugin))
