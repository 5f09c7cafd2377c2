"""Live plots: numpy buffers, timer-driven redraws, themes, and a paint-path refcount guard."""

from __future__ import annotations

import gc
import sys

import numpy as np
import pytest
from PySide6.QtGui import QPalette

from tlgui.core.base.events import BatchStats, EpochStats
from tlgui.ui.shell.theme import dark_palette
from tlgui.ui.widgets.plots import Series, TrainingPlots, nice_step, smoothing_for


def batches(epoch: int, n: int = 10, loss0: float = 2.0) -> list[BatchStats]:
    return [
        BatchStats(epoch, i, n, loss0 / (epoch + i / n), 0.5, 1e-3 * (1 - i / (2 * n)), float(i))
        for i in range(1, n + 1)
    ]


def epoch_stats(epoch: int, epochs: int = 3) -> EpochStats:
    return EpochStats(epoch, epochs, 1.0 / epoch, 0.5 + 0.1 * epoch, 1.2 / epoch, 0.4 + 0.1 * epoch,
                      1e-3, 1.0, float(epoch))


@pytest.fixture
def plots(qtbot):
    widget = TrainingPlots()
    qtbot.addWidget(widget)
    widget.resize(900, 260)
    widget.show()
    qtbot.waitExposed(widget)
    return widget


def test_series_grows_past_its_capacity():
    s = Series(capacity=2)
    for i in range(100):
        s.append(i, 2 * i)
    assert len(s) == 100
    np.testing.assert_array_equal(s.x, np.arange(100))
    np.testing.assert_array_equal(s.y, 2 * np.arange(100))
    s.clear()
    assert len(s) == 0 and s.x.size == 0


def test_smoothing_window_follows_epoch_length():
    assert smoothing_for(6) == pytest.approx(2 / 3)
    assert smoothing_for(50) == pytest.approx(0.9)
    assert smoothing_for(10_000) == pytest.approx(0.96)


def test_nice_step():
    assert [nice_step(v) for v in (0.3, 1, 1.5, 2.4, 4, 7, 12, 260)] == [1, 1, 2, 5, 5, 10, 20, 500]


def test_events_only_fill_buffers_until_redraw(plots):
    plots.add_batches(batches(1))
    assert len(plots.series["train_loss_raw"]) == 10
    assert plots.curve_data("train_loss_raw")[0].size == 0  # nothing drawn per batch
    plots.redraw()
    x, y = plots.curve_data("train_loss_raw")
    assert x.size == 10 and x[-1] == pytest.approx(1.0)
    xs, ys = plots.curve_data("train_loss_smooth")
    assert xs.size == 10
    assert ys[0] == pytest.approx(y[0])  # debiased: starts at the first loss, not at 0
    assert plots.curve_data("lr")[0].size == 10


def test_epoch_points_in_percent(plots):
    plots.add_batches(batches(1))
    plots.add_epoch(epoch_stats(1))
    plots.add_epoch(epoch_stats(2))
    plots.redraw()
    x, y = plots.curve_data("val_acc")
    np.testing.assert_allclose(x, [1, 2])
    np.testing.assert_allclose(y, [50, 60])
    assert plots.curve_data("train_acc")[1][0] == pytest.approx(60)
    assert plots.curve_data("val_loss")[1][1] == pytest.approx(0.6)


def test_non_finite_losses_are_not_plotted(plots):
    stats = batches(1, n=3)
    stats[1] = BatchStats(1, 2, 3, float("nan"), 0.0, 1e-3, 1.0)
    plots.add_batches(stats)
    plots.redraw()
    assert plots.curve_data("train_loss_raw")[0].size == 2
    assert np.isfinite(plots.curve_data("train_loss_smooth")[1]).all()


def test_timer_redraws_from_buffers(qtbot, plots):
    plots.reset(epochs=3)
    ticks = []
    plots.timer.timeout.connect(lambda: ticks.append(plots.redraw_count))
    plots.start()
    try:
        before = plots.redraw_count
        plots.add_batches(batches(1))
        qtbot.waitUntil(lambda: plots.curve_data("train_loss_raw")[0].size == 10, timeout=10000)
        assert plots.redraw_count == before + 1
        # nothing new: three more timer ticks (counted, not timed) and no redraw among them
        seen = len(ticks)
        qtbot.waitUntil(lambda: len(ticks) >= seen + 3, timeout=10000)
        assert plots.redraw_count == before + 1
        plots.add_epoch(epoch_stats(1))
        qtbot.waitUntil(lambda: plots.curve_data("val_acc")[0].size == 1, timeout=10000)
    finally:
        plots.stop()
    assert not plots.timer.isActive()


def test_reset_clears_and_fixes_the_x_range(plots):
    plots.add_batches(batches(1))
    plots.redraw()
    plots.reset(epochs=5)
    assert plots.curve_data("train_loss_raw")[0].size == 0
    x0, x1 = plots.loss_plot.getPlotItem().getViewBox().viewRange()[0]
    assert x0 <= 0 and 5 <= x1 < 5.5


def test_legends_and_axis_labels(plots):
    item = plots.loss_plot.getPlotItem()
    names = [label.text for _sample, label in item.legend.items]
    assert any("validation" in n for n in names) and any("smoothed" in n for n in names)
    assert "epoch" in item.getAxis("bottom").labelText
    assert "%" in plots.accuracy_plot.getPlotItem().getAxis("left").labelText


def test_dark_theme_follows_the_palette(plots):
    light_bg = plots.loss_plot.backgroundBrush().color()
    plots.setPalette(dark_palette())
    dark_bg = plots.loss_plot.backgroundBrush().color()
    assert dark_bg.lightness() < 80 < light_bg.lightness()
    text = plots.loss_plot.getPlotItem().getAxis("left").textPen().color()
    assert text.lightness() > 150  # light text on a dark background
    assert plots.palette().color(QPalette.ColorRole.Window).lightness() < 128


def test_many_redraws_keep_none_refcount(qtbot, plots):
    """Guards the PySide6 6.12 paint-path bug that drops references to None until the
    interpreter aborts ("none_dealloc"); on a good build the count stays put."""
    plots.reset(epochs=40)
    gc.collect()
    start = sys.getrefcount(None)
    low = start
    for i in range(3000):
        epoch = 1 + i // 100
        plots.add_batches([BatchStats(epoch, i % 100 + 1, 100, 1.0 / (1 + i), 0.5, 1e-3, i * 0.01)])
        if i % 100 == 99:
            plots.add_epoch(epoch_stats(epoch, 40))
        plots.redraw()
        if i % 50 == 0:
            plots.grab()  # forces a real paint of every plot
            low = min(low, sys.getrefcount(None))
    gc.collect()
    end = sys.getrefcount(None)
    # ordinary churn moves the count by a few hundred at most; the bug loses thousands
    assert end > start - 1000, (start, end)
    assert low > start - 1000, (start, low)
    assert plots.curve_data("train_loss_raw")[0].size == 3000
