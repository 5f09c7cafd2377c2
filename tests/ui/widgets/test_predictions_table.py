"""The Predict page's table (widgets/predictions_table): rows below those shown, the top-k classes
of each row, and the placeholder while it is empty."""

from __future__ import annotations

from PySide6.QtGui import QColor, QImage

from tlgui.core.results.predict import Prediction
from tlgui.ui.widgets.predictions_table import ICON, PredictionsTable

TOP = (("cat", 0.7), ("dog", 0.2), ("fox", 0.1))


def test_rows_are_added_below_and_show_the_top_k(qtbot):
    table = PredictionsTable("Drop pictures here")
    qtbot.addWidget(table)
    first = [Prediction("/a/1.png", "cat", 0.7, TOP)]
    table.add_rows(first)
    more = [Prediction("/a/2.png", "dog", 0.6, (("dog", 0.6), ("cat", 0.4)))]
    table.add_rows(more)
    table.show_top(first + more, 2)
    assert table.rowCount() == 2
    assert table.item(1, 1).text() == "2.png" and table.item(1, 1).toolTip() == "/a/2.png"
    assert table.shown_top(0) == ["cat", "dog"] and table.shown_top(1) == ["dog", "cat"]
    table.show_top(first + more, 1)
    assert table.shown_top(0) == ["cat"]
    assert table.shown_top(5) == []  # no such row


def test_icons_are_counted_once_they_arrive(qtbot):
    table = PredictionsTable("Drop pictures here")
    qtbot.addWidget(table)
    table.add_rows([Prediction("/a/1.png", "cat", 0.7, TOP), Prediction("/a/2.png", "dog", 0.6, TOP)])
    assert table.icon_count() == 0
    image = QImage(10, 10, QImage.Format.Format_RGB32)
    image.fill(QColor("red"))
    table.set_icon(table.item(1, 0), image)
    assert table.icon_count() == 1
    shown = table.icon_image(1)
    assert max(shown.width(), shown.height()) == ICON and shown.pixelColor(ICON // 2, ICON // 2) == QColor("red")
