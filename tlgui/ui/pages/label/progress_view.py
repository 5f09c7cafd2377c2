"""How far the labelling has come: "Labelled N of M", the count per class, the estimated
accuracy against the number of labels (with its uncertainty band), the plain-words hint on
whether more labels still pay off, and the way the model picks the images."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from tlgui.ui.widgets.curves import curve_colour, make_curve_plot


def _pct(value: float) -> str:
    return f"{100 * value:.0f} %"


def estimate_text(estimate) -> str:
    """One line for an Estimate (accuracy, low, high, method, count)."""
    if estimate is None:
        return "No accuracy estimate yet: it needs labels on images drawn at random, given after the model suggested."
    return (f"Estimated accuracy {_pct(estimate.accuracy)} (likely between {_pct(estimate.low)} and "
            f"{_pct(estimate.high)}). Point at it to see how it is made.")


class ProgressView(QWidget):
    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("labelProgressView")
        self.count_label = QLabel("No folder yet.", objectName="labelCountLabel")
        font = self.count_label.font()
        font.setPointSizeF(font.pointSizeF() * 1.2)
        font.setBold(True)
        self.count_label.setFont(font)
        self.per_class_label = QLabel("", objectName="labelPerClassLabel", wordWrap=True)
        self.plot = make_curve_plot("labelAccuracyPlot", "Estimated accuracy as the labels grew",
                                    "accuracy (%), bars: 90 % interval", self)
        self.plot.setLabel("bottom", "labels given")
        self.plot.setYRange(0, 100, padding=0.02)
        self.plot.setMinimumSize(220, 160)
        self.plot.setMaximumHeight(300)  # the words under it stay in view
        dark = self.palette().color(QPalette.ColorRole.Base).lightness() < 128
        colour = QColor(curve_colour(0, dark))
        band = QColor(colour)
        band.setAlpha(60)
        self._low = pg.PlotDataItem([], [], pen=pg.mkPen(band))
        self._high = pg.PlotDataItem([], [], pen=pg.mkPen(band))
        self.plot.addItem(self._low)
        self.plot.addItem(self._high)
        self.band = pg.FillBetweenItem(self._low, self._high, brush=pg.mkBrush(band))
        self.plot.addItem(self.band)
        self.empty_text = pg.TextItem("No points yet: the model estimates\nits accuracy once it knows\n"
                                      "two classes", anchor=(0.5, 0.5),
                                      color=self.palette().color(QPalette.ColorRole.PlaceholderText))
        self.plot.addItem(self.empty_text)
        self.empty_text.setPos(50, 50)
        self.plot.setXRange(0, 100, padding=0.02)
        self.bars = pg.ErrorBarItem(x=np.zeros(0), y=np.zeros(0), pen=pg.mkPen(colour), beam=0.6)
        self.plot.addItem(self.bars)
        self.curve = self.plot.plot([], [], pen=pg.mkPen(colour, width=2), symbol="o", symbolSize=5,
                                    symbolBrush=colour)
        self.estimate_label = QLabel(estimate_text(None), objectName="labelEstimateLabel", wordWrap=True)
        self.hint_label = QLabel("", objectName="labelHintLabel", wordWrap=True)
        self.strategy_label = QLabel("", objectName="labelStrategyLabel", wordWrap=True)
        self.skipped_label = QLabel("", objectName="labelSkippedLabel", wordWrap=True, visible=False)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.count_label)
        layout.addWidget(self.per_class_label)
        layout.addWidget(self.plot, 4)  # up to its maximum height; the stretch below takes the rest
        layout.addWidget(self.estimate_label)
        layout.addWidget(self.hint_label)
        layout.addWidget(self.strategy_label)
        layout.addWidget(self.skipped_label)
        layout.addStretch(1)

    def set_counts(self, labelled: int, total: int, counts: dict[str, int]) -> None:
        self.count_label.setText(f"Labelled {labelled:,} of {total:,}")
        self.per_class_label.setText("   ".join(f"{name}: {n:,}" for name, n in counts.items()))

    def set_history(self, points: list) -> None:
        """(labels so far, Estimate) points: the curve and its band (the interval's low and high)."""
        x = [float(n) for n, _e in points]
        self.curve.setData(x, [100 * e.accuracy for _n, e in points])
        accuracy = np.array([100 * e.accuracy for _n, e in points], dtype=float)
        self.bars.setData(x=np.array(x, dtype=float), y=accuracy,
                          top=np.array([100 * e.high for _n, e in points], dtype=float) - accuracy,
                          bottom=accuracy - np.array([100 * e.low for _n, e in points], dtype=float))
        self.empty_text.setVisible(not points)
        if points:
            self.plot.setXRange(0, max(x) * 1.05 + 1, padding=0)
        self._low.setData(x, [100 * e.low for _n, e in points])
        self._high.setData(x, [100 * e.high for _n, e in points])
        self.plot.setToolTip(f"Each point: {points[-1][1].method}" if points else "")

    def set_queue_info(self, queue) -> None:
        """What the last LabelQueue said: its estimate, hint, strategy and unreadable images."""
        self.estimate_label.setText(estimate_text(queue.estimate))
        self.estimate_label.setToolTip(f"How: {queue.estimate.method}" if queue.estimate is not None else "")
        self.hint_label.setText(queue.hint or "")
        self.hint_label.setVisible(bool(queue.hint))
        self.strategy_label.setText(f"Picking {queue.strategy} images: {queue.reason}." if queue.reason else "")
        skipped = list(queue.skipped or [])
        if skipped:
            shown = "; ".join(f"{path}: {why}" for path, why in skipped[:3])
            more = f" (and {len(skipped) - 3} more)" if len(skipped) > 3 else ""
            self.skipped_label.setText(f"{len(skipped)} image(s) cannot be read and are never offered: {shown}{more}")
        self.skipped_label.setVisible(bool(skipped))
        self.skipped_label.setStyleSheet("color: #c0392b;" if skipped else "")
