"""The labels file of an unlabelled folder (issue 26): atomic, merged, kill-safe, and its bad lines;
exporting into class folders; the folder listing."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from tlgui.core.base import files
from tlgui.core.base.errors import DataError
from tlgui.core.data.kinds import unlabelled_folder as unlabelled
from tlgui.core.workflows import label_export
from tlgui.core.workflows.label_store import COLUMNS, LabelStore, folder_key
from tlgui.core.workflows.labelling import export_labels


@pytest.fixture
def folder(tmp_path):
    root = tmp_path / "images"
    (root / "a" / "deep").mkdir(parents=True)
    for i in range(6):
        (root / ("a/deep" if i % 2 else "a") / f"img{i}.png").write_bytes(b"x" * (i + 1))
    (root / ".hidden.png").write_bytes(b"x")
    (root / "notes.txt").write_text("not an image", encoding="utf-8")
    return root


def _paths(root: Path) -> list[str]:
    return sorted(str(p) for p in root.rglob("img*.png"))


def test_the_folder_is_listed_at_any_depth_without_hidden_or_other_files(folder):
    listing = unlabelled.list_images(folder)
    assert listing.paths == _paths(folder)
    assert listing.ignored == 2
    assert unlabelled.matches(f"unlabelled:{folder}") and not unlabelled.matches(str(folder))
    images = unlabelled.open(f"unlabelled:{folder}")
    assert images.paths == _paths(folder) and images.classes == ["unlabelled"]
    assert "6 unlabelled image(s)" in unlabelled.describe(str(folder))
    before = listing.fingerprint()
    Path(_paths(folder)[0]).write_bytes(b"changed!")
    assert unlabelled.list_images(folder).fingerprint() != before


def test_the_default_store_lives_in_the_data_folder_with_its_classes(folder, _tlgui_home):
    store = LabelStore.for_folder(folder)
    assert store.csv_path == _tlgui_home / "data" / "labels" / f"{folder_key(folder)}.csv"
    store.set_classes(["cat", "dog", "cat", " "])
    store.add(_paths(folder)[0], "dog", suggested="cat", confidence=0.61234, picked="random")
    assert json.loads(store.classes_path.read_text(encoding="utf-8")) == {"folder": str(folder),
                                                                         "classes": ["cat", "dog"]}
    header = store.csv_path.read_text(encoding="utf-8").splitlines()[0]
    assert header == ",".join(COLUMNS)
    assert store.rows() == [{"path": _paths(folder)[0], "label": "dog", "suggested": "cat", "confidence": 0.6123,
                             "picked": "random"}]
    store.rename_class("dog", "puppy")
    assert store.classes() == ["cat", "puppy"] and store.labels() == {_paths(folder)[0]: "puppy"}
    store.remove(_paths(folder)[0])
    assert store.labels() == {} and store.classes() == ["cat", "puppy"]  # classes without labels survive


def test_a_label_outside_the_folder_is_refused_when_given(folder, tmp_path):
    store = LabelStore(tmp_path / "labels.csv", folder)
    with pytest.raises(DataError, match="not inside the folder"):
        store.add(tmp_path / "elsewhere.png", "cat")
    with pytest.raises(DataError, match="unknown way of picking"):
        store.add(_paths(folder)[0], "cat", picked="guess")


def test_bad_lines_of_a_labels_file_are_one_line_each_and_the_rest_is_used(folder, tmp_path):
    paths = _paths(folder)
    csv_path = tmp_path / "labels.csv"
    (tmp_path / "labels.classes.json").write_text(json.dumps({"folder": str(folder), "classes": ["cat", "dog"]}),
                                                  encoding="utf-8")
    csv_path.write_text("path,label\n"
                        f"{paths[0]},cat\n"
                        f"{tmp_path / 'other' / 'x.png'},dog\n"
                        f"{paths[1]},zebra\n"
                        f"{paths[2]},\n"
                        f"{paths[3]},dog\n", encoding="utf-8")
    store = LabelStore(csv_path)  # the folder comes from the classes json
    assert store.labels() == {paths[0]: "cat", paths[3]: "dog"}
    problems = store.problems()
    assert len(problems) == 3
    assert "line 3" in problems[0] and "is not inside" in problems[0]
    assert "line 4" in problems[1] and "'zebra' is not one of cat, dog" in problems[1]
    assert "line 5" in problems[2] and "missing path or label" in problems[2]


def test_a_file_without_a_path_and_label_header_is_one_clear_error(tmp_path):
    bad = tmp_path / "labels.csv"
    bad.write_text("file,class\na.png,cat\n", encoding="utf-8")
    with pytest.raises(DataError, match="needs a header with columns 'path' and 'label'"):
        LabelStore(bad).labels()


def test_a_crash_mid_write_leaves_the_old_file_whole(folder, tmp_path, monkeypatch):
    store = LabelStore(tmp_path / "labels.csv", folder)
    paths = _paths(folder)
    store.add(paths[0], "cat")
    before = store.csv_path.read_bytes()

    def crash(*args):
        raise KeyboardInterrupt  # the process dies between writing the temp file and publishing it

    monkeypatch.setattr(files, "_publish", crash)
    with pytest.raises(KeyboardInterrupt):
        store.add(paths[1], "dog")
    assert store.csv_path.read_bytes() == before
    # no temp, no lock
    assert sorted(p.name for p in tmp_path.iterdir()) == ["images", "labels.classes.json", "labels.csv"]
    monkeypatch.undo()
    store.add(paths[1], "dog")  # the lock was released: the next label goes in
    assert store.labels() == {paths[0]: "cat", paths[1]: "dog"}


def test_two_stores_on_the_same_file_lose_no_label(folder, tmp_path):
    paths = _paths(folder)
    one, two = LabelStore(tmp_path / "l.csv", folder), LabelStore(tmp_path / "l.csv", folder)
    one.add(paths[0], "cat")
    two.add(paths[1], "dog")
    one.add_many([(paths[2], "cat"), (paths[3], "bird")])
    two.add(paths[0], "dog")  # last writer wins per path
    assert one.labels() == two.labels() == {paths[0]: "dog", paths[1]: "dog", paths[2]: "cat", paths[3]: "bird"}
    assert one.classes() == ["cat", "dog", "bird"]


def test_two_writers_at_the_same_time_lose_no_label(tmp_path):
    root = tmp_path / "many"
    root.mkdir()
    paths = [str(root / f"{i}.png") for i in range(80)]

    def label(part):
        store = LabelStore(tmp_path / "l.csv", root)  # each "window" its own store
        for path in part:
            store.add(path, "even" if paths.index(path) % 2 == 0 else "odd")

    threads = [threading.Thread(target=label, args=(paths[k::2],)) for k in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(LabelStore(tmp_path / "l.csv", root).labels()) == 80


_WRITER = """
import sys
from tlgui.core.workflows.label_store import LabelStore
store = LabelStore(sys.argv[1], sys.argv[2])
for i in range(100000):
    store.add(f"{sys.argv[2]}/img{i}.png", "cat" if i % 2 else "dog")
    print(i, flush=True)
