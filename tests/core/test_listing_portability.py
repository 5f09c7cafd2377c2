"""Listing an image folder as Windows and macOS users' folders arrive: class names in NFC, class
folders that differ only in case, extensions in any case, hidden and system entries; and the same
listing on a real case-folding file system where the machine allows one."""

from __future__ import annotations

import os
import shutil
import subprocess
import unicodedata
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tlgui.cli import main
from tlgui.core.data.catalog import open_source
from tlgui.core.data.scan import scan_folder
from tlgui.core.data.sources import list_folder

CAFE_NFC = unicodedata.normalize("NFC", "café")
CAFE_NFD = unicodedata.normalize("NFD", "café")


def png(path: Path, seed: int = 0, suffix: str = ".png", fmt: str = "PNG") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    pixels = np.random.default_rng(seed).integers(0, 256, (8, 8, 3), dtype=np.uint8)
    target = path.with_suffix(suffix)
    Image.fromarray(pixels).save(target, format=fmt)
    return target


def test_a_decomposed_class_folder_name_is_its_composed_class(tmp_path):
    assert CAFE_NFC != CAFE_NFD
    first = png(tmp_path / "data" / CAFE_NFD / "a")
    png(tmp_path / "data" / CAFE_NFD / "b", 1)
    png(tmp_path / "data" / "tea" / "c", 2)
    png(tmp_path / "data" / "tea" / "d", 3)
    images = open_source(str(tmp_path / "data"))
    assert images.classes == [CAFE_NFC, "tea"] and images.warnings == []
    assert images.paths[0] == str(first)  # the file itself keeps its name on disk, so it opens
    assert images.load(0).size == (8, 8)
    report = scan_folder(tmp_path / "data")
    assert report.counts == {CAFE_NFC: 2, "tea": 2} and report.bad == []


def test_the_same_name_in_two_unicode_forms_is_one_class_with_a_warning(tmp_path):
    png(tmp_path / "data" / CAFE_NFD / "a")
    png(tmp_path / "data" / CAFE_NFC / "b", 1)
    png(tmp_path / "data" / "tea" / "c", 2)
    if len(os.listdir(tmp_path / "data")) < 3:
        pytest.skip("this file system stores one form of a name (it normalises Unicode), so both cannot exist")
    images = open_source(str(tmp_path / "data"))
    assert images.counts() == {CAFE_NFC: 2, "tea": 1}
    assert any(f"2 class folders are named {CAFE_NFC!r}" in w and "read as one class" in w for w in images.warnings)


def test_class_folders_that_differ_only_in_case_are_named_in_a_warning(tmp_path, capsys):
    for i, name in enumerate(("Cat", "cat", "dog")):
        png(tmp_path / "data" / name / "a", i)
        png(tmp_path / "data" / name / "b", i + 10)
    if len(os.listdir(tmp_path / "data")) < 3:
        pytest.skip("this file system folds case, so Cat and cat cannot both exist")
    images = open_source(str(tmp_path / "data"))
    assert images.classes == ["Cat", "cat", "dog"]  # kept apart, as they are on this system
    warning = "class folders 'Cat' and 'cat' differ only in case: they are one folder on Windows and macOS"
    assert [w for w in images.warnings if warning in w] and len(images.warnings) == 1
    assert any(warning in w for w in scan_folder(tmp_path / "data").warnings)
    assert main(["scan", str(tmp_path / "data")]) == 0
    assert f"! {warning}" in capsys.readouterr().out


def test_extensions_in_any_case_are_listed_once(tmp_path):
    png(tmp_path / "data" / "a" / "one", suffix=".JPG", fmt="JPEG")
    png(tmp_path / "data" / "a" / "two", 1, suffix=".jpg", fmt="JPEG")
    png(tmp_path / "data" / "a" / "three", 2, suffix=".Jpeg", fmt="JPEG")
    png(tmp_path / "data" / "b" / "four", 3, suffix=".PNG")
    png(tmp_path / "data" / "b" / "five", 4, suffix=".TiF", fmt="TIFF")
    listing = list_folder(tmp_path / "data")
    names = {c: [Path(p).name for p, _, _ in files] for c, files in listing.classes.items()}
    assert names == {"a": ["one.JPG", "three.Jpeg", "two.jpg"], "b": ["five.TiF", "four.PNG"]}
    assert open_source(str(tmp_path / "data")).counts() == {"a": 3, "b": 2}


