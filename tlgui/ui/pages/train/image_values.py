"""The data panel's "Image values" group: which channels the model gets, how raw values become
its 0..255 inputs (the intensity policy) and how a z/t stack becomes one image. They are the
``channels``, ``intensity`` and ``stack`` of a TrainConfig (and the CLI's ``--channels``,
``--intensity``, ``--stack``). Shown for lab images (deeper than 8 bits, TIFF stacks and arrays,
or not 1 or 3 channels); for 8-bit pictures the defaults apply and the group stays hidden."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QWidget,
)

DEFAULTS = {"channels": "all", "intensity": "auto", "stack": "middle"}
INTENSITY_ITEMS = (
    ("Automatic (recommended)", "auto",
     "A window fitted to the training images for data deeper than 8 bits; 8-bit data as it is"),
    ("Dataset window", "dataset",
     "One window per channel from the training images' 0.05th to 99.95th percentiles, "
     "so a brighter image stays brighter"),
    ("Per image stretch", "image",
     "Each image stretched from its own darkest to its brightest value (absolute brightness is lost)"),
    ("Fixed range…", "fixed", "Raw value LO becomes 0 and HI becomes 255, in every channel"),
    ("None", "none", "Raw values as they are: values above 255 clip"),
)
STACK_ITEMS = (("Middle slice", "middle"), ("Max projection", "max"))
_ERROR = "color: #b00020;"


class ImageValuesBox(QGroupBox):
    """``values()`` -> {"channels", "intensity", "stack"} for a TrainConfig; raises a
    ConfigError with a sentence for a person when a choice is not valid."""

    stack_changed = Signal(str)  # the thumbnails show the stack as the model will see it

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Image values", parent)
        self.setObjectName("image_values")
        self._available: int | None = None  # channels per file in the opened data
        self._applies = False

        self.channels_edit = QLineEdit("all")
        self.channels_edit.setObjectName("channels_edit")
        self.channels_edit.setPlaceholderText("all, or e.g. 2 or 1,2,3")
        self.channels_edit.setToolTip(
            "The channels the model gets: all, or their numbers (1 is the first), e.g. 2 or 1,2,3.\n"
            "Three channels feed an RGB-pretrained model as its red, green and blue.")
        self.channels_edit.editingFinished.connect(self._check)

        self.intensity_combo = QComboBox()
        self.intensity_combo.setObjectName("intensity_combo")
        for index, (text, key, tip) in enumerate(INTENSITY_ITEMS):
            self.intensity_combo.addItem(text, key)
            self.intensity_combo.setItemData(index, tip, Qt.ItemDataRole.ToolTipRole)
        self.intensity_combo.setToolTip("How raw values become the model's 0..255 inputs")
        self.intensity_combo.currentIndexChanged.connect(self._on_intensity)
        self.intensity_low = _spin("intensity_low", 0.0, "Raw value shown as 0 (black)")
        self.intensity_high = _spin("intensity_high", 4095.0, "Raw value shown as 255 (full)")
        self.intensity_low.valueChanged.connect(self._check)
        self.intensity_high.valueChanged.connect(self._check)
        self._range_to = QLabel("to")

        self.stack_combo = QComboBox()
        self.stack_combo.setObjectName("stack_combo")
        for text, key in STACK_ITEMS:
            self.stack_combo.addItem(text, key)
        self.stack_combo.setToolTip("How a z- or time-stack becomes one image (the run log says so)")
        self.stack_combo.currentIndexChanged.connect(lambda _i: self.stack_changed.emit(self.stack()))

        self.error_label = QLabel("")
        self.error_label.setObjectName("image_values_error")
        self.error_label.setStyleSheet(_ERROR)
        self.error_label.setWordWrap(True)
        self.error_label.hide()

        grid = QGridLayout(self)
        grid.setColumnStretch(1, 1)
        grid.addWidget(QLabel("Channels:"), 0, 0)
        grid.addWidget(self.channels_edit, 0, 1)
        grid.addWidget(QLabel("Intensity:"), 1, 0)
        row = QHBoxLayout()
        row.addWidget(self.intensity_combo, 1)
        for widget in (self.intensity_low, self._range_to, self.intensity_high):
            row.addWidget(widget)
        grid.addLayout(row, 1, 1)
        grid.addWidget(QLabel("Stack:"), 2, 0)
        grid.addWidget(self.stack_combo, 2, 1)
        grid.addWidget(self.error_label, 3, 0, 1, 2)
        self._on_intensity()
        self.setVisible(False)

    # ------------------------------------------------------------------ public API

    def applies(self) -> bool:
        """Whether the opened data needs these choices (lab images); else the defaults apply."""
        return self._applies

    def set_kind(self, kind, applies: bool) -> None:
        """The opened data's ImageKind (or None): shows the group for lab images and checks the
        channel numbers against the files' channel count."""
        self._applies = bool(applies)
        self._available = int(kind.channels) if kind is not None else None
        if kind is not None and kind.dtype.startswith("float"):
            for spin in (self.intensity_low, self.intensity_high):
                spin.setDecimals(4)
        if kind is not None and self.intensity_combo.currentData() != "fixed" and kind.deep:
            self.intensity_high.setValue(float(2 ** kind.value_bits - 1))  # a sensible start for "Fixed"
        self.setVisible(self._applies)
        self._check()

    def stack(self) -> str:
        return self.stack_combo.currentData() if self._applies else DEFAULTS["stack"]

    def values(self) -> dict[str, str]:
        """The TrainConfig fields; the defaults for 8-bit pictures. Raises ConfigError."""
        if not self._applies:
            return dict(DEFAULTS)
        return {"channels": self._channels(), "intensity": self._intensity(), "stack": self.stack()}

    def set_values(self, values: dict) -> None:
        """Show saved choices (a run's config or settings); anything invalid keeps the default."""
        from tlgui.core.base.config import ConfigError, parse_intensity

        channels = str(values.get("channels") or "all")
        self.channels_edit.setText(channels)
        try:
            mode, window = parse_intensity(str(values.get("intensity") or "auto"))
        except ConfigError:
            mode, window = "auto", None
        if window is not None:
            if any(v != int(v) for v in window):
                for spin in (self.intensity_low, self.intensity_high):
                    spin.setDecimals(4)
            self.intensity_low.setValue(window[0])
            self.intensity_high.setValue(window[1])
        self.intensity_combo.setCurrentIndex(max(0, self.intensity_combo.findData(mode)))
        self.stack_combo.setCurrentIndex(max(0, self.stack_combo.findData(str(values.get("stack") or "middle"))))
        self._check()

    def problem(self) -> str:
        """The message shown for the current choices ("" when they are fine)."""
        return self.error_label.text() if self.error_label.isVisible() else ""

    # ------------------------------------------------------------------ checks

    def _channels(self) -> str:
        from tlgui.core.base.config import ConfigError, parse_channels

        text = self.channels_edit.text().strip().lower() or "all"
        try:
            chosen = parse_channels(text, self._available)
        except ConfigError as exc:
            raise ConfigError(_for_people(str(exc))) from None
        return "all" if chosen is None else ",".join(str(c + 1) for c in chosen)

    def _intensity(self) -> str:
        from tlgui.core.base.config import ConfigError, parse_intensity

        mode = self.intensity_combo.currentData()
        if mode != "fixed":
            return mode
        low, high = self.intensity_low.value(), self.intensity_high.value()
        text = f"fixed:{low:g},{high:g}"
        try:
            parse_intensity(text)
        except ConfigError:
            raise ConfigError(f"Intensity: the fixed range's high value ({high:g}) must be above its "
                              f"low value ({low:g}).") from None
        return text

    @Slot()
    def _check(self) -> None:
        from tlgui.core.base.config import ConfigError

        try:
            self.values()
        except ConfigError as exc:
            self.error_label.setText(str(exc))
            self.error_label.show()
            return
        self.error_label.hide()
        self.error_label.setText("")

    @Slot()
    def _on_intensity(self, _index: int | None = None) -> None:
        fixed = self.intensity_combo.currentData() == "fixed"
        for widget in (self.intensity_low, self._range_to, self.intensity_high):
            widget.setVisible(fixed)
        self.intensity_combo.setToolTip(INTENSITY_ITEMS[max(0, self.intensity_combo.currentIndex())][2])
        self._check()


def _for_people(message: str) -> str:
    """A core message about ``--channels`` worded for the panel."""
    text = message.replace("invalid value for --channels: ", "Channels: ").replace("--channels ", "Channels ")
    return text[:1].upper() + text[1:] + ("" if text.endswith(".") else ".")


def _spin(name: str, value: float, tip: str) -> QDoubleSpinBox:
    spin = QDoubleSpinBox()
    spin.setObjectName(name)
    spin.setDecimals(0)
    spin.setRange(-1e9, 1e9)
    spin.setValue(value)
    spin.setToolTip(tip)
    spin.setMinimumWidth(spin.fontMetrics().horizontalAdvance("000000") + 30)
    return spin
