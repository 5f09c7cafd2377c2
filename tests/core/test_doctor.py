"""``tlgui doctor``: the system report's keys, its text form, and folder sizes that stop counting."""

import json
import subprocess
import sys

from tlgui import qt_platform_check
from tlgui.core.workflows import system_report as sr

KEYS = {"tlgui", "python", "platform", "frozen", "torch", "torchvision", "cuda", "pyside6", "timm", "device",
        "threads", "precision", "qt_platform", "folders"}
FOLDERS = {"config", "data", "runs", "models", "weights", "cache", "decoded_images", "torch_hub_weights",
           "huggingface_hub"}


def test_tlgui_doctor_json_has_every_key(_tlgui_home):
    (_tlgui_home / "data" / "runs" / "first").mkdir(parents=True)
    (_tlgui_home / "data" / "runs" / "first" / "model.pt").write_bytes(b"x" * 1000)
    out = subprocess.run([sys.executable, "-m", "tlgui", "doctor", "--json"], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert KEYS <= set(report) and FOLDERS == set(report["folders"])
    assert {"version", "available"} <= set(report["cuda"])
    assert {"auto", "label", "why"} <= set(report["device"]) and report["device"]["why"]
    assert {"torch", "default_for_training"} <= set(report["threads"])
    assert report["precision"]["auto"] in ("fp32", "bf16")
    assert "platform" in report["qt_platform"]
    runs = report["folders"]["runs"]
    assert runs["path"] == str(_tlgui_home / "data" / "runs")
    assert (runs["bytes"], runs["files"], runs["complete"]) == (1000, 1, True)
    assert report["folders"]["config"]["exists"] is False


def test_tlgui_doctor_text_is_one_key_a_line(_tlgui_home):
    out = subprocess.run([sys.executable, "-m", "tlgui", "doctor"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    keys = {line.split(":", 1)[0] for line in out.stdout.splitlines() if not line.startswith(" ")}
    assert KEYS <= keys
    assert f"  config: {_tlgui_home / 'config'} (not there)" in out.stdout
    assert "Traceback" not in out.stderr


def test_system_report_text_for_the_help_menu_names_the_running_platform():
    text = sr.system_report_text(qt_platform="offscreen")
    assert "qt_platform:\n  platform: offscreen\n  in_use: True" in text
    assert text.startswith("tlgui: ") and "device:\n  auto: " in text


def test_folder_sizes_stop_counting_and_say_so(tmp_path):
    for i in range(30):
        (tmp_path / f"d{i % 3}").mkdir(exist_ok=True)
        (tmp_path / f"d{i % 3}" / f"f{i}").write_bytes(b"ab")
    whole = sr.folder_size(tmp_path)
    assert (whole["bytes"], whole["files"], whole["complete"]) == (60, 30, True)
    capped = sr.folder_size(tmp_path, max_entries=10)
    assert capped["complete"] is False and capped["bytes"] <= 60
    assert sr._size(capped).startswith("over ") and "stopped counting" in sr._size(capped)
    assert sr.folder_size(tmp_path, seconds=-1)["complete"] in (True, False)  # never raises
    assert sr.folder_size(tmp_path / "missing") == {"path": str(tmp_path / "missing"), "exists": False, "bytes": 0,
                                                    "files": 0, "complete": True}


def test_qt_platform_info_names_missing_xcb_libraries_without_qt(monkeypatch, tmp_path):
    plugin = tmp_path / "platforms" / "libqxcb.so"
    plugin.parent.mkdir()
    plugin.write_bytes(b"")
    monkeypatch.setattr(qt_platform_check, "find_xcb_plugin", lambda dirs=None: plugin)
    monkeypatch.setattr(qt_platform_check.sys, "platform", "linux")
    info = qt_platform_check.qt_platform_info(run=lambda argv, env: "\tlibxcb-icccm.so.4 => not found\n")
    assert info["xcb_missing_libraries"] == ["libxcb-icccm.so.4"]
    assert info["xcb_install"] == "Debian/Ubuntu: sudo apt install libxcb-icccm4; Fedora: sudo dnf install xcb-util-wm"
    env = {"DISPLAY": ":0"}
    assert qt_platform_check.planned_platform(env) == "xcb"
    assert qt_platform_check.planned_platform({"QT_QPA_PLATFORM": "offscreen", **env}) == "offscreen"
    assert qt_platform_check.planned_platform({"XDG_SESSION_TYPE": "wayland", "WAYLAND_DISPLAY": "wayland-0",
                                               **env}) == "wayland"
    assert qt_platform_check.planned_platform({}).startswith("none")
