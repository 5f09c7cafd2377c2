"""Labels given earlier come back with the folder: the counts, and the accuracy curve with its
uncertainty: the estimates the page showed (kept beside the labels file), else the random picks'
suggestions (made before each was labelled)."""

from __future__ import annotations

from tests.ui.pages.label.conftest import open_and_wait


def test_earlier_labels_give_the_counts_and_the_curve(qtbot, page, demo_folder):
    from tlgui.core.workflows.label_store import LabelStore

    folder, truth = demo_folder
    store = LabelStore.for_folder(folder)
    store.set_classes(["star", "arrow", "crescent"])
    paths = sorted(truth)[:8]
    # random picks: the suggestion right for 6 of 8
    store.add_many([(p, truth[p], truth[p] if i < 6 else "arrow" if truth[p] != "arrow" else "star", 0.7, "random")
                    for i, p in enumerate(paths)])
    open_and_wait(qtbot, page, folder)
    view = page.progress_view
    assert view.count_label.text() == f"Labelled 8 of {len(truth)}"
    counts = {c: sum(1 for p in paths if truth[p] == c) for c in ("star", "arrow", "crescent")}
    assert view.per_class_label.text() == "   ".join(f"{c}: {n}" for c, n in counts.items())
    assert [b.text() for b in page.class_buttons.buttons][0] == f"1  star  ·  {counts['star']}"
    qtbot.waitUntil(lambda: view.curve.getData()[0] is not None and len(view.curve.getData()[0]) > 0, timeout=20000)
    x, y = view.curve.getData()
    shown = view.estimate_label.text()  # the curve's last point is the estimate the page says
    assert x[-1] == 8 and shown.startswith(f"Estimated accuracy {y[-1]:.0f} %"), (x, y, shown)
    low, high = view._low.getData()[1][-1], view._high.getData()[1][-1]
    assert low <= y[-1] <= high  # the uncertainty band around it
    assert not view.empty_text.isVisible()
    page.wait_idle()
    from tlgui.ui.pages.label.estimate_log import read_points

    kept = read_points(page.opened.csv_path)  # kept for the next time the folder opens
    assert kept[-1][0] == 8 and abs(100 * kept[-1][1].accuracy - y[-1]) < 1e-6
    assert "How:" in view.estimate_label.toolTip()
    assert page.train_button.isEnabled()
    page.wait_idle()


def test_without_the_pages_estimates_the_curve_comes_from_the_random_picks(tmp_path):
    from tlgui.core.workflows.label_store import LabelStore
    from tlgui.ui.pages.label import jobs

    folder = tmp_path / "scans"
    folder.mkdir()
    paths = []
    for i in range(8):
        (folder / f"{i}.png").write_bytes(b"")
        paths.append(str(folder / f"{i}.png"))
    store = LabelStore.for_folder(folder)
    store.set_classes(["a", "b"])
    store.add_many([(p, "a", "a" if i < 6 else "b", 0.7, "random") for i, p in enumerate(paths)])  # 6 of 8 right
    points = jobs.history(str(store.csv_path), None)
    assert points[-1][0] == 8 and abs(points[-1][1].accuracy - 0.75) < 1e-6