"""


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="kill -9 is POSIX")
def test_every_label_given_before_a_kill_9_is_in_the_file(tmp_path):
    root = tmp_path / "imgs"
    root.mkdir()
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[2]))
    child = subprocess.Popen([sys.executable, "-c", _WRITER, str(tmp_path / "l.csv"), str(root)],
                             stdout=subprocess.PIPE, text=True, env=env)
    done = [int(child.stdout.readline()) for _ in range(25)]  # 25 labels reported written
    child.send_signal(signal.SIGKILL)
    child.wait()
    child.stdout.close()
    labels = LabelStore(tmp_path / "l.csv", root).labels()  # parses: never half-written
    assert {str(root / f"img{i}.png") for i in done} <= set(labels)


def _labelled(folder, tmp_path) -> Path:
    paths = _paths(folder)
    store = LabelStore(tmp_path / "labels.csv", folder)
    store.add_many([(paths[0], "cat"), (paths[1], "cat"), (paths[2], "dog/wolf"), (paths[3], "dog/wolf")])
    return store.csv_path


def test_export_copies_into_one_folder_per_class_and_never_moves(folder, tmp_path):
    csv_path = _labelled(folder, tmp_path)
    result = export_labels(csv_path, tmp_path / "out")
    assert result["copied"] == 4 and result["linked"] == 0 and result["classes"] == {"cat": 2, "dog/wolf": 2}
    cat = sorted(p.name for p in (tmp_path / "out" / "cat").iterdir())
    assert cat == sorted(Path(p).name for p in _paths(folder)[:2])
    assert len(list((tmp_path / "out" / "dog_wolf").iterdir())) == 2  # a safe folder name
    assert all(Path(p).exists() for p in _paths(folder))  # the sources stay
    again = export_labels(csv_path, tmp_path / "out")
    assert again["copied"] == 0 and len(again["skipped"]) == 4 and "already exists" in again["skipped"][0][1]


def test_same_named_files_from_different_sub_folders_both_arrive(tmp_path):
    root = tmp_path / "imgs"
    for sub in ("p1", "p2"):
        (root / sub).mkdir(parents=True)
        (root / sub / "cell.png").write_bytes(sub.encode())
    store = LabelStore(tmp_path / "l.csv", root)
    store.add_many([(root / "p1" / "cell.png", "a"), (root / "p2" / "cell.png", "a")])
    export_labels(store.csv_path, tmp_path / "out")
    contents = sorted(p.read_bytes() for p in (tmp_path / "out" / "a").iterdir())
    assert contents == [b"p1", b"p2"]


@pytest.mark.skipif(sys.platform == "win32", reason="symbolic links need a privilege on Windows")
def test_export_links_where_allowed(folder, tmp_path):
    result = export_labels(_labelled(folder, tmp_path), tmp_path / "out", link=True)
    assert result["linked"] == 4 and result["copied"] == 0 and not result["notes"]
    first = tmp_path / "out" / "cat" / Path(_paths(folder)[0]).name
    assert first.is_symlink() and os.path.samefile(first, _paths(folder)[0])


def test_export_copies_where_links_are_refused_and_says_so(folder, tmp_path, monkeypatch):
    def refuse(*args, **kwargs):
        raise OSError(1314, "A required privilege is not held by the client")  # Windows without the privilege

    monkeypatch.setattr(label_export.os, "symlink", refuse)
    result = export_labels(_labelled(folder, tmp_path), tmp_path / "out", link=True)
    assert result["copied"] == 4 and result["linked"] == 0
    assert "copied instead" in result["notes"][0]
    assert not any(p.is_symlink() for p in (tmp_path / "out" / "cat").iterdir())


def test_cli_export(folder, tmp_path, capsys):
    from tlgui.cli import main

    assert main(["label", "export", "--labels", str(_labelled(folder, tmp_path)), "--to", str(tmp_path / "o"),
                 "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["copied"] == 4
    assert main(["label", "export", "--labels", str(tmp_path / "none.csv"), "--to", str(tmp_path / "o")]) == 2
    assert "labels file not found" in capsys.readouterr().err
