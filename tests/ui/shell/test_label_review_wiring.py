"""The shell wires Check labels: reached from the Results page (and its confusion-cell tab),
and "Retrain with corrections" puts the corrections CSV into the Train page's next run."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt

from tests.ui.shell.test_workspace import pages, train_once
from tlgui.ui.pages.label_review import panel as review_module
from tlgui.ui.pages.label_review.jobs import ReviewData


def test_results_lead_to_check_labels_and_retrain_uses_the_corrections(qtbot, main_window, monkeypatch):
    ws = main_window.workspace
    result = train_once(qtbot, main_window)
    qtbot.waitUntil(lambda: ws.results_panel.evaluation is not None, timeout=30000)
    data = main_window.dataset_panel.choice().data
    suspect = "demo:target#3"
    fake = ReviewData(result.run_dir, data, ["a", "b"], [{"path": suspect, "given": "a", "suggested": "b",
                                                         "confidence": 0.9}], "test method",
                      plain={suspect: np.zeros((8, 8, 3), np.uint8)})
    monkeypatch.setattr(review_module, "check_run", lambda run_dir, folds, job: fake)  # the check itself: core tests
    qtbot.mouseClick(ws.results_panel.check_labels_button, Qt.MouseButton.LeftButton)
    review = ws.label_review_panel
    assert pages(main_window).currentWidget() is review and review.run_dir == result.run_dir
    qtbot.waitUntil(lambda: review.review is fake, timeout=20000)
    review.gallery.setCurrentRow(0)
    # an image of the built-in array set cannot be left out (training would refuse the row): not offered
    assert not review.exclude_button.isEnabled() and "relabel" in review.exclude_button.toolTip()
    qtbot.keyClick(review.gallery, Qt.Key.Key_X)
    assert review.decisions == {}
    qtbot.mouseClick(review.relabel_button, Qt.MouseButton.LeftButton)
    assert review.decisions == {suspect: "b"}

    qtbot.mouseClick(review.retrain_button, Qt.MouseButton.LeftButton)
    assert pages(main_window).currentIndex() == 0
    config = main_window.build_config()
    assert config.data == data and config.corrections == str(review.corrections_path)

    # from the confusion matrix's cell tab too: a clicked cell's suspects only (the check is reused)
    pages(main_window).setCurrentWidget(ws.results_panel)
    results = ws.results_panel
    qtbot.mouseClick(results.confusion, Qt.MouseButton.LeftButton,
                     pos=results.confusion.cell_rect(0, 1).center().toPoint())
    assert results.confusion.selected() == (0, 1)
    qtbot.mouseClick(results.check_cell_button, Qt.MouseButton.LeftButton)
    assert pages(main_window).currentWidget() is review
    classes = results.evaluation.classes
    assert review.focus == (classes[0], classes[1]) and review.show_all_button.isVisible()
    qtbot.waitUntil(lambda: not review.busy(), timeout=20000)
