"""The user guide's pictures, made by driving the real window on the built-in demo.

    tlgui --self-test --screenshots docs/images
    python -m tlgui.ui.shell.guide_screenshots docs/images

Each picture in :data:`SHOTS` is one step: train the demo, then visit every page (running what it
runs: the transfer check, the rank, the label check) and open the dialogs the guide explains. A
test checks that every picture the guide names is one of these, so the pictures stay true when
the window changes: run this again and commit the PNGs.
"""

from __future__ import annotations

import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QEventLoop, QTimer
from PySide6.QtWidgets import QApplication, QDialog, QPushButton, QWidget

if TYPE_CHECKING:
    from tlgui.core.base.events import RunResult

SIZE = (1280, 800)  # a laptop-sized window: the guide shows what most users see
STEP_TIMEOUT_S = 900  # generous: the demo's source model is trained once first

# file name -> what it shows (the guide's pages name these files)
SHOTS = {
    "train-page.png": "the Train page after training the demo",
    "results-page.png": "the Results page of that run",
    "predict-page.png": "the Predict page with a few demo images",
    "runs-page.png": "the Runs page",
    "transfer-check.png": "the Did transfer help? page after a transfer check",
    "which-model.png": "the Which model? page after a rank",
    "check-labels.png": "the Check labels page after a check",
    "weights-library.png": "Models > Pretrained weights library",
    "health-check.png": "Data > Check data set health on a folder",
    "export-dialog.png": "the export dialog from the Runs page",
    "label-page.png": "the Label page after labelling a few demo images",
}


def wait_until(condition: Callable[[], bool], timeout_s: float = STEP_TIMEOUT_S) -> bool:
    """Run the event loop until ``condition()`` holds (a script, not a test: jobs run on threads)."""
    deadline = time.monotonic() + timeout_s
    loop = QEventLoop()
    timer = QTimer()
    timer.timeout.connect(loop.quit)
    timer.start(50)
    while not condition():
        if time.monotonic() > deadline:
            return False
        loop.exec()
    timer.stop()
    return True


def _await(condition: Callable[[], bool], what: str) -> None:
    if not wait_until(condition):
        raise RuntimeError(f"{what} did not finish in {STEP_TIMEOUT_S} s")


def _save(widget: QWidget, out: Path, name: str) -> Path:
    wait_until(lambda: False, 0.4)  # let layouts and plots take their final sizes
    path = out / name
    if not widget.grab().save(str(path)):
        raise RuntimeError(f"could not save {path}")
    return path


def _demo_folder(root: Path) -> str:
    """The demo's target images as a folder of class sub-folders (health check, predict)."""
    from PIL import Image

    from tlgui.core.data.demo_images import make_demo

    images, labels, classes = make_demo("target", split="test")
    for i, (image, label) in enumerate(zip(images[:120], labels[:120], strict=True)):
        folder = root / "shapes" / classes[int(label)]
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(image).save(folder / f"{i:03d}.png")
    return str(root / "shapes")


def _unlabelled_folder(root: Path) -> tuple[str, dict[str, str]]:
    """Demo images in one folder without classes, and the truth the script labels them with."""
    from PIL import Image

    from tlgui.core.data.demo_images import make_demo

    images, labels, classes = make_demo("target", split="train")
    folder, truth = root / "to label", {}
    folder.mkdir(parents=True)
    for i, (image, label) in enumerate(zip(images[:120], labels[:120], strict=True)):
        path = folder / f"scan {i:03d}.png"
        Image.fromarray(image).save(path)
        truth[str(path)] = classes[int(label)]
    return str(folder), truth


def _label_some(window, scratch: Path, count: int = 24) -> None:
    """The Label page as a user leaves it after a few minutes: classes added, some images labelled."""
    page = window.workspace.label_page
    folder, truth = _unlabelled_folder(scratch)
    window.pages.setCurrentWidget(page)
    arrived: list[bool] = []
    page.queue_arrived.connect(lambda: arrived.append(True))
    page.open_folder(folder)
    _await(lambda: bool(arrived) and page.queue.current is not None, "opening the folder to label")
    for name in sorted(set(truth.values())):
        page.add_class(name)
    for _ in range(count):
        _await(lambda: page.queue.current is not None, "the next image to label")
        page.label(truth[page.queue.current.path])
    _await(lambda: page.queue.current is not None and not page.busy(), "the model's picks")


def _dialog(window, before: set) -> QDialog:
    found = [d for d in window.findChildren(QDialog) if d not in before and d.isVisible()]
    if not found:
        raise RuntimeError("the dialog did not open")
    return found[-1]


def _train_demo(window, results: list[RunResult | None], epochs: int) -> str:
    """Train the demo head only (as the page recommends for it); the run folder."""
    if not wait_until(window.is_ready):
        raise RuntimeError("the window's panels were not built")
    window.run_finished.connect(results.append)
    window.training_panel.epochs.setValue(epochs)
    head_only = next(b for b in window.findChildren(QPushButton) if b.text() == "Train head only")
    head_only.click()
    wait_until(lambda: window.dataset_panel.summary() is not None, 60)  # the demo's thumbnails in the picture
    window.training_panel.train_button.click()
    if not window.controller.is_running():
        raise RuntimeError(f"Train did not start: {window.last_error}")
    result = results[0] if wait_until(lambda: bool(results)) else None
    if result is None or result.status != "completed":
        message = getattr(result, "message", "") if results else "no result in time"
        raise RuntimeError(f"the demo run did not complete: {message}")
    return result.run_dir


