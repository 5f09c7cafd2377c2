"""A journal beside a labels file (``NAME.journal.csv``) for the window's labels in flight.

The Label page rewrites the labels file in the background (a locked read-merge-write with fsync:
tens of milliseconds, more as the file grows), so a key press never waits for it. Before handing a
label or an undo to that writer, the page appends one line here and flushes it to disk: about a
millisecond, whatever the labels file's size. A window killed in between leaves the change here, and
the next opening of the folder replays it into the labels file (:func:`replay`), then removes the
journal. The labels file stays the one truth that ``tlgui train`` and ``tlgui label`` read.
"""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path

from tlgui.core.workflows.label_store import LabelStore, absolute_path

COLUMNS = ("action", "path", "label", "suggested", "confidence", "picked")
LABEL, UNDO = "label", "undo"


def journal_path(csv_path: str | os.PathLike) -> Path:
    path = Path(csv_path)
    return path.with_name(path.stem + ".journal.csv")


def append(csv_path, action: str, path, label: str, suggested: str | None = None, confidence: float | None = None,
           picked: str = "manual") -> None:
    """One change, on disk before this returns (OSError when the folder cannot be written)."""
    buffer = io.StringIO()
    shown_confidence = "" if confidence is None else f"{confidence:.4f}"
    csv.writer(buffer, lineterminator="\n").writerow(
        [action, absolute_path(path), label, suggested or "", shown_confidence, picked])
    target = journal_path(csv_path)
    target.parent.mkdir(parents=True, exist_ok=True)  # before the first label, tlgui's labels folder may not exist
    with open(target, "a", encoding="utf-8", newline="") as handle:
        handle.write(buffer.getvalue())
        handle.flush()
        os.fsync(handle.fileno())


def pending(csv_path) -> dict[str, dict[str, str]]:
    """The last change per image in the journal (a line torn by a crash is left out)."""
    target = journal_path(csv_path)
    if not target.is_file():
        return {}
    last: dict[str, dict[str, str]] = {}
    with open(target, encoding="utf-8", newline="") as handle:
        for fields in csv.reader(handle):
            if len(fields) != len(COLUMNS) or fields[0] not in (LABEL, UNDO) or not fields[1]:
                continue
            row = dict(zip(COLUMNS, fields, strict=True))
            last.pop(row["path"], None)
            last[row["path"]] = row
    return last


def replay(store: LabelStore) -> int:
    """Write into ``store`` what its journal holds and the labels file lacks; remove the journal.
    An undo takes a label away only while the file still has the label it undid. Returns the changes."""
    changes = pending(store.csv_path)
    if not changes:
        journal_path(store.csv_path).unlink(missing_ok=True)
        return 0
    current = store.labels()
    adds = [(p, r["label"], r["suggested"] or None, float(r["confidence"]) if r["confidence"] else None,
             r["picked"]) for p, r in changes.items() if r["action"] == LABEL and current.get(p) != r["label"]]
    undos = [p for p, r in changes.items() if r["action"] == UNDO and current.get(p) == r["label"]]
    if adds:
        store.add_many(adds)
    for path in undos:
        store.remove(path)
    journal_path(store.csv_path).unlink(missing_ok=True)
    return len(adds) + len(undos)
