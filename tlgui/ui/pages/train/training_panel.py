"""The training panel: the training settings (:mod:`training_settings`), the Train / Pause / Stop
buttons, the run's state and the progress display.

The panel only edits plain values and emits requests; the Train page turns them into a
TrainConfig and the main window hands it to the training controller.
"""

from __future__ import annotations

import math
from typing import Any

from PySide6.QtCore import QEvent, Qt, Signal, Slot
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import (
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from tlgui.ui.base.formatting import format_duration
from tlgui.ui.pages.train.training_settings import TrainingSettingsBox
from tlgui.ui.widgets.scrolling import ColumnScroll

IDLE, RUNNING, PAUSED, STOPPING = "idle", "running", "paused", "stopping"


class TrainingPanel(QWidget):
    """Epochs, batch size, learning rate, optimizer, schedule, seed, device, precision; Train/Pause/Stop."""

    train_requested = Signal()
    pause_requested = Signal()
    resume_requested = Signal()
    stop_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("trainingPanel")
        self._state = IDLE
        self._ready = False
        self._locked = False

        self.settings_box = settings_box = TrainingSettingsBox()
        # its fields, by their old names (the page, the tests and automation reach them)
        box = settings_box
        self.epochs, self.batch_size, self.lr, self.lr_finder = box.epochs, box.batch_size, box.lr, box.lr_finder
        self.optimizer, self.schedule, self.seed, self.device = box.optimizer, box.schedule, box.seed, box.device
        self.precision, self.image_size, self.head_epochs = box.precision, box.image_size, box.head_epochs
        self.layer_lr_decay, self.class_weights, self.augment = box.layer_lr_decay, box.class_weights, box.augment

        self.train_button = QPushButton("Train", objectName="trainButton")
        self.train_button.setDefault(True)
        self.train_button.setToolTip("Start training with the settings on this screen.")
        self.train_button.setMinimumHeight(34)
        self._style_train_button()
        self.pause_button = QPushButton("Pause", objectName="pauseButton")
        self.pause_button.setToolTip("Hold training; press again to continue where it left off.")
        self.stop_button = QPushButton("Stop", objectName="stopButton")
        self.stop_button.setToolTip("End training after the current batch and keep the model.")
        for button in (self.pause_button, self.stop_button):
            button.setMinimumHeight(34)
        buttons = QHBoxLayout()
        buttons.addWidget(self.train_button, 2)
        buttons.addWidget(self.pause_button, 1)
        buttons.addWidget(self.stop_button, 1)

        self.progress = QProgressBar()

        self.progress.setObjectName("progressBar")
        self.progress.setRange(0, 1000)
        self.progress.setValue(0)
        self.progress.setTextVisible(True)
        self.progress.setFormat("Ready")
        self.progress_label = QLabel("", objectName="progressLabel")
        self.progress_label.setWordWrap(True)
        self.progress_label.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Minimum)

        self.result_label = QLabel("", objectName="resultLabel")
        self.result_label.setWordWrap(True)
        self.result_label.setTextFormat(Qt.TextFormat.RichText)
        self.result_label.setOpenExternalLinks(True)
        self.result_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextBrowserInteraction)
        self.result_box = QGroupBox("Last result")
        QVBoxLayout(self.result_box).addWidget(self.result_label)
        self.result_box.setVisible(False)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        # the form never shrinks below its rows: on a short screen it scrolls, and the buttons and
        # the progress under it stay in view
        settings_box.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Fixed)
        self.settings_scroll = ColumnScroll(settings_box)
        layout.addWidget(self.settings_scroll)
        layout.addLayout(buttons)
        layout.addWidget(self.progress)
        layout.addWidget(self.progress_label)
        layout.addWidget(self.lr_finder)
        layout.addWidget(self.result_box)
        layout.addStretch(1)

        self.train_button.clicked.connect(self.train_requested)
        self.pause_button.clicked.connect(self._on_pause_clicked)
        self.stop_button.clicked.connect(self.stop_requested)
        self.set_values({})
        self._update_buttons()

    def _style_train_button(self) -> None:
        """The one button to press first: drawn in the highlight colour while it can be pressed."""
        pal = self.palette()
        hl = pal.color(QPalette.ColorRole.Highlight)
        text = pal.color(QPalette.ColorRole.HighlightedText)
        self.train_button.setStyleSheet(
            "QPushButton#trainButton:enabled {"
            f" background-color: {hl.name()}; color: {text.name()};"
            f" border: 1px solid {hl.darker(130).name()}; border-radius: 4px;"
            " padding: 4px 12px; font-weight: bold; }"
            f"QPushButton#trainButton:enabled:hover {{ background-color: {hl.lighter(112).name()}; }}"
            f"QPushButton#trainButton:enabled:pressed {{ background-color: {hl.darker(115).name()}; }}"
            "QPushButton#trainButton:disabled { font-weight: bold; }"
        )

    def changeEvent(self, event: QEvent) -> None:  # Qt override
        if event.type() in (QEvent.Type.PaletteChange, QEvent.Type.ApplicationPaletteChange):
            self._style_train_button()
        super().changeEvent(event)

    # -- values --------------------------------------------------------------------------
    def values(self) -> dict[str, Any]:
        """The settings as plain values (keys match TrainConfig). Raises ValueError on a bad lr."""
        return self.settings_box.values()

    def image_size_value(self) -> int | None:
        return self.settings_box.image_size_value()

    def learning_rate(self) -> float | str | None:
        return self.settings_box.learning_rate()

    def set_values(self, values: dict[str, Any]) -> None:
        """Apply saved values; anything missing or invalid keeps the default."""
        self.settings_box.set_values(values)

    def set_devices(self, gpu_name: str | None) -> None:
        """Offer the GPU by name when there is one (a Mac's: MPS); otherwise CPU only."""
        self.settings_box.set_devices(gpu_name)

    # -- state -----------------------------------------------------------------------------
    def set_ready(self, ready: bool) -> None:
        """Whether the window has everything needed to train (model, data loaded...)."""
        self._ready = ready
        self._update_buttons()

    def set_state(self, state: str) -> None:
        self._state = state
        if state == IDLE:
            self.pause_button.setText("Pause")
        elif state == PAUSED:
            self.pause_button.setText("Resume")
        elif state == RUNNING:
            self.pause_button.setText("Pause")
        self._update_buttons()

    def state(self) -> str:
        return self._state

    def set_locked(self, locked: bool) -> None:
        self._locked = locked
        self.settings_box.setEnabled(not locked)

    def _update_buttons(self) -> None:
        s = self._state
        self.train_button.setEnabled(self._ready and s == IDLE)
        self.pause_button.setEnabled(s in (RUNNING, PAUSED))
        self.stop_button.setEnabled(s in (RUNNING, PAUSED))

    @Slot()
    def _on_pause_clicked(self) -> None:
        if self._state == PAUSED:
            self.resume_requested.emit()
        elif self._state == RUNNING:
            self.pause_requested.emit()

    # -- progress --------------------------------------------------------------------------
    def reset_progress(self, text: str = "Ready") -> None:
        self.progress.setValue(0)
        self.progress.setFormat(text)
        self.set_note("")

    def show_busy(self, text: str) -> None:
        """An activity before the first batch (loading data, building the model...)."""
        self.progress.setFormat(text)
        self.set_note(text)

    def update_progress(
        self, epoch: int, epochs: int, batch: int, batches: int, elapsed: float,
        start_epoch: int = 1,
    ) -> None:
        epochs = max(1, epochs)
        batches = max(1, batches)
        done = (epoch - 1 + batch / batches) / epochs
        self.progress.setValue(int(round(1000 * min(1.0, max(0.0, done)))))
        self.progress.setFormat(f"{100 * done:.0f} %")
        run_fraction = (done * epochs - (start_epoch - 1)) / max(1, epochs - start_epoch + 1)
        remaining = elapsed * (1 - run_fraction) / run_fraction if run_fraction > 0 else math.nan
        paused = "  (paused)" if self._state == PAUSED else ""
        self.set_note(
            f"Epoch {epoch} of {epochs}  ·  batch {batch} of {batches}  ·  "
            f"about {format_duration(remaining)} left{paused}"
        )

    def set_note(self, text: str) -> None:
        """The line under the progress bar (hidden when empty, so it takes no room)."""
        self.progress_label.setText(text)
        self.progress_label.setVisible(bool(text))

    def show_result(self, html: str) -> None:
        """Rich text about the finished run (accuracy, time, a link to the run folder)."""
        self.result_label.setText(html)
        self.result_box.setVisible(bool(html))

    def show_done(self, text: str, fraction: float | None = None) -> None:
        if fraction is not None:
            self.progress.setValue(int(round(1000 * fraction)))
        self.progress.setFormat(text)
