"""Dataset health check: every bad and odd case, the CLI, the cache, train/val overlap."""

from __future__ import annotations

import json
import os
import threading

import pytest

from tests.core import corpus
from tlgui.cli import main
from tlgui.core.base.errors import DataError
from tlgui.core.data import scan as scan
from tlgui.core.data import sources as sources
from tlgui.core.data.catalog import open_source
from tlgui.core.data.scan import known_bad_paths, scan_folder, scan_pair


@pytest.fixture
def messy(tmp_path):
    root = tmp_path / "messy"
    f = corpus.odd_folder(root)  # cats: 4 usable, dogs: 4 usable + fake + truncated
    f["bomb"] = corpus.bomb_png(root / "dogs" / "bomb.png")
    f["tiny"] = corpus.rgb(root / "cats" / "tiny.png", (8, 12))
    f["dup_same"] = corpus.copy(f["cat_rgb"], root / "cats" / "rgb copy.png")
    f["dup_cross"] = corpus.copy(f["cat_l"], root / "dogs" / "looks like a dog.png")
    (root / "birds").mkdir()
    return root, f


def test_scan_reports_every_case(messy):
    root, f = messy
    report = scan_folder(root)
    assert report.classes == ["cats", "dogs"]
    assert report.counts == {"cats": 6, "dogs": 5}
    reasons = {b["path"]: b["reason"] for b in report.bad}
    # tlgui's own pixel limit, checked from the header before decoding (PIL's is off)
    assert reasons.pop(str(f["bomb"])).startswith("image too large: 100000x100000 (10000 MP)")
    assert reasons == {
        str(f["zero"]): "empty file (0 bytes)",
        str(f["fake"]): "not an image",
        str(f["truncated"]): "truncated or corrupt image data",
    }
    assert report.duplicates == sorted(
        [
            sorted([str(f["cat_rgb"]), str(f["dup_same"])]),
            sorted([str(f["cat_l"]), str(f["dup_cross"])]),
        ]
    )
    assert report.tiny == [{"path": str(f["tiny"]), "width": 8, "height": 12}]
    assert report.empty_classes == ["birds", "empty"]
    # .DS_Store, notes.txt, Thumbs.db, empty/readme.txt, .hidden/ and cats/.cache/
    assert report.ignored == 6
    assert report.modes == {"1": 1, "CMYK": 1, "I;16": 1, "L": 2, "P": 1, "RGB": 4, "RGBA": 1}
    assert report.files == 15 and report.usable == 11 and not report.from_cache
    assert any("more than one class" in w for w in report.warnings)
    assert report.imbalance is None
    assert not any(".hidden" in p or ".cache" in p for p in report.hashes)


def test_pixel_limit_is_tlguis_own_and_no_warning_filter_is_touched(tmp_path, monkeypatch):
    import warnings

    from tlgui.core.data import sources

    monkeypatch.setattr(sources, "MAX_DECODED_PIXELS", 1000)
    big = corpus.gray(tmp_path / "a" / "big.png", (40, 40))  # 1600 px: over the limit
    corpus.gray(tmp_path / "a" / "fits.png", (30, 30))  # 900 px
    corpus.gray(tmp_path / "b" / "ok.png", (10, 10))
    changed = []
    for name in ("simplefilter", "filterwarnings", "resetwarnings"):
        original = getattr(warnings, name)
        monkeypatch.setattr(warnings, name, lambda *a, _f=original, _n=name, **k: (changed.append(_n), _f(*a, **k))[1])
    report = scan_folder(tmp_path)
    # the scan runs in background threads: process-wide warning filters are not its to change
    assert changed == []
    assert report.bad == [{"path": str(big), "reason": report.bad[0]["reason"]}]
    assert report.bad[0]["reason"].startswith("image too large: 40x40")
    assert report.counts == {"a": 1, "b": 1}


def test_imbalance_and_single_class(tmp_path):
    for i in range(7):
        corpus.gray(tmp_path / "lots" / f"{i}.png", (16, 16))
    corpus.gray(tmp_path / "one" / "0.png", (16, 16))
    report = scan_folder(tmp_path)
    assert report.imbalance and "'lots'" in report.imbalance
    (tmp_path / "one" / "0.png").unlink()
    report = scan_folder(tmp_path)
    assert report.classes == ["lots"] and any("only one class" in w for w in report.warnings)


def test_missing_folder_is_an_error(tmp_path):
    with pytest.raises(DataError, match="not found"):
        scan_folder(tmp_path / "nope")