def _check_labels_of_a_folder(window, folder: str, results: list) -> None:
    """The label check shows files: a short head-only run on the demo's images written as class
    folders (the review draws no thumbnails for in-memory sets such as the demo or IDX files)."""
    from tlgui.ui.base.choices import DatasetChoice

    ws = window.workspace
    window.pages.setCurrentIndex(0)
    window.dataset_panel.set_choice(DatasetChoice(folder, val_split=0.2))  # its own images validate
    _await(lambda: window.dataset_panel.summary() is not None and window.dataset_panel.summary().spec == folder,
           "opening the folder of shapes")
    window.training_panel.train_button.click()
    _await(lambda: len(results) > 1, "the run on the folder of shapes")
    ws.show_label_review(results[1].run_dir)
    panel = ws.label_review_panel
    _await(lambda: panel.review is not None and not panel.busy(), "the label check")


def _dialog_shots(window, folder: str, out: Path) -> list[Path]:
    """The weights library, the health check and the export dialog."""
    from tlgui.ui.dialogs.health_dialog import DatasetHealthDialog

    ws, saved = window.workspace, []
    window.pages.setCurrentIndex(0)
    before = set(window.findChildren(QDialog))
    ws.open_weights_library()
    dialog = _dialog(window, before)
    saved.append(_save(dialog, out, "weights-library.png"))
    dialog.close()

    health = DatasetHealthDialog(folder, None, window)
    finished: list[object] = []  # the scan's report
    health.scan_finished.connect(finished.append)
    health.show()
    health.start()
    _await(lambda: bool(finished), "the health check")
    saved.append(_save(health, out, "health-check.png"))
    health.close()

    window.pages.setCurrentWidget(ws.runs_panel)
    ws.runs_panel.table.selectRow(0)
    before = set(window.findChildren(QDialog))
    ws.runs_panel.export_button.click()
    dialog = _dialog(window, before)
    saved.append(_save(dialog, out, "export-dialog.png"))
    dialog.close()
    return saved


def take(window, out: Path, scratch: Path, epochs: int = 6) -> list[Path]:
    """Every picture in :data:`SHOTS`, saved under ``out``."""
    ws = window.workspace
    results: list[RunResult | None] = []  # the window's, once the demo run has ended
    run_dir = _train_demo(window, results, epochs)
    saved = [_save(window, out, "train-page.png")]

    ws.show_results(run_dir)
    _await(lambda: not ws.results_panel.is_busy(), "the evaluation")  # on a busy machine it takes seconds
    saved.append(_save(window, out, "results-page.png"))

    folder = _demo_folder(scratch)
    window.pages.setCurrentWidget(ws.predict_panel)
    ws.predict_panel.add_paths(sorted(str(p) for p in Path(folder).rglob("*.png"))[::6])
    _await(lambda: not ws.predict_panel.busy(), "the prediction")
    saved.append(_save(window, out, "predict-page.png"))

    window.pages.setCurrentWidget(ws.runs_panel)
    saved.append(_save(window, out, "runs-page.png"))

    window.pages.setCurrentWidget(ws.compare_panel)
    ws.compare_panel.run_button.click()
    _await(lambda: not ws.compare_panel.is_running(), "the transfer check")
    saved.append(_save(window, out, "transfer-check.png"))

    window.pages.setCurrentWidget(ws.rank_panel)
    states: list[bool] = []
    ws.rank_panel.running_changed.connect(states.append)
    ws.rank_panel.run_button.click()
    _await(lambda: states[-1:] == [False] and True in states, "the rank")
    saved.append(_save(window, out, "which-model.png"))

    _check_labels_of_a_folder(window, folder, results)
    saved.append(_save(window, out, "check-labels.png"))

    _label_some(window, scratch)
    saved.append(_save(window, out, "label-page.png"))
    return saved + _dialog_shots(window, folder, out)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    out = Path(args[0] if args else "docs/images").resolve()
    out.mkdir(parents=True, exist_ok=True)
    app = QApplication.instance() or QApplication(sys.argv[:1])
    from tlgui.settings import Settings
    from tlgui.ui.shell.main_window import MainWindow

    window = MainWindow(settings=Settings())
    window.persist_settings = False
    window.auto_confirm_close = True
    window.resize(*SIZE)
    window.show()
    try:
        with tempfile.TemporaryDirectory(prefix="tlgui-shots-") as scratch:
            saved = take(window, out, Path(scratch))
    except RuntimeError as exc:
        print(f"tlgui: error: screenshots: {exc}", file=sys.stderr)
        return 1
    finally:
        window.close()
        window.controller.shutdown()
        app.processEvents()
    missing = sorted(set(SHOTS) - {p.name for p in saved})
    for path in saved:
        print(path)
    if missing:
        print(f"tlgui: error: screenshots not made: {', '.join(missing)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
