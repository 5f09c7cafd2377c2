"""The Check labels page: suspects found in the background, relabelled and excluded by clicks
and keys, written to a corrections CSV in the user's data folder (never to the images)."""

from __future__ import annotations

import csv
import os

import pytest
import torch
from PySide6.QtCore import Qt

from tests.core.test_label_check import _noisy_set
from tlgui.ui.pages.label_review.panel import LabelReviewPanel


@pytest.fixture(scope="module")
def noisy_run(tmp_path_factory):
    from tlgui.core.base.config import TrainConfig
    from tlgui.core.models.zoo import build_model
    from tlgui.core.training.loop import train

    root = tmp_path_factory.mktemp("review")
    flipped = _noisy_set(root / "data", 30, 9)
    torch.manual_seed(0)
    torch.save(build_model("resnet18", 10, 3).state_dict(), root / "resnet18.pth")
    result = train(TrainConfig(data=str(root / "data"), model="resnet18", weights=str(root / "resnet18.pth"),
                               freeze="backbone", image_size=32, epochs=1, out=str(root / "run"), device="cpu"))
    assert result.ok
    return root / "run", flipped


@pytest.fixture
def panel(qtbot):
    widget = LabelReviewPanel()
    qtbot.addWidget(widget)
    widget.resize(1000, 700)
    widget.show()
    yield widget
    widget.close()
    assert widget.wait_idle(20000)


