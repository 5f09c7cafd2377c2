"""Live training plots: loss, accuracy and learning rate.

Events only append to numpy buffers; a QTimer (15 Hz) redraws the curves with ``setData``
when something changed. Nothing is drawn per batch, so a fast run cannot flood the GUI.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QEvent, Qt, QTimer, Slot
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QHBoxLayout, QSizePolicy, QWidget

REDRAW_MS = 100  # 10 Hz


def smoothing_for(batches_per_epoch: int) -> float:
    """EMA weight for the smoothed loss: averages over ~1/5 epoch (3 to 25 batches)."""
    window = min(25.0, max(3.0, batches_per_epoch / 5.0))
    return 1.0 - 1.0 / window


def nice_step(raw: float) -> int:
    """The smallest of 1, 2, 5, 10, 20, 50... that is at least ``raw``."""
    step = 1
    while True:
        for factor in (1, 2, 5):
            if step * factor >= raw:
                return step * factor
        step *= 10


# (light theme, dark theme) colours; chosen to stay apart for common colour blindness
_COLOURS = {
    "train": ("#1f6fb4", "#5aa9f0"),
    "train_raw": ("#9ec3e6", "#3d6a94"),
    "val": ("#d9480f", "#ff8c42"),
    "lr": ("#5f3dc4", "#b197fc"),
}


class Series:
    """A growable pair of float arrays; ``x``/``y`` are views of the filled part."""

    def __init__(self, capacity: int = 1024) -> None:
        self._x = np.empty(capacity, dtype=np.float64)
        self._y = np.empty(capacity, dtype=np.float64)
        self.size = 0

    def append(self, x: float, y: float) -> None:
        if self.size == len(self._x):
            self._x = np.resize(self._x, 2 * len(self._x))
            self._y = np.resize(self._y, 2 * len(self._y))
        self._x[self.size] = x
        self._y[self.size] = y
        self.size += 1

    def clear(self) -> None:
        self.size = 0

    @property
    def x(self) -> np.ndarray:
        return self._x[: self.size]

    @property
    def y(self) -> np.ndarray:
        return self._y[: self.size]

    def __len__(self) -> int:
        return self.size


def is_dark(palette: QPalette) -> bool:
    return palette.color(QPalette.ColorRole.Window).lightness() < 128


class TrainingPlots(QWidget):
    """Three plots fed by :meth:`add_batches` / :meth:`add_epoch`, redrawn by a timer."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("trainingPlots")
        self.series: dict[str, Series] = {
            name: Series()
            for name in (
                "train_loss_raw", "train_loss_smooth", "val_loss",
                "train_acc", "val_acc", "lr",
            )
        }
        self._ema = 0.0  # debiased exponential moving average of the batch loss
        self._ema_steps = 0
        self._dirty = False
        self._epochs = 0  # x axes span 0.._epochs (0: not fixed)
        self.redraw_count = 0

        self.loss_plot = self._make_plot("lossPlot", "Loss", "loss (lower is better)")
        self.accuracy_plot = self._make_plot("accuracyPlot", "Accuracy", "accuracy (%)")
        self.lr_plot = self._make_plot("lrPlot", "Learning rate", "learning rate")
        self.accuracy_plot.setYRange(0, 100, padding=0.02)
        self.accuracy_plot.getPlotItem().getViewBox().setLimits(yMin=-5, yMax=105)
        self.lr_plot.getPlotItem().getAxis("left").enableAutoSIPrefix(False)

        loss_legend = self.loss_plot.addLegend(offset=(-8, 8))
        acc_legend = self.accuracy_plot.addLegend(offset=(-8, -8))
        self._legends = (loss_legend, acc_legend)
        self.curves: dict[str, pg.PlotDataItem] = {
            "train_loss_raw": self.loss_plot.plot(name="training (each batch)"),
            "train_loss_smooth": self.loss_plot.plot(name="training (smoothed)"),
            "val_loss": self.loss_plot.plot(name="validation (each epoch)", symbol="o", symbolSize=7),
            "train_acc": self.accuracy_plot.plot(name="training", symbol="s", symbolSize=6),
            "val_acc": self.accuracy_plot.plot(name="validation", symbol="o", symbolSize=7),
            "lr": self.lr_plot.plot(),
        }
        self.apply_theme()

        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(6)
        layout.addWidget(self.loss_plot, 5)
        layout.addWidget(self.accuracy_plot, 5)
        layout.addWidget(self.lr_plot, 3)

        self.timer = QTimer(self)
        self.timer.setInterval(REDRAW_MS)
        self.timer.timeout.connect(self.redraw)

    # -- construction ------------------------------------------------------------------
    def _make_plot(self, object_name: str, title: str, y_label: str) -> pg.PlotWidget:
        plot = pg.PlotWidget()
        plot.setObjectName(object_name)
        plot.setMinimumSize(180 if object_name == "lrPlot" else 240, 160)
        plot.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        item = plot.getPlotItem()
        item.setTitle(title)
        item.setLabel("bottom", "epoch")
        item.setLabel("left", y_label)
        # no grid: software-rendered grid lines cost most of a repaint (measured ~3x)
        item.setDownsampling(auto=True, mode="peak")
        item.setClipToView(True)
        item.setMenuEnabled(False)
        item.hideButtons()
        return plot

    def apply_theme(self) -> None:
        """Colours from the current palette, so the plots read well in light and dark."""
        palette = self.palette()
        dark = is_dark(palette)
        idx = 1 if dark else 0
        background = palette.color(QPalette.ColorRole.Base)
        text = palette.color(QPalette.ColorRole.WindowText)
        for plot in (self.loss_plot, self.accuracy_plot, self.lr_plot):
            plot.setBackground(background)
            item = plot.getPlotItem()
            for axis in ("left", "bottom"):
                ax = item.getAxis(axis)
                ax.setPen(pg.mkPen(text))
                ax.setTextPen(pg.mkPen(text))
            item.titleLabel.setText(item.titleLabel.text, color=text.name())
        for legend in self._legends:
            legend.setLabelTextColor(text)
            for _sample, label in legend.items:  # setLabelTextColor does not re-render
                label.setText(label.text, color=text.name())
            fill = QColor(background)
            fill.setAlpha(200)
            legend.setBrush(pg.mkBrush(fill))
            legend.setPen(pg.mkPen(QColor(text.red(), text.green(), text.blue(), 60)))

        def pen(name: str, width: float = 2.0, style=Qt.PenStyle.SolidLine):
            return pg.mkPen(_COLOURS[name][idx], width=width, style=style)

        c = self.curves
        c["train_loss_raw"].setPen(pen("train_raw", 1.0))
        c["train_loss_smooth"].setPen(pen("train", 2.0))
        c["val_loss"].setPen(pen("val", 2.0))
        c["val_loss"].setSymbolBrush(_COLOURS["val"][idx])
        c["val_loss"].setSymbolPen(pg.mkPen(background))
        c["train_acc"].setPen(pen("train", 2.0))
        c["train_acc"].setSymbolBrush(_COLOURS["train"][idx])
        c["train_acc"].setSymbolPen(pg.mkPen(background))
        c["val_acc"].setPen(pen("val", 2.0))
        c["val_acc"].setSymbolBrush(_COLOURS["val"][idx])
        c["val_acc"].setSymbolPen(pg.mkPen(background))
        c["lr"].setPen(pen("lr", 2.0))

    def _update_ticks(self) -> None:
        """Whole epochs only, and few enough labels that they never crowd."""
        if not self._epochs:
            return
        for plot in (self.loss_plot, self.accuracy_plot, self.lr_plot):
            labels = max(2, plot.width() // 70)
            step = nice_step(self._epochs / labels)
            plot.getPlotItem().getAxis("bottom").setTickSpacing(step, step)

    def resizeEvent(self, event) -> None:  # Qt override
        super().resizeEvent(event)
        self._update_ticks()

    def changeEvent(self, event) -> None:  # Qt override
        if event.type() in (QEvent.Type.PaletteChange, QEvent.Type.ApplicationPaletteChange):
            self.apply_theme()
        super().changeEvent(event)

    # -- data --------------------------------------------------------------------------
    def reset(self, epochs: int | None = None) -> None:
        """Clear all curves; with ``epochs``, fix the x axes to the run's length.

        A fixed x range keeps the plots from jumping and spares the axes a re-layout
        on every redraw.
        """
        if epochs:
            self._epochs = max(1, int(epochs))
            for plot in (self.loss_plot, self.accuracy_plot, self.lr_plot):
                plot.setXRange(0, self._epochs, padding=0.02)
            self._update_ticks()
        for series in self.series.values():
            series.clear()
        self._ema = 0.0
        self._ema_steps = 0
        self._dirty = True
        self.redraw()

    @Slot(object)
    def add_batches(self, stats) -> None:
        """Append a list of BatchStats (cheap; drawing happens on the timer)."""
        s = self.series
        for b in stats:
            x = (b.epoch - 1) + b.batch / max(1, b.batches)
            loss = float(b.loss)
            if np.isfinite(loss):
                s["train_loss_raw"].append(x, loss)
                beta = smoothing_for(b.batches)
                self._ema = beta * self._ema + (1 - beta) * loss
                self._ema_steps += 1
                s["train_loss_smooth"].append(x, self._ema / (1 - beta**self._ema_steps))
            s["lr"].append(x, float(b.lr))
        if stats:
            self._dirty = True

    @Slot(object)
    def add_epoch(self, e) -> None:
        s = self.series
        s["val_loss"].append(e.epoch, float(e.val_loss))
        s["train_acc"].append(e.epoch, 100.0 * float(e.train_accuracy))
        s["val_acc"].append(e.epoch, 100.0 * float(e.val_accuracy))
        self._dirty = True

    # -- drawing -----------------------------------------------------------------------
    def start(self) -> None:
        self.timer.start()

    def stop(self) -> None:
        self.timer.stop()
        self.redraw()  # the last points

    @Slot()
    def redraw(self) -> None:
        if not self._dirty:
            return
        self._dirty = False
        self.redraw_count += 1
        for name, curve in self.curves.items():
            series = self.series[name]
            curve.setData(series.x, series.y)

    def curve_data(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """What the curve currently shows (for tests and screenshots)."""
        x, y = self.curves[name].getData()
        if x is None:
            return np.empty(0), np.empty(0)
        return np.asarray(x), np.asarray(y)
