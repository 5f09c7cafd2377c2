"""The Train page's training settings: epochs, batch size, learning rate (and its finder), optimizer,
schedule, the recipe (head first, layer-rate decay, class weights, augmentation), seed, image size,
device and precision; read as plain values whose keys match TrainConfig, and set from saved ones."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, Slot
from PySide6.QtWidgets import QComboBox, QDoubleSpinBox, QFormLayout, QGroupBox, QHBoxLayout, QLabel, QSpinBox

from tlgui.settings import default_training

OPTIMIZERS = (("adam", "Adam"), ("adamw", "AdamW"), ("sgd", "SGD with momentum"))
SCHEDULES = (("cosine", "Cosine decay"), ("onecycle", "One-cycle"), ("constant", "Constant"))
LR_PRESETS = ("auto", "find", "0.1", "0.03", "0.01", "0.003", "0.001", "0.0003", "0.0001")
CLASS_WEIGHT_CHOICES = (("none", "None"), ("balanced", "Balanced"))
AUGMENT_CHOICES = (("auto", "Automatic"), ("none", "None"), ("flip", "Left-right flips"),
                   ("flip-rotate", "Flips and quarter turns"), ("standard", "Flips and small shifts"))
PRECISION_CHOICES = (("auto", "Automatic"), ("fp32", "fp32"), ("bf16", "bf16"))


def _choice_combo(name: str, choices: tuple[tuple[str, str], ...], tooltip: str = "") -> QComboBox:
    """A combo box of (key, label) choices: shows the label, ``currentData()`` is the key."""
    combo = QComboBox()
    combo.setObjectName(name)
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


class TrainingSettingsBox(QGroupBox):
    """The settings form; each field has a stable objectName for tests and automation."""

    def __init__(self) -> None:
        super().__init__("Training settings")
        self._make_fields()
        self.setLayout(self._make_form())

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
        self.epochs = QSpinBox()
        self.epochs.setObjectName("epochsSpin")
        self.epochs.setRange(1, 1000)
        self.epochs.setToolTip("How many times training goes through all training images.")
        self.batch_size = QSpinBox()
        self.batch_size.setObjectName("batchSizeSpin")
        self.batch_size.setRange(1, 4096)
        self.batch_size.setToolTip(
            "Images per training step. Smaller uses less memory; larger is often faster."
        )
        self.lr = QComboBox()
        self.lr.setObjectName("lrCombo")
        self.lr.setEditable(True)
        self.lr.addItems(LR_PRESETS)
        self.lr.setToolTip(
            "Step size of each update. 'auto' picks a sensible value for the optimizer; 'find' runs a "
            "short range test first (Find does it now and shows the curve)."
        )
        self._make_recipe_fields()
        self.optimizer = _choice_combo("optimizerCombo", OPTIMIZERS)
        self.schedule = _choice_combo("scheduleCombo", SCHEDULES, "How the learning rate changes during training.")
        self.seed = QSpinBox()
        self.seed.setObjectName("seedSpin")
        self.seed.setRange(0, 2**31 - 1)
        self.seed.setToolTip("Same seed, same settings: same result.")
        self.device = QComboBox()
        self.device.setObjectName("deviceCombo")
        _narrow(self.device)
        self.set_devices(None)
        self.precision = _choice_combo(
            "precisionCombo", PRECISION_CHOICES,
            "Number format for the maths. 'auto' uses bf16 where the processor does it natively "
            "(about twice as fast, same accuracy in practice) and fp32 elsewhere; bf16 without "
            "native support is many times slower, so a run asked for it then uses fp32 and says so.")
        self.image_size = QComboBox()
        self.image_size.setObjectName("imageSizeCombo")
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
        self.head_epochs = QSpinBox()
        self.head_epochs.setObjectName("headEpochsSpin")
        self.head_epochs.setRange(0, 999)
        self.head_epochs.setSpecialValueText("off")
        self.head_epochs.setSuffix(" epoch(s)")
        self.head_epochs.setToolTip("Train the new head alone for this many of the epochs (on cached features: "
                                    "seconds), then the layers you left trainable. Off: everything from the start.")
        self.layer_lr_decay = QDoubleSpinBox()
        self.layer_lr_decay.setObjectName("layerLrDecaySpin")
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

        def get(key: str, kind: type) -> Any:
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