def test_hidden_and_system_entries_are_never_images_or_classes(tmp_path):
    root = tmp_path / "data"
    for seed, cls in enumerate(("a", "b")):
        png(root / cls / "real", seed)
        png(root / cls / "._real")  # macOS's AppleDouble file beside it, with an image extension
        (root / cls / ".DS_Store").write_bytes(b"\0\0\0\1Bud1")
        (root / cls / "Thumbs.db").write_bytes(b"\xd0\xcf\x11\xe0")
        (root / cls / "desktop.ini").write_text("[.ShellClassInfo]\n", encoding="utf-8")
    for folder in ("__MACOSX", ".Trashes", "$RECYCLE.BIN", "System Volume Information", ".thumbnails"):
        png(root / folder / "a" / "x")
    (root / ".DS_Store").write_bytes(b"\0")
    png(root / "a" / ".hidden" / "y")
    images = open_source(str(root))
    assert images.classes == ["a", "b"] and images.counts() == {"a": 1, "b": 1}
    assert images.skipped == [] and images.warnings == []
    report = scan_folder(root)
    assert report.classes == ["a", "b"] and report.files == 2 and report.bad == []
    assert report.ignored == 6 + 2 * 4 + 1 and report.warnings == []  # 5 folders and a file at the top, 4 per class, 1


def _casefold_mount(tmp_path: Path) -> Path:
    """A folder with case folding on (ext4 ``-O casefold``, ``chattr +F``) on a loop-mounted image,
    or pytest.skip saying why the machine does not allow it."""
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        pytest.skip("a case-folding file system needs root here (to loop-mount an ext4 image)")
    tools = [shutil.which(t) for t in ("mkfs.ext4", "mount", "umount", "chattr")]
    if not all(tools):
        pytest.skip("mkfs.ext4, mount, umount or chattr is missing")
    image, mount = tmp_path / "casefold.img", tmp_path / "mnt"
    mount.mkdir()
    with open(image, "wb") as handle:
        handle.truncate(16 * 1024 * 1024)
    steps = [[tools[0], "-q", "-F", "-O", "casefold", str(image)], [tools[1], "-o", "loop", str(image), str(mount)]]
    for step in steps:
        done = subprocess.run(step, capture_output=True, text=True, timeout=60)
        if done.returncode != 0:
            reason = (done.stderr or done.stdout).strip().splitlines()
            pytest.skip(f"{Path(step[0]).name} failed: {reason[0] if reason else done.returncode}")
    return mount


def test_a_real_case_folding_file_system(tmp_path):
    mount = _casefold_mount(tmp_path)
    try:
        folded = mount / "data"
        folded.mkdir()
        done = subprocess.run([shutil.which("chattr"), "+F", str(folded)], capture_output=True, text=True, timeout=60)
        if done.returncode != 0:
            pytest.skip(f"chattr +F failed: {done.stderr.strip()}")
        png(folded / "Cat" / "one", suffix=".JPG", fmt="JPEG")
        png(folded / "Cat" / "two", 1, suffix=".jpg", fmt="JPEG")
        png(folded / "dog" / "three", 2)
        assert (folded / "CAT" / "ONE.jpg").exists()  # case folding is on
        with pytest.raises(FileExistsError):
            (folded / "cat").mkdir()
        images = open_source(str(folded))
        assert images.classes == ["Cat", "dog"] and images.counts() == {"Cat": 2, "dog": 1}
        assert images.warnings == [] and scan_folder(folded).counts == {"Cat": 2, "dog": 1}
    finally:
        subprocess.run([shutil.which("umount"), str(mount)], capture_output=True, timeout=60)
