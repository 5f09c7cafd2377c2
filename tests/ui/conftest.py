"""Fixtures for the window tests: a stand-in demo source model and a ready main window."""

from __future__ import annotations

import pytest

from tests.ui.dialog_registry import close_open_dialogs


@pytest.fixture(autouse=True)
def _close_dialogs():
    """Close the dialogs a test registered in tests/ui/dialog_registry.py (before the thread check),
    then delete every widget the test left: pytest-qt has closed them and called deleteLater,
    which would otherwise run during the next test, beside its threads (see destroy_now)."""
    yield
    close_open_dialogs()
    import gc

    from PySide6.QtCore import QCoreApplication, QEvent

    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    gc.collect()


@pytest.fixture
def fake_demo_source():
    """A random smallcnn saved where the demo looks for its pretrained source model.

    The real one is trained on first use (10-90 s on a small CPU); tests only need the
    weight-loading path, not good features.
    """
    import torch

    from tlgui.core.base.files import atomic_save
    from tlgui.core.data.demo_images import SOURCE_CLASSES
    from tlgui.core.models.checkpoint import make_checkpoint
    from tlgui.core.models.zoo import build_model, default_preprocessing, find_head_path
    from tlgui.core.workflows.demo import demo_source_dir

    torch.manual_seed(0)
    model = build_model("smallcnn", len(SOURCE_CLASSES), in_channels=1)
    path = demo_source_dir() / "model.pt"
    checkpoint = make_checkpoint(
        model, "smallcnn", SOURCE_CLASSES, 1, find_head_path(model),
        default_preprocessing("smallcnn").to_dict(),
    )
    atomic_save(checkpoint, path)
    return path


@pytest.fixture
def main_window(qtbot, fake_demo_source):
    """The real window, shown, with the demo data loaded; closed (stopping any run) after."""
    from tlgui.ui.shell.main_window import MainWindow

    window = MainWindow()
    window.auto_confirm_close = True
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    qtbot.waitUntil(window.is_ready, timeout=20000)
    qtbot.waitUntil(lambda: window.dataset_panel.summary() is not None, timeout=20000)
    yield window
    window.close()
    for panel in (window.model_panel, window.dataset_panel):
        if panel is not None and hasattr(panel, "wait_idle"):
            panel.wait_idle(10000)
    destroy_now(window)


def destroy_now(widget) -> None:
    """Delete a closed window here, while none of its jobs runs.

    Left to pytest-qt's deleteLater and to the garbage collector (a window is a big reference
    cycle), its destruction happened at some moment of the next test, beside that test's
    training and evaluation threads; the suite segfaulted there now and then."""
    import gc

    from PySide6.QtCore import QCoreApplication, QEvent

    widget.deleteLater()
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    gc.collect()


@pytest.fixture(autouse=True)
def _gui_thread_gc(qapp):
    """As in the app (tlgui.app.create_app): garbage is collected on the GUI thread only."""
    from tlgui.ui.shell.gui_thread_gc import collect_garbage_on_gui_thread

    collect_garbage_on_gui_thread(qapp)