def _click_tile(qtbot, panel, row):
    rect = panel.gallery.visualItemRect(panel.gallery.item(row))
    qtbot.mouseClick(panel.gallery.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert panel.gallery.currentRow() == row


def _rows(path):
    with open(path, newline="") as handle:
        return {r["path"]: r["label"] for r in csv.DictReader(handle)}


def test_review_relabels_and_excludes_by_clicks_and_keys(qtbot, panel, noisy_run, tmp_path):
    run, flipped = noisy_run
    panel.set_run(str(run))
    qtbot.waitUntil(lambda: panel.review is not None or bool(panel.last_error), timeout=120000)
    assert not panel.last_error
    review = panel.review
    assert review.images == 89 and len(review.suspects) >= 60  # every image ranked; the top of it is kept
    assert sum(s["path"] in flipped for s in review.suspects[:9]) >= 6
    flagged = [s for s in review.suspects if s["flagged"]]
    assert panel.flagged_box.isChecked() and panel.gallery.count() == len(flagged) >= 6  # the flagged ones first
    assert "flagged label(s)" in panel.status.text()
    assert review.heat and panel.heatmap_box.isChecked()  # where the model looked, for each suspect
    assert not panel.gallery.item(0).icon().isNull()
    first, second, third = (s["path"] for s in flagged[:3])

    _click_tile(qtbot, panel, 0)
    qtbot.mouseClick(panel.exclude_button, Qt.MouseButton.LeftButton)
    assert panel.gallery.currentRow() == 1  # on to the next suspect
    other = next(c for c in review.classes if c != flagged[1]["given"])
    panel.relabel_combo.setCurrentText(other)
    qtbot.mouseClick(panel.relabel_button, Qt.MouseButton.LeftButton)
    assert _rows(panel.corrections_path) == {first: "exclude", second: other}
    assert "excluded" in panel.gallery.item(0).text() and f"now {other}" in panel.gallery.item(1).text()

    # keys: X on the third, then back up and K keeps the first after all
    panel.gallery.setFocus()
    qtbot.keyClick(panel.gallery, Qt.Key.Key_X)
    assert _rows(panel.corrections_path)[third] == "exclude"
    panel.gallery.setCurrentRow(0)
    qtbot.keyClick(panel.gallery, Qt.Key.Key_K)
    assert first not in _rows(panel.corrections_path)
    panel.gallery.setCurrentRow(3)
    qtbot.keyClick(panel.gallery, Qt.Key.Key_R)  # relabel as the suggested class
    assert _rows(panel.corrections_path)[flagged[3]["path"]] == flagged[3]["suggested"]
    assert str(panel.corrections_path).startswith(str(tmp_path.parent))  # the test's user folders (TLGUI_HOME)

    panel.export_to(str(tmp_path / "mine.csv"))
    assert _rows(tmp_path / "mine.csv") == _rows(panel.corrections_path)
    assert panel.retrain_button.isEnabled()
    with qtbot.waitSignal(panel.retrain_requested) as retrain:
        qtbot.mouseClick(panel.retrain_button, Qt.MouseButton.LeftButton)
    assert retrain.args == [review.data, str(panel.corrections_path)]

    panel.grab().save("/tmp/label_review.png")
    heat_icon = panel.gallery.item(4).icon().pixmap(120, 120).toImage()
    qtbot.mouseClick(panel.heatmap_box, Qt.MouseButton.LeftButton)
    assert not panel.heatmap_box.isChecked()
    assert panel.gallery.item(4).icon().pixmap(120, 120).toImage() != heat_icon  # the plain picture now

    # untick Flagged only: the top of the whole ranking, flagged ones marked, decisions kept
    qtbot.mouseClick(panel.flagged_box, Qt.MouseButton.LeftButton)
    assert panel.gallery.count() == len(review.suspects) > len(flagged)
    assert "of the 89 images" in panel.status.text()
    texts = [panel.gallery.item(row).text() for row in range(panel.gallery.count())]
    assert sum(text.startswith("⚑") for text in texts) == len(flagged)
    row = [s["path"] for s in review.suspects].index(second)
    assert f"now {other}" in texts[row] and not panel.gallery.item(row).icon().isNull()


def test_a_confusion_cell_shows_only_its_suspects_and_show_all_brings_back_the_rest(qtbot, panel, monkeypatch,
                                                                                  tmp_path):
    import numpy as np

    from tlgui.ui.pages.label_review import panel as review_module
    from tlgui.ui.pages.label_review.jobs import ReviewData

    suspects = [{"path": f"{tmp_path}/img{i}.png", "given": given, "suggested": suggested, "confidence": 0.9 - i / 10}
                for i, (given, suggested)
                in enumerate([("cat", "dog"), ("dog", "cat"), ("cat", "dog"), ("cat", "fox")])]
    fake = ReviewData(str(tmp_path / "run"), str(tmp_path / "data"), ["cat", "dog", "fox"], suspects, "test method",
                      plain={s["path"]: np.zeros((8, 8, 3), np.uint8) for s in suspects})
    checks = []
    monkeypatch.setattr(review_module, "check_run", lambda run_dir, folds, job: checks.append(run_dir) or fake)
    panel.set_run(str(tmp_path / "run"), focus=("cat", "dog"))
    qtbot.waitUntil(lambda: panel.review is fake, timeout=20000)
    assert panel.gallery.count() == 2 and panel.show_all_button.isVisible()
    assert "labelled <b>cat</b> that look like <b>dog</b>" in panel.header.text()
    # a decision on the second tile is about the second suspect *of the cell* (img2), not of the list
    _click_tile(qtbot, panel, 1)
    qtbot.keyClick(panel.gallery, Qt.Key.Key_X)
    assert panel.decisions == {suspects[2]["path"]: "exclude"}
    assert "excluded" in panel.gallery.item(1).text()
    if os.environ.get("TLGUI_SCREENSHOTS"):
        panel.grab().save(os.path.join(os.environ["TLGUI_SCREENSHOTS"], "review_cell.png"))
    qtbot.mouseClick(panel.show_all_button, Qt.MouseButton.LeftButton)
    assert panel.gallery.count() == 4 and not panel.show_all_button.isVisible()
    assert "excluded" in panel.gallery.item(2).text()
    # another cell of the same run: the check is not made again, only the filter changes
    panel.set_run(str(tmp_path / "run"), focus=("fox", "cat"))
    assert checks == [str(tmp_path / "run")]
    assert panel.gallery.count() == 0 and "None of the 4 suspects is labelled fox" in panel.gallery.placeholder
