"""Dataset health check: decode every image of a class-per-folder tree once and report
unreadable files, duplicates, tiny images, empty classes and imbalance.

Results are cached under ``cache_dir()/scans/`` keyed by the folder and a fingerprint of
every file's (relative path, size, mtime) (scan_cache.py reads and writes it), so scanning an
unchanged folder again is instant, and :func:`known_bad_paths` lets training skip known-bad
files unopened. Other kinds of data (CSV lists, IDX files, ...) get :func:`report_of_set`:
what opening them found.
"""

from __future__ import annotations

import hashlib
import io
import os
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, TypedDict

from PIL import Image, ImageOps

from tlgui import paths  # noqa: F401 - the cache lives under paths.cache_dir() (tests reach it here)
from tlgui.core.base.cancel import StopFlag, stop_check
from tlgui.core.base.errors import DataError
from tlgui.core.base.pixels import as_raw_if_deep, is_array_file, read_any
from tlgui.core.data.folder_listing import FolderListing, list_folder
from tlgui.core.data.image_kind import ImageKind, kind_of
from tlgui.core.data.scan_cache import (
    TINY_PIXELS,
    cached_bad_files,
    folder_fingerprint,
    read_scan_cache,
    write_scan_cache,
)
from tlgui.core.data.sources import ImageSet, check_decoded_size, class_imbalance_warning, image_error_reason

_CHUNK = 128


Progress = Callable[[int, int], None]


class BadFile(TypedDict):
    path: str
    reason: str


class TinyImage(TypedDict):
    path: str
    width: int
    height: int


class PixelRow(TypedDict):
    """What one usable file's pixels are (the scan compares them across files)."""

    path: str
    channels: int
    dtype: str
    min: float
    max: float
    array: bool  # read as an array (TIFF stacks, .npy, 16-bit), not as an 8-bit picture


class CrossDuplicate(TypedDict):
    train: list[str]  # copies of one image in the training folder
    val: list[str]  # and in the validation folder


@dataclass
class ScanReport:
    folder: str
    classes: list[str]  # class folders with at least one usable image, sorted
    counts: dict[str, int]  # class -> usable images
    bad: list[BadFile]
    duplicates: list[list[str]]  # groups of usable files with identical bytes
    tiny: list[TinyImage]
    empty_classes: list[str]  # class folders without a usable image
    ignored: int  # hidden, system and non-image files
    imbalance: str | None
    modes: dict[str, int]  # PIL mode (or "uint16 x3" for arrays) -> usable images
    files: int  # image files examined
    warnings: list[str]
    seconds: float
    stopped: bool = False  # should_stop ended the scan early (nothing cached)
    from_cache: bool = False
    hashes: dict[str, str] = field(default_factory=dict, repr=False)  # path -> sha256
    pixels: list[PixelRow] = field(default_factory=list, repr=False)  # per usable file
    odd: list[BadFile] = field(default_factory=list)  # files unlike the rest: skipped by training
    summary: str = ""  # e.g. "4 channels, 16-bit (12-bit values), 600 images"

    @property
    def usable(self) -> int:
        return sum(self.counts.values())

    def to_json(self, hashes: bool = False) -> dict[str, Any]:
        raw = asdict(self)
        if not hashes:
            raw.pop("hashes")
        return raw

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> ScanReport:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in raw.items() if k in known})


@dataclass
class PairReport:
    train: ScanReport
    val: ScanReport
    cross_duplicates: list[CrossDuplicate]
    warnings: list[str]

    def to_json(self) -> dict[str, Any]:
        return {
            "train": self.train.to_json(),
            "val": self.val.to_json(),
            "cross_duplicates": self.cross_duplicates,
            "warnings": self.warnings,
        }


