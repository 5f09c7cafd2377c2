"""Fixtures for the Label page tests: a small folder of demo-like images (no labels) and the page."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image


def write_demo_folder(root: Path, per_class: int = 6, classes: int = 3) -> dict[str, str]:
    """PNGs of the demo's target shapes, ``per_class`` of each of the first ``classes`` classes,
    in one flat folder (and one sub-folder, as a camera writes them). Returns path -> truth."""
    from tlgui.core.data.demo_images import make_demo

    images, labels, names = make_demo("target")
    truth: dict[str, str] = {}
    root.mkdir(parents=True, exist_ok=True)
    (root / "day2").mkdir(exist_ok=True)
    for c in range(classes):
        for k, index in enumerate(np.flatnonzero(labels == c)[:per_class]):
            folder = root / "day2" if k % 3 == 2 else root
            path = folder / f"img_{c}_{k:02d}.png"
            Image.fromarray(images[index]).resize((56, 56)).save(path)
            truth[str(path.resolve())] = names[c]
    return truth


@pytest.fixture
def demo_folder(tmp_path) -> tuple[Path, dict[str, str]]:
    root = tmp_path / "unlabelled images"
    return root, write_demo_folder(root)


@pytest.fixture
def page(qtbot):
    """The Label page, shown, suggestions from a small random-weight smallcnn (offline, fast)."""
    from tlgui.ui.pages.label.page import LabelPage

    page = LabelPage()
    qtbot.addWidget(page)
    page.resize(1200, 720)
    page.set_backbone("smallcnn", "none")
    page.show()
    qtbot.waitExposed(page)
    yield page
    page.shutdown()


def open_and_wait(qtbot, page, folder: Path) -> None:
    """Open ``folder`` and wait for the model's first picks."""
    with qtbot.waitSignal(page.queue_arrived, timeout=60000):
        page.folder_edit.setText(str(folder))
        page.folder_edit.setFocus()
        qtbot.keyClick(page.folder_edit, "\r")
    qtbot.waitUntil(lambda: page.queue.current is not None, timeout=10000)


def press_class(qtbot, page, truth: dict[str, str], classes) -> str:
    """Label the current image by its truth with its number key, once the page has one to show
    (tests label faster than a person: the model's next picks may still be on their way)."""
    qtbot.waitUntil(lambda: page.queue.current is not None, timeout=30000)
    pick = page.queue.current
    qtbot.keyClick(page.image, str(list(classes).index(truth[pick.path]) + 1))
    return pick
