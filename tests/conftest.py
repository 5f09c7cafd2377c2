"""Test-wide setup: offscreen Qt, user dirs in a temp folder, no leaked QThreads."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# no stray network or GPU behaviour in tests
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")

import pytest  # noqa: E402

import tlgui.core.workflows  # noqa: E402,F401  (registers --weights demo:source, as the app's entry points do)


@pytest.fixture(autouse=True)
def _encoding_warnings_from_tlgui_fail():
    """With TLGUI_ENCODING_CHECK=1 and ``python -X warn_default_encoding`` (.ci/run's second pass,
    issue 28): a text file that tlgui's own code opens without naming its encoding fails the test.
    Windows' default is cp1252; the tests' own helpers and third-party code are not judged."""
    if os.environ.get("TLGUI_ENCODING_CHECK") != "1":
        yield
        return
    import warnings

    with warnings.catch_warnings():
        warnings.filterwarnings("error", category=EncodingWarning, module=r"tlgui(\.|$)")
        yield


@pytest.fixture(autouse=True)
def _tlgui_home(tmp_path_factory, monkeypatch):
    """Every test gets its own TLGUI_HOME and torch hub dir, so nothing touches the real ones."""
    home = tmp_path_factory.mktemp("tlgui_home")
    monkeypatch.setenv("TLGUI_HOME", str(home))
    monkeypatch.setenv("TORCH_HOME", str(home / "torch"))
    yield home


@pytest.fixture(autouse=True)
def _no_real_network(monkeypatch):
    """Tests never touch the network: anything that reaches for it fails the test at once."""
    import socket
    import urllib.request

    def refuse(*args, **kwargs):
        raise AssertionError("a test tried to use the real network")

    monkeypatch.setattr(urllib.request, "urlopen", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)


@pytest.fixture(autouse=True)
def _no_dangling_qthreads(request):
    """Fail a test that leaves a QThread running (napari's _dangling_qthreads idea)."""
    yield
    if "PySide6.QtCore" not in __import__("sys").modules:
        return
    from PySide6.QtCore import QThread
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance()
    if app is None:
        return
    running = [
        t for t in app.findChildren(QThread) if t.isRunning()
    ]
    from tlgui.workers import registry

    running += [t for t in registry.live_threads() if t.isRunning()]
    if running:
        for thread in running:
            thread.quit()
            thread.wait(5000)
        pytest.fail(f"test left {len(running)} QThread(s) running", pytrace=False)
