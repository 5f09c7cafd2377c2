"""Training settings, the Train / Pause / Stop buttons and the progress display.

The panel only edits plain values and emits requests; the main window turns them into a
TrainConfig and hands it to the training controller.
"""

from __future__ import annotations

import math
from typing import Any

from PySide6.QtCore import QEvent, Qt, Signal, Slot
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QSizePolicy,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from tlgui.settings import default_training
from tlgui.ui.base.formatting import format_duration
from tlgui.ui.widgets.scrolling import ColumnScroll

OPTIMIZERS = (("adam", "Adam"), ("adamw", "AdamW"), ("sgd", "SGD with momentum"))
SCHEDULES = (("cosine", "Cosine decay"), ("onecycle", "One-cycle"), ("constant", "Constant"))
LR_PRESETS = ("auto", "find", "0.1", "0.03", "0.01", "0.003", "0.001", "0.0003", "0.0001")
CLASS_WEIGHT_CHOICES = (("none", "None"), ("balanced", "Balanced"))
AUGMENT_CHOICES = (("auto", "Automatic"), ("none", "None"), ("flip", "Left-right flips"),
                   ("flip-rotate", "Flips and quarter turns"), ("standard", "Flips and small shifts"))
PRECISION_CHOICES = (("auto", "Automatic"), ("fp32", "fp32"), ("bf16", "bf16"))

IDLE, RUNNING, PAUSED, STOPPING = "idle", "running", "paused", "stopping"


def _choice_combo(name: str, choices, tooltip: str = "") -> QComboBox:
    """A combo box of (key, label) choices: shows the label, ``currentData()`` is the key."""
    combo = QComboBox(objectName=name)
    _narrow(combo)
    for key, label in choices:
        combo.addItem(label, key)
    combo.setToolTip(tooltip)
    return combo