def test_cli_json(messy, capsys):
    root, f = messy
    assert main(["scan", str(root), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert {"classes", "counts", "bad", "duplicates", "tiny", "empty_classes", "ignored"} <= set(
        out
    )
    assert out["classes"] == ["cats", "dogs"] and out["counts"] == {"cats": 6, "dogs": 5}
    assert len(out["bad"]) == 4 and len(out["duplicates"]) == 2
    assert "hashes" not in out


def test_cli_report_and_errors(messy, tmp_path, capsys):
    root, f = messy
    assert main(["scan", str(root), "--limit", "2"]) == 0
    text = capsys.readouterr().out
    assert (
        "Unreadable files (4" in text
        and "empty file (0 bytes)" in text
        and "... and 2 more" in text
    )
    assert "Duplicates (2 group" in text and "Tiny images (1" in text
    assert main(["scan", str(tmp_path / "missing")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("tlgui: error:") and "missing" in err and "\n" not in err
    assert main(["scan", str(f["cat_l"])]) == 2
    assert "not a folder" in capsys.readouterr().err


def test_second_scan_comes_from_cache(messy, monkeypatch):
    root, f = messy
    first = scan_folder(root)
    cache_files = list((scan.paths.cache_dir() / "scans").glob("*.json"))
    assert len(cache_files) == 1

    def must_not_decode(*args):
        raise AssertionError("an unchanged folder was decoded again")

    with monkeypatch.context() as patch:
        patch.setattr(scan, "_inspect", must_not_decode)
        second = scan_folder(root)
    assert second.from_cache and second.counts == first.counts and second.bad == first.bad
    assert second.duplicates == first.duplicates
    corpus.rgb(root / "cats" / "new.png")
    third = scan_folder(root)
    assert not third.from_cache and third.counts["cats"] == 7
    assert not scan_folder(root, use_cache=False).from_cache


def test_training_skips_cached_bad_files_unopened(messy, monkeypatch):
    root, f = messy
    assert known_bad_paths(root) == set()
    scan_folder(root)
    bad = {str(f[k]) for k in ("zero", "fake", "truncated", "bomb")}
    assert known_bad_paths(root) == bad

    def must_not_open(*args):
        raise AssertionError("a scanned, unchanged folder was re-checked")

    with monkeypatch.context() as patch:
        patch.setattr(sources, "header_problem", must_not_open)
        images = open_source(str(root))
    assert {p for p, _ in images.skipped} == bad  # the truncated PNG too, found by the scan
    assert images.counts() == {"cats": 6, "dogs": 5}
    # touching one bad file drops it from the known-bad set; the others stay known
    os.utime(f["fake"], ns=(1, 1))
    assert known_bad_paths(root) == bad - {str(f["fake"])}
    images = open_source(str(root))
    assert {p for p, _ in images.skipped} == bad
    assert known_bad_paths(root / "nowhere") == set()


def test_progress_and_stop(tmp_path):
    for i in range(30):
        corpus.gray(tmp_path / "a" / f"{i}.png", (8, 8))
        corpus.gray(tmp_path / "b" / f"{i}.png", (8, 8))
    calls = []
    stop = threading.Event()
    stop.set()
    stopped = scan_folder(tmp_path, progress=lambda d, n: calls.append((d, n)), should_stop=stop)
    assert stopped.stopped and stopped.files == 0
    assert not list((scan.paths.cache_dir() / "scans").glob("*.json"))  # partial: not cached
    report = scan_folder(tmp_path, progress=lambda d, n: calls.append((d, n)))
    assert 1 <= len(calls) <= 21 and calls[-1] == (60, 60) and report.usable == 60


def test_scan_pair_finds_leaks(tmp_path, capsys):
    train, val = tmp_path / "train", tmp_path / "val"
    leaked = corpus.rgb(train / "a" / "1.png")
    corpus.rgb(train / "a" / "2.png")
    corpus.rgb(train / "b" / "3.png")
    copy = corpus.copy(leaked, val / "b" / "same.png")
    corpus.rgb(val / "a" / "4.png")
    corpus.zero_bytes(val / "a" / "z.png")
    corpus.zero_bytes(train / "b" / "z.png")
    pair = scan_pair(train, val)
    assert pair.cross_duplicates == [{"train": [str(leaked)], "val": [str(copy)]}]
    assert pair.warnings and "1 validation image" in pair.warnings[0]
    assert pair.train.counts == {"a": 2, "b": 1} and pair.val.counts == {"a": 1, "b": 1}
    # a folder holding train/ and val/ is scanned as a pair by the CLI
    assert main(["scan", str(tmp_path), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["cross_duplicates"] == [{"train": [str(leaked)], "val": [str(copy)]}]
    assert main(["scan", str(train), "--val", str(val)]) == 0
    assert "also appear in the training folder" in capsys.readouterr().out
