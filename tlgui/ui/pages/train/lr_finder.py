"""The training panel's learning-rate finder: a Find button that runs the range test in a
background job (the same core function as ``tlgui lr-find`` and ``--lr auto``), then shows the
loss curve, the pick, and fills the learning-rate field."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from PySide6.QtCore import Signal, Slot
from PySide6.QtWidgets import QLabel, QPushButton, QVBoxLayout, QWidget

from tlgui.ui.base.background import TaskRunner
from tlgui.ui.base.errors import sentence

if TYPE_CHECKING:
    from tlgui.core.base.config import TrainConfig
    from tlgui.core.training.lr_find import LrFinding
    from tlgui.ui.base.background import Job
    from tlgui.ui.dialogs.lr_finder_dialog import LrFinderDialog


def _find(config: TrainConfig, job: Job) -> LrFinding:
    from tlgui.core.training.recipe import run_lr_finder

    return run_lr_finder(config, should_stop=job)


class LrFinderBox(QWidget):
    """Find button + result (curve and pick), hidden until the first result."""

    picked = Signal(float)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("lrFinderBox")
        self.config_source: Callable[[], TrainConfig] | None = None  # the page's TrainConfig, set on install
        self.button = QPushButton("Find", objectName="findLrButton")
        self.button.setToolTip("Try rates from 1e-7 to 1 for 100 steps on your data and model, and pick one "
                               "(where the loss fell fastest). Takes about 100 training steps.")
        self.button.clicked.connect(self.find_rate)
        self.label = QLabel("", objectName="lrFindLabel", wordWrap=True, visible=False)
        # the curve's window, made on the first result (pyqtgraph takes ~0.3 s to import)
        self.dialog: LrFinderDialog | None = None
        self.finding: LrFinding | None = None
        self._layout = QVBoxLayout(self)
        self._layout.setContentsMargins(0, 0, 0, 0)
        self._layout.addWidget(self.label)
        self._runner = TaskRunner(self)

    def busy(self) -> bool:
        return self._runner.busy()

    @Slot()
    def find_rate(self) -> None:  # not find(): that would hide QWidget.find
        if self.config_source is None or self._runner.busy():
            return
        try:
            config = self.config_source()
        except Exception as exc:  # noqa: BLE001 - a bad setting: one sentence, as Train says it
            self._say(f"Cannot find a learning rate: {sentence(str(exc))}")
            return
        self.button.setEnabled(False)
        self._say("Finding a learning rate: 100 short training steps…")
        self._runner.start(lambda job: _find(config, job), self._on_done, self._on_error, name="lr-find")

    def shutdown(self, msecs: int = 30000) -> None:
        self._runner.cancel_all()
        self._runner.wait(msecs)

    def _say(self, text: str) -> None:
        self.label.setText(text)
        self.label.setVisible(bool(text))

    def _on_error(self, exc: BaseException) -> None:
        self.button.setEnabled(True)
        self._say(f"The learning-rate finder failed: {sentence(str(exc) or type(exc).__name__)}")

    def _on_done(self, finding: LrFinding) -> None:
        self.button.setEnabled(True)
        self.finding = finding
        self._show_curve(finding)
        self._say(f"Learning rate found: <b>{finding.pick:.2g}</b> (where the loss fell fastest; "
                  f"the curve is in its own window)")
        self.picked.emit(float(finding.pick))

    def _show_curve(self, finding: LrFinding) -> None:
        from tlgui.ui.dialogs.lr_finder_dialog import LrFinderDialog

        if self.dialog is None:
            self.dialog = LrFinderDialog(self.window())
        dialog = self.dialog
        dialog.show_finding(finding)
        dialog.show()
        dialog.raise_()

    @property
    def plot(self):
        return self.dialog.plot if self.dialog is not None else None