def scan_folder(
    path: str | os.PathLike,
    progress: Progress | None = None,
    should_stop: StopFlag = None,
    use_cache: bool = True,
) -> ScanReport:
    """Fully decode every image under ``path`` (one sub-folder per class) and report.

    DataError when the folder is missing or not a folder; everything else is reported.
    ``progress(done, total)`` is called at most ~20 times; ``should_stop`` (callable or
    threading.Event) ends the scan early with ``stopped=True``.
    """
    started = time.perf_counter()
    listing = list_folder(path)
    fingerprint = folder_fingerprint(listing)
    files = [(name, p, size) for name, entries in listing.classes.items() for p, size, _ in entries]
    if use_cache:
        cached = read_scan_cache(listing.root)
        if cached is not None and cached.get("fingerprint") == fingerprint:
            report = ScanReport.from_json(cached["report"])
            report.from_cache = True
            if progress:
                progress(len(files), len(files))
            return report
    stop = stop_check(should_stop)
    results: list[tuple[str, str, tuple]] = []
    step = max(1, -(-len(files) // 20))
    stopped = False
    workers = min(4, os.cpu_count() or 1)
    # No warnings filters here: they are process-wide and not thread-safe, and this runs in
    # background jobs. PIL's own bomb check is off (sources.py); _inspect applies tlgui's limit.
    with ThreadPoolExecutor(workers) as pool:
        for start in range(0, len(files), _CHUNK):
            if stop():
                stopped = True
                break
            chunk = files[start : start + _CHUNK]
            for (name, p, _), info in zip(
                chunk, pool.map(lambda f: _inspect(f[1], f[2]), chunk), strict=True
            ):
                results.append((name, p, info))
            done = start + len(chunk)
            if progress and (done // step > start // step or done == len(files)):
                progress(done, len(files))
    report = _build_report(listing, results, stopped, time.perf_counter() - started)
    if not stopped:
        write_scan_cache(listing, fingerprint, report.to_json(hashes=True))
    return report


def _inspect(path: str, size: int) -> tuple:
    """(reason or None, sha256, mode, width, height, (channels, dtype, min, max)) after a full
    decode of one file."""
    if size == 0:
        return "empty file (0 bytes)", "", "", 0, 0, None
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        return image_error_reason(exc), "", "", 0, 0, None
    if not data:
        return "empty file (0 bytes)", "", "", 0, 0, None
    digest = hashlib.sha256(data).hexdigest()
    if is_array_file(path) and not path.lower().endswith(".png"):  # 16-bit PNGs: PIL's I;16 below
        return _inspect_array(path, digest)
    try:
        image = Image.open(io.BytesIO(data))
        mode, (width, height) = image.mode, image.size
        check_decoded_size(image)  # tlgui's own pixel limit, from the header, before decoding
        image.load()
    except Exception as exc:  # noqa: BLE001 - PIL raises many types for bad data
        return image_error_reason(exc), digest, "", 0, 0, None
    if width < 1 or height < 1:
        return "image has no pixels", digest, mode, width, height, None
    try:
        ImageOps.exif_transpose(image)  # training applies it: a broken EXIF block must show here
    except Exception:  # noqa: BLE001
        return "corrupt EXIF orientation data", digest, mode, width, height, None
    channels, dtype, low, high, _notes, _size, _raw = kind_of(as_raw_if_deep(image))
    return None, digest, mode, width, height, (channels, dtype, low, high, False)


def _inspect_array(path: str, digest: str) -> tuple:
    try:
        raw = read_any(path)
    except Exception as exc:  # noqa: BLE001 - tifffile and numpy raise many types
        return image_error_reason(exc), digest, "", 0, 0, None
    channels, dtype, low, high, _notes, (width, height), _raw = kind_of(raw)
    if width < 1 or height < 1:
        return "image has no pixels", digest, "", width, height, None
    return None, digest, f"{dtype} x{channels}", width, height, (channels, dtype, low, high, True)


def _build_report(listing: FolderListing, results, stopped: bool, seconds: float) -> ScanReport:
    counts: dict[str, int] = {name: 0 for name in listing.classes}
    bad: list[BadFile] = []
    tiny: list[TinyImage] = []
    hashes: dict[str, str] = {}
    modes: defaultdict[str, int] = defaultdict(int)
    pixel_rows: list[PixelRow] = []
    by_hash: dict[str, list[str]] = defaultdict(list)
    class_of: dict[str, str] = {}
    for name, path, (reason, digest, mode, width, height, values) in results:
        if values is not None and reason is None:
            pixel_rows.append({"path": path, "channels": values[0], "dtype": values[1], "min": values[2],
                               "max": values[3], "array": bool(values[4])})
        if digest:
            hashes[path] = digest
        if reason is not None:
            bad.append({"path": path, "reason": reason})
            continue
        counts[name] += 1
        modes[mode] += 1
        by_hash[digest].append(path)
        class_of[path] = name
        if width < TINY_PIXELS or height < TINY_PIXELS:
            tiny.append({"path": path, "width": width, "height": height})
    classes = [name for name, n in counts.items() if n > 0]
    empty = [name for name, n in counts.items() if n == 0]
    counts = {name: counts[name] for name in classes}
    duplicates = sorted(sorted(group) for group in by_hash.values() if len(group) > 1)
    imbalance = class_imbalance_warning(counts)
    notes = list(listing.warnings)
    if not classes:
        notes.append(f"{listing.root} holds no class sub-folders with readable images")
    elif len(classes) == 1:
        notes.append(f"only one class has readable images ({classes[0]!r}); training needs two")
    if empty:
        notes.append(
            "class folders without readable images (ignored by training): " + ", ".join(empty)
        )
    if listing.stray_images:
        notes.append(
            f"{listing.stray_images} image file(s) directly in {listing.root} belong to no class and are ignored"
        )
    mixed = [g for g in duplicates if len({class_of[p] for p in g}) > 1]
    if mixed:
        notes.append(
            f"{len(mixed)} image(s) appear in more than one class (same content, different labels)"
        )
    if imbalance:
        notes.append(imbalance)
    odd, summary = describe_pixels(pixel_rows, sum(counts.values()))
    if odd:
        notes.append(f"{len(odd)} file(s) differ from the rest in channels or bit depth and will be skipped, "
                     f"e.g. {odd[0]['path']} ({odd[0]['reason']})")
    return ScanReport(
        folder=str(listing.root), classes=classes, counts=counts, bad=bad, duplicates=duplicates,
        tiny=tiny, empty_classes=empty, ignored=listing.ignored, imbalance=imbalance,
        modes=dict(sorted(modes.items())), files=len(results), warnings=notes,
        seconds=round(seconds, 3), stopped=stopped, hashes=hashes, pixels=pixel_rows, odd=odd, summary=summary,
    )  # fmt: skip


def describe_pixels(rows: list[PixelRow], images: int) -> tuple[list[BadFile], str]:
    """Files whose channel count or dtype differ from the most common ones, and a summary of
    the rest ("4 channels, 16-bit (12-bit values), 600 images"). Only for data read as arrays
    (TIFF stacks, .npy): 8-bit pictures in gray and colour mix freely (training converts them)."""
    if not rows:
        return [], ""
    channels = Counter(r["channels"] for r in rows).most_common(1)[0][0]
    dtype = Counter(r["dtype"] for r in rows).most_common(1)[0][0]
    odd: list[BadFile] = []
    if Counter(r.get("array", True) for r in rows).most_common(1)[0][0] is False:
        kind = ImageKind(channels, dtype, max(r["max"] for r in rows))
        return [], kind.describe(images)
    for r in rows:
        if r["channels"] != channels:
            odd.append({"path": r["path"], "reason": f"{r['channels']} channel(s) where the others have {channels}"})
        elif r["dtype"] != dtype:
            odd.append({"path": r["path"], "reason": f"{r['dtype']} values where the others are {dtype}"})
    usual = [r for r in rows if r["channels"] == channels and r["dtype"] == dtype]
    kind = ImageKind(channels, dtype, max(r["max"] for r in usual))
    low, high = min(r["min"] for r in usual), max(r["max"] for r in usual)
    return odd, f"{kind.describe(images)}; values {low:g}..{high:g}"


def scan_pair(
    train_dir: str | os.PathLike,
    val_dir: str | os.PathLike,
    progress: Progress | None = None,
    should_stop: StopFlag = None,
    use_cache: bool = True,
) -> PairReport:
    """Scan both folders (progress runs once per folder) and list files found in both."""
    train = scan_folder(train_dir, progress, should_stop, use_cache)
    val = scan_folder(val_dir, progress, should_stop, use_cache)
    in_train: dict[str, list[str]] = defaultdict(list)
    bad_paths = {b["path"] for b in train.bad} | {b["path"] for b in val.bad}
    for p, digest in train.hashes.items():
        if p not in bad_paths:
            in_train[digest].append(p)
    in_val: dict[str, list[str]] = defaultdict(list)
    for p, digest in val.hashes.items():
        if p not in bad_paths and digest in in_train:
            in_val[digest].append(p)
    cross = sorted(
        (CrossDuplicate(train=sorted(in_train[d]), val=sorted(v)) for d, v in in_val.items()),
        key=lambda g: g["train"][0],
    )
    notes = []
    if cross:
        n = sum(len(g["val"]) for g in cross)
        notes.append(
            f"{n} validation image(s) also appear in the training folder, which inflates validation accuracy"
        )
    return PairReport(train, val, cross, notes)


def report_of_set(images: ImageSet, seconds: float = 0.0) -> ScanReport:
    """A ScanReport of a data set that is not an image folder (a CSV list, IDX files, a plug-in
    kind): what opening it found (files skipped, classes, imbalance); nothing is decoded."""
    counts = images.counts()
    present = {name: n for name, n in counts.items() if n > 0}
    imbalance = class_imbalance_warning(present)
    return ScanReport(
        folder=images.name, classes=list(present), counts=present,
        bad=[BadFile(path=p, reason=r) for p, r in images.skipped], duplicates=[], tiny=[],
        empty_classes=[name for name, n in counts.items() if n == 0], ignored=0, imbalance=imbalance,
        modes={}, files=len(images) + len(images.skipped), warnings=list(images.warnings), seconds=round(seconds, 3),
    )  # fmt: skip


def known_bad_paths(folder: str | os.PathLike) -> set[str]:
    """Files a cached scan found unreadable and that have not changed since (empty set when
    the folder was never scanned)."""
    try:
        listing = list_folder(folder)
    except DataError:
        return set()
    return set(cached_bad_files(listing)[0])
