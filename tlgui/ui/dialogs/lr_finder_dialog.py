"""The learning-rate range test's curve and pick, in a small window of its own (the training
panel's column has no room for a plot beside its settings)."""

from __future__ import annotations

import math

from PySide6.QtWidgets import QDialog, QDialogButtonBox, QLabel, QVBoxLayout, QWidget


class LrFinderDialog(QDialog):
    """Loss against learning rate (log scale), raw and smoothed, with the pick marked."""

    def __init__(self, parent: QWidget | None = None) -> None:
        import pyqtgraph as pg  # noqa: F401  (deferred: ~0.3 s to import)

        from tlgui.ui.widgets.curves import make_curve_plot

        super().__init__(parent)
        self.setObjectName("lrFinderDialog")
        self.setWindowTitle("Learning-rate range test")
        self.plot = make_curve_plot("lrFindPlot", "Loss while the learning rate grows", "loss", self)
        self.plot.getPlotItem().setLabel("bottom", "learning rate")
        self.plot.setLogMode(x=True, y=False)
        self.text = QLabel("", objectName="lrFindDialogText", wordWrap=True)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.close)
        layout = QVBoxLayout(self)
        layout.addWidget(self.plot, 1)
        layout.addWidget(self.text)
        layout.addWidget(buttons)
        self.resize(520, 400)

    def show_finding(self, finding) -> None:
        import pyqtgraph as pg

        self.plot.clear()
        self.plot.plot(finding.lrs, finding.losses, pen=pg.mkPen("#9aa", width=1))
        self.plot.plot(finding.lrs, finding.smoothed, pen=pg.mkPen("#1f77b4", width=2))
        self.plot.addItem(pg.InfiniteLine(math.log10(finding.pick), angle=90, pen=pg.mkPen("#d62728", width=2)))
        finite = [v for v in finding.smoothed if math.isfinite(v)]
        if finite:
            self.plot.setYRange(min(finite) * 0.9, min(max(finite), 3 * min(finite)) * 1.05)
        self.text.setText(
            f"Grey: the loss of each of {len(finding.lrs)} training steps, the rate growing from 1e-7; blue: smoothed. "
            f"The pick (red), <b>{finding.pick:.2g}</b>, is where the smoothed loss fell fastest (at most a tenth "
            f"of {finding.min_loss_lr:.2g}, where it was lowest).")
