"""The ordered lists behind tlgui's registries (data kinds, model families): first match wins, so
where an entry stands is what registering it decides."""

from __future__ import annotations

from typing import TypeVar

T = TypeVar("T")


def place(entries: list[T], entry: T, before: T | None = None) -> None:
    """Put ``entry`` just before ``before`` (default: first). Placing an entry again moves it."""
    remove(entries, entry)
    entries.insert(entries.index(before) if before is not None else 0, entry)


def remove(entries: list[T], entry: T) -> None:
    """Take ``entry`` out of ``entries`` if it is there."""
    if entry in entries:
        entries.remove(entry)
