"""Per-epoch curve plots styled like the training plots, for pages that overlay runs
(Runs, the transfer check): the plot, its legend, and colours safe for colour blindness."""

from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QWidget

# (light, dark) pairs, distinguishable with common colour blindness
COLOURS = (
    ("#1f6fb4", "#5aa9f0"), ("#d9480f", "#ff8c42"), ("#2b8a3e", "#69db7c"), ("#5f3dc4", "#b197fc"),
    ("#c2255c", "#f783ac"), ("#e67700", "#ffd43b"), ("#0b7285", "#66d9e8"), ("#495057", "#ced4da"),
)


def curve_colour(index: int, dark: bool) -> str:
    return COLOURS[index % len(COLOURS)][1 if dark else 0]


def make_curve_plot(object_name: str, title: str, y_label: str, widget: QWidget) -> pg.PlotWidget:
    """A plot styled like the training plots (no grid, no menu), coloured from ``widget``'s palette."""
    plot = pg.PlotWidget()
    plot.setObjectName(object_name)
    plot.setMinimumSize(240, 180)
    item = plot.getPlotItem()
    item.setMenuEnabled(False)
    item.hideButtons()
    palette = widget.palette()
    text = palette.color(QPalette.ColorRole.WindowText)
    plot.setBackground(palette.color(QPalette.ColorRole.Base))
    for axis in ("left", "bottom"):
        ax = item.getAxis(axis)
        ax.setPen(pg.mkPen(text))
        ax.setTextPen(pg.mkPen(text))
    item.setTitle(title, color=text.name())
    item.setLabel("bottom", "epoch")
    item.setLabel("left", y_label)
    return plot


def legend_for(plot: pg.PlotWidget, widget: QWidget) -> pg.LegendItem:
    palette = widget.palette()
    legend = plot.addLegend(offset=(-8, -8))
    legend.setLabelTextColor(palette.color(QPalette.ColorRole.WindowText))
    fill = QColor(palette.color(QPalette.ColorRole.Base))
    fill.setAlpha(200)
    legend.setBrush(pg.mkBrush(fill))
    return legend
