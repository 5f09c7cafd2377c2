"""Plain text the pages show (durations, paths that may wrap); no widgets."""

from __future__ import annotations

import math


def format_duration(seconds: float) -> str:
    if not math.isfinite(seconds) or seconds < 0:
        return "--"
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


_BREAK_AFTER = ("/", "\\", "_", ".")
ZERO_WIDTH_SPACE = "\u200b"


def breakable_path(text: str) -> str:
    """``text`` with a zero-width space after each path separator, underscore and dot, so that a
    word-wrapped label may break a long path there instead of growing the window to its width
    (a laptop screen has no room for a 120-character folder on one line)."""
    for mark in _BREAK_AFTER:
        text = text.replace(mark, mark + ZERO_WIDTH_SPACE)
    return text