def _narrow(combo: QComboBox) -> None:
    """Let a combo box be narrower than its longest item (elided), so the column fits a laptop
    screen whatever the items say (a GPU's name can be long)."""
    combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
    combo.setMinimumContentsLength(10)


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

        self._make_fields()

        form = self._make_form()
        settings_box = QGroupBox("Training settings")
        settings_box.setLayout(form)
        self.settings_box = settings_box

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

        self.progress = QProgressBar(objectName="progressBar")
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

    def _make_form(self) -> QFormLayout:
        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        form.setLabelAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        form.addRow("&Epochs:", self.epochs)
        form.addRow("&Batch size:", self.batch_size)
        lr_row = QHBoxLayout()
        lr_row.addWidget(self.lr, 1)
        lr_row.addWidget(self.lr_finder.button)
        lr_label = QLabel("&Learning rate:")
        lr_label.setBuddy(self.lr)  # a row of two widgets: the mnemonic needs its buddy named
        form.addRow(lr_label, lr_row)
        form.addRow("&Optimizer:", self.optimizer)
        form.addRow("S&chedule:", self.schedule)
        form.addRow("&Head first:", self.head_epochs)
        form.addRow("Layer &rate decay:", self.layer_lr_decay)
        form.addRow("Class &weights:", self.class_weights)
        form.addRow("Au&gmentation:", self.augment)
        form.addRow("See&d:", self.seed)
        form.addRow("&Image size:", self.image_size)
        form.addRow("De&vice:", self.device)
        form.addRow("&Precision:", self.precision)
        return form

    def _make_fields(self) -> None:
        """The setting widgets, each with a stable objectName for tests."""
        self.epochs = QSpinBox(objectName="epochsSpin")
        self.epochs.setRange(1, 1000)
        self.epochs.setToolTip("How many times training goes through all training images.")
        self.batch_size = QSpinBox(objectName="batchSizeSpin")
        self.batch_size.setRange(1, 4096)
        self.batch_size.setToolTip(
            "Images per training step. Smaller uses less memory; larger is often faster."
        )
        self.lr = QComboBox(objectName="lrCombo")
        self.lr.setEditable(True)
        self.lr.addItems(LR_PRESETS)
        self.lr.setToolTip(
            "Step size of each update. 'auto' picks a sensible value for the optimizer; 'find' runs a "
            "short range test first (Find does it now and shows the curve)."
        )
        self._make_recipe_fields()
        self.optimizer = _choice_combo("optimizerCombo", OPTIMIZERS)
        self.schedule = _choice_combo("scheduleCombo", SCHEDULES, "How the learning rate changes during training.")
        self.seed = QSpinBox(objectName="seedSpin")
        self.seed.setRange(0, 2**31 - 1)
        self.seed.setToolTip("Same seed, same settings: same result.")
        self.device = QComboBox(objectName="deviceCombo")
        _narrow(self.device)
        self.set_devices(None)
        self.precision = _choice_combo(
            "precisionCombo", PRECISION_CHOICES,
            "Number format for the maths. 'auto' uses bf16 where the processor does it natively "
            "(about twice as fast, same accuracy in practice) and fp32 elsewhere; bf16 without "
            "native support is many times slower, so a run asked for it then uses fp32 and says so.")
        self.image_size = QComboBox(objectName="imageSizeCombo")
        self.image_size.setEditable(True)
        self.image_size.addItems(["auto", "28", "32", "64", "96", "128", "160", "224", "256"])
        self.image_size.setToolTip(
            "Side of the square pictures the model sees. 'auto': what its pretrained weights "
            "expect (224 px for most torchvision models, 28 px for smallcnn). Smaller is much "
            "faster on a CPU; small source images gain nothing from a large size."
        )

    def _make_recipe_fields(self) -> None:
        """Head-first epochs, layer-rate decay, class weights and the learning-rate finder."""
        from tlgui.ui.pages.train.lr_finder import LrFinderBox

        self.lr_finder = LrFinderBox()
        self.lr_finder.picked.connect(self._on_lr_picked)
        self.head_epochs = QSpinBox(objectName="headEpochsSpin")
        self.head_epochs.setRange(0, 999)
        self.head_epochs.setSpecialValueText("off")
        self.head_epochs.setSuffix(" epoch(s)")
        self.head_epochs.setToolTip("Train the new head alone for this many of the epochs (on cached features: "
                                    "seconds), then the layers you left trainable. Off: everything from the start.")
        self.layer_lr_decay = QDoubleSpinBox(objectName="layerLrDecaySpin")
        self.layer_lr_decay.setRange(0.05, 1.0)
        self.layer_lr_decay.setSingleStep(0.05)
        self.layer_lr_decay.setDecimals(2)
        self.layer_lr_decay.setToolTip("Discriminative learning rates: each earlier block group of the network "
                                       "gets this times the rate of the next (the head keeps the full rate). "
                                       "1: one rate for all. The layer tree shows each layer's multiple (LR ×).")
        self.class_weights = _choice_combo(
            "classWeightsCombo", CLASS_WEIGHT_CHOICES,
            "Balanced: mistakes on a rare class cost as much in total as on a common one "
            "(loss weights n / (classes × images of the class)). For imbalanced data.")
        self.augment = _choice_combo(
            "augmentCombo", AUGMENT_CHOICES,
            "Random changes to each training image, so the model learns what does not matter. Automatic: flips "
            "and quarter turns for microscopy-like images (deeper than 8 bits, or not 1 or 3 channels), which have "
            "no up or down, unless only the head trains; none for pictures. The run log says what was used.")

    @Slot(float)
    def _on_lr_picked(self, lr: float) -> None:
        self.lr.setCurrentText(f"{lr:.2g}")

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

    def changeEvent(self, event) -> None:  # Qt override
        if event.type() in (QEvent.Type.PaletteChange, QEvent.Type.ApplicationPaletteChange):
            self._style_train_button()
        super().changeEvent(event)

    # -- values --------------------------------------------------------------------------
    def values(self) -> dict[str, Any]:
        """The settings as plain values (keys match TrainConfig). Raises ValueError on a bad lr."""
        return {
            "epochs": self.epochs.value(),
            "batch_size": self.batch_size.value(),
            "lr": self.learning_rate(),
            "optimizer": self.optimizer.currentData(),
            "schedule": self.schedule.currentData(),
            "seed": self.seed.value(),
            "device": self.device.currentData(),
            "precision": self.precision.currentData(),
            "image_size": self.image_size_value(),
            "head_epochs": self.head_epochs.value(),
            "layer_lr_decay": round(self.layer_lr_decay.value(), 4),
            "class_weights": self.class_weights.currentData(),
            "augment": self.augment.currentData(),
        }

    def image_size_value(self) -> int | None:
        text = self.image_size.currentText().strip().lower().removesuffix("px").strip()
        if text in ("", "auto"):
            return None
        if not text.isdigit() or not (8 <= int(text) <= 1024):
            raise ValueError(f"The image size {text!r} must be a whole number of pixels from 8 to 1024, or auto.")
        return int(text)

    def learning_rate(self) -> float | str | None:
        text = self.lr.currentText().strip().lower()
        if text in ("", "auto"):
            return None
        if text == "find":
            return "auto"  # TrainConfig's "auto": the range test runs before training
        try:
            value = float(text.replace(",", "."))
        except ValueError:
            raise ValueError(f"The learning rate {text!r} is not a number.") from None
        if not (0 < value < 10):
            raise ValueError("The learning rate must be a positive number below 10.")
        return value

    def set_values(self, values: dict[str, Any]) -> None:
        """Apply saved values; anything missing or invalid keeps the default."""

        defaults = default_training()

        def get(key, kind):
            value = values.get(key, defaults[key])
            ok = isinstance(value, kind) and not isinstance(value, bool)
            return value if ok else defaults[key]

        self.epochs.setValue(get("epochs", int))
        self.batch_size.setValue(get("batch_size", int))
        lr = values.get("lr", defaults["lr"])
        if isinstance(lr, (int, float)) and not isinstance(lr, bool) and 0 < lr < 10:
            self.lr.setCurrentText(f"{lr:g}")
        elif lr == "auto":
            self.lr.setCurrentText("find")
        else:
            self.lr.setCurrentText("auto")
        self._select(self.optimizer, get("optimizer", str))
        self._select(self.schedule, get("schedule", str))
        self.seed.setValue(get("seed", int))
        self._select(self.device, get("device", str))
        self._select(self.precision, get("precision", str))
        self.head_epochs.setValue(get("head_epochs", int))
        decay = values.get("layer_lr_decay", defaults["layer_lr_decay"])
        ok = isinstance(decay, (int, float)) and not isinstance(decay, bool) and 0 < decay <= 1
        self.layer_lr_decay.setValue(float(decay) if ok else 1.0)
        self._select(self.class_weights, get("class_weights", str))
        self._select(self.augment, get("augment", str))
        size = values.get("image_size")
        ok = isinstance(size, int) and not isinstance(size, bool) and 8 <= size <= 1024
        self.image_size.setCurrentText(str(size) if ok else "auto")

    @staticmethod
    def _select(combo: QComboBox, key: str) -> None:
        index = combo.findData(key)
        combo.setCurrentIndex(index if index >= 0 else 0)

    def set_devices(self, gpu_name: str | None) -> None:
        """Offer the GPU by name when there is one (a Mac's: MPS); otherwise CPU only."""
        from tlgui.core.models.device import MPS_NAME  # called once torch is loaded

        current = self.device.currentData() if self.device.count() else "auto"
        self.device.clear()
        if gpu_name:
            self.device.addItem(f"Automatic (GPU: {gpu_name})", "auto")
            self.device.addItem(f"GPU: {gpu_name}", "mps" if gpu_name == MPS_NAME else "cuda")
            self.device.addItem("CPU", "cpu")
        else:
            self.device.addItem("CPU", "auto")
        self._select(self.device, current)

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
