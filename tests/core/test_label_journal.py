"""The window's journal of labels in flight: one line on disk per label or undo before the labels
file is rewritten in the background, replayed into the labels file when the folder opens again
(a window killed mid-write loses no label; issue 26, kill -9 while labelling)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tlgui.core.workflows.label_journal import LABEL, UNDO, append, journal_path, pending, replay
from tlgui.core.workflows.label_store import LabelStore

ROOT = Path(__file__).resolve().parents[2]


def _folder(tmp_path, n=4) -> tuple[Path, list[str]]:
    folder = tmp_path / "scans"
    folder.mkdir()
    paths = []
    for i in range(n):
        (folder / f"{i}.png").write_bytes(b"x")
        paths.append(str(folder / f"{i}.png"))
    return folder, paths


def test_a_label_only_in_the_journal_is_replayed_into_the_labels_file(tmp_path):
    folder, paths = _folder(tmp_path)
    store = LabelStore(tmp_path / "labels.csv", folder)
    store.set_classes(["a", "b"])
    store.add(paths[0], "a")
    append(store.csv_path, LABEL, paths[0], "a")  # already written: replay changes nothing for it
    append(store.csv_path, LABEL, paths[1], "b", "a", 0.61, "margin")  # the window died before writing this
    assert replay(store) == 1
    rows = {r["path"]: r for r in store.rows()}
    assert (rows[paths[1]]["label"] == "b" and rows[paths[1]]["suggested"] == "a"
            and rows[paths[1]]["picked"] == "margin")
    assert not journal_path(store.csv_path).exists()
    assert replay(store) == 0


def test_an_undo_takes_away_only_the_label_it_undid(tmp_path):
    folder, paths = _folder(tmp_path)
    store = LabelStore(tmp_path / "labels.csv", folder)
    store.add_many([(paths[0], "a"), (paths[1], "b")])
    append(store.csv_path, UNDO, paths[0], "a")  # undone here, not yet written
    append(store.csv_path, UNDO, paths[1], "a")  # another window relabelled it b since: kept
    append(store.csv_path, LABEL, paths[2], "a")
    append(store.csv_path, UNDO, paths[2], "a")  # labelled then undone: nothing to write
    assert replay(store) == 1
    assert store.labels() == {paths[1]: "b"}


def test_a_line_torn_by_a_crash_is_left_out(tmp_path):
    folder, paths = _folder(tmp_path)
    store = LabelStore(tmp_path / "labels.csv", folder)
    append(store.csv_path, LABEL, paths[0], "a")
    with open(journal_path(store.csv_path), "a", encoding="utf-8") as handle:
        handle.write(f"label,{paths[1]}")  # the process died mid-line
    assert set(pending(store.csv_path)) == {paths[0]}
    replay(store)
    assert store.labels() == {paths[0]: "a"}


def test_a_process_killed_right_after_the_journal_line_loses_nothing(tmp_path):
    folder, paths = _folder(tmp_path)
    csv_path = tmp_path / "labels.csv"
    code = ("import os, sys\n"
            "from tlgui.core.workflows.label_journal import append\n"
            f"append({str(csv_path)!r}, 'label', {paths[3]!r}, 'b', None, None, 'typical')\n"
            "os._exit(9)  # as kill -9: the background rewrite of the labels file never happens\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, timeout=120, check=False)
    assert done.returncode == 9, done.stderr
    store = LabelStore(csv_path, folder)
    assert store.labels() == {}
    replay(store)  # the next opening of the folder
    assert store.labels() == {paths[3]: "b"}
