"""The scan's cache of bad files.

The health scan (:mod:`tlgui.core.data.scan`) decodes every file once and caches what it found under
``cache_dir()/scans/``, keyed by the folder and a fingerprint of every file's (relative path, size, mtime);
opening an image folder reads that cache to skip known-bad files unopened.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any, TypedDict, cast

from tlgui import paths
from tlgui.core.base.files import replace_file
from tlgui.core.data import sources
from tlgui.core.data.folder_listing import FolderListing

SCAN_VERSION = 3  # 2: channels, dtype and value range per file; 3: class names in NFC, name collisions


TINY_PIXELS = 16  # images smaller than this on a side are flagged by the scan (still usable)


class ScanCache(TypedDict):
    """One folder's cached scan, as stored in its JSON file."""

    version: int  # SCAN_VERSION
    folder: str
    fingerprint: str  # folder_fingerprint() when it was scanned
    report: dict[str, Any]  # ScanReport.to_json(hashes=True)
    bad_stats: dict[str, list[int] | None]  # bad file -> its [size, mtime_ns] then


def folder_fingerprint(listing: FolderListing) -> str:
    """Changes when any file is added, removed, resized or touched (or scan rules change)."""
    digest = hashlib.sha256()
    digest.update(
        f"v{SCAN_VERSION}|{sources.MAX_DECODED_PIXELS}|{TINY_PIXELS}|{listing.ignored}|{listing.stray_images}\n".encode()
    )
    root = str(listing.root)
    for name, entries in listing.classes.items():
        digest.update(f"D{name}\n".encode())
        for p, size, mtime in entries:
            digest.update(f"{os.path.relpath(p, root)}|{size}|{mtime}\n".encode())
    return digest.hexdigest()


def scan_cache_file(root: Path) -> Path:
    key = hashlib.sha256(str(root).encode("utf-8", "surrogateescape")).hexdigest()[:32]
    return paths.cache_dir() / "scans" / f"{key}.json"


def read_scan_cache(root: Path) -> ScanCache | None:
    """The cached scan of folder ``root`` (None when absent, unreadable or of another version)."""
    try:
        raw = json.loads(scan_cache_file(root).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if (
        not isinstance(raw, dict)
        or raw.get("version") != SCAN_VERSION
        or raw.get("folder") != str(root)
    ):
        return None
    return cast(ScanCache, raw)  # as write_scan_cache wrote it: its version and folder match


def cached_bad_files(listing: FolderListing) -> tuple[dict[str, str], bool]:
    """(path -> reason for cached bad files still unchanged, whether the whole cached scan
    still matches the folder, in which case every other file is known good)."""
    cached = read_scan_cache(listing.root)
    if cached is None:
        return {}, False
    try:
        bad = {b["path"]: b["reason"] for b in cached["report"]["bad"]}
        if cached.get("fingerprint") == folder_fingerprint(listing):
            return bad, True
        current = {
            p: [size, mtime] for entries in listing.classes.values() for p, size, mtime in entries
        }
        stats = cached.get("bad_stats", {})
        return {p: r for p, r in bad.items() if p in current and stats.get(p) == current[p]}, False
    except (KeyError, TypeError):
        return {}, False


def write_scan_cache(listing: FolderListing, fingerprint: str, report: dict[str, Any]) -> None:
    """Store ``report`` (a ScanReport's JSON, hashes included) as ``listing``'s cached scan;
    a cache that cannot be written only costs time."""
    stats = {p: [size, mtime] for entries in listing.classes.values() for p, size, mtime in entries}
    raw: ScanCache = {
        "version": SCAN_VERSION,
        "folder": str(listing.root),
        "fingerprint": fingerprint,
        "report": report,
        "bad_stats": {b["path"]: stats.get(b["path"]) for b in report["bad"]},
    }
    target = scan_cache_file(listing.root)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        temp = target.with_suffix(f".{os.getpid()}.tmp")
        temp.write_text(json.dumps(raw), encoding="utf-8")
        replace_file(temp, target)
    except OSError:
        pass
