"""The transfer check's plot (the Compare page): one validation-accuracy curve per training strategy,
a dotted line at chance, redrawn from buffers when the page's timer asks (never per epoch)."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QWidget

from tlgui.ui.widgets.curves import legend_for, make_curve_plot
from tlgui.ui.widgets.plots import Series, is_dark

STRATEGY_COLOURS = {"scratch": ("#495057", "#ced4da"), "head": ("#1f6fb4", "#5aa9f0"),
                    "finetune": ("#d9480f", "#ff8c42")}


class StrategyCurves:
    """Owns ``plot`` (a pyqtgraph PlotWidget the page lays out) and the curves drawn on it."""

    def __init__(self, parent: QWidget):
        self._parent = parent
        self.plot = make_curve_plot("comparePlot", "Validation accuracy per strategy", "accuracy (%)", parent)
        self.plot.setYRange(0, 100, padding=0.02)
        self.plot.setXRange(0.8, 5.2, padding=0)
        self.legend = legend_for(self.plot, parent)
        self._placeholder = pg.TextItem("The three curves appear here while the check runs.",
                                        color="#888", anchor=(0.5, 0.5))
        self._placeholder.setPos(3, 50)
        self.plot.addItem(self._placeholder)
        self._series: dict[str, Series] = {}
        self._curves: dict[str, pg.PlotDataItem] = {}
        self._dirty = False
        self._chance: pg.InfiniteLine | None = None

    def has_curves(self) -> bool:
        return bool(self._series)

    def fit_epochs(self, epochs: int) -> None:
        """Before any check ran: the empty plot spans ``epochs``, its placeholder in the middle."""
        self.plot.setXRange(0.8, epochs + 0.2, padding=0)
        self._placeholder.setPos((1 + epochs) / 2, 50)

    def reset(self, names: Iterable[str], epochs: int) -> None:
        """Empty curves for the strategies ``names`` over ``epochs`` epochs."""
        from tlgui.core.workflows.compare import LABELS

        self.plot.clear()  # also removes the placeholder text
        self.legend.clear()
        self._chance = None
        dark = is_dark(self._parent.palette())
        self._series = {name: Series(64) for name in names}
        self._curves = {
            name: self.plot.plot([], [], name=LABELS[name], symbol="o", symbolSize=6,
                                 pen=pg.mkPen(STRATEGY_COLOURS[name][dark], width=2),
                                 symbolBrush=STRATEGY_COLOURS[name][dark])
            for name in self._series
        }
        self.plot.setXRange(0.8, epochs + 0.2, padding=0)
        self._dirty = True

    def show_chance(self, classes: int) -> None:
        """A dotted line at the accuracy of guessing among ``classes`` classes (once per check)."""
        if classes >= 2 and self._chance is None:
            pen = pg.mkPen("#888", width=1, style=Qt.PenStyle.DotLine)
            self._chance = pg.InfiniteLine(100 / classes, angle=0, pen=pen,
                                           label=f"guessing: {100 / classes:.0f} %",
                                           labelOpts={"position": 0.06, "color": "#666", "anchors": [(0, 1), (0, 1)]})
            self.plot.addItem(self._chance)

    def append(self, name: str, epoch: int, accuracy: float) -> None:
        series = self._series.get(name)
        if series is not None:
            series.append(epoch, accuracy)
            self._dirty = True

    def redraw(self) -> None:
        if not self._dirty:
            return
        self._dirty = False
        for name, curve in self._curves.items():
            series = self._series[name]
            curve.setData(series.x, series.y)

    def curve_data(self, name: str) -> tuple[np.ndarray, np.ndarray] | None:
        series = self._series.get(name)
        return (series.x.copy(), series.y.copy()) if series is not None else None
