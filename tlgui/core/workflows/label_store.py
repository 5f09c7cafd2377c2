"""The labels a user gives to an unlabelled folder: one CSV per folder in tlgui's data folder.

``path,label,suggested,confidence,picked``: the CSV data source reads the first two columns, so
``tlgui train --data FILE.csv`` trains on it. ``suggested``/``confidence`` are the model's class
for the image as shown *before* the user labelled it, ``picked`` how it was chosen
(typical|margin|random|manual|bulk): the honest estimate scores the random picks' suggestions.

Every change is a read-modify-write under a lock file: the file is re-read, the change applied
to what is on disk now, and the result written atomically (temp file, fsync, ``os.replace``).
So two windows on the same folder lose no label (last writer wins per path), a crash mid-write
leaves the old file, and every label given before a kill -9 is in the file. The classes, in
order and including those with no label yet, live beside it in ``<stem>.classes.json``.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import time
from collections.abc import Iterable
from pathlib import Path

from tlgui.core.base.errors import DataError
from tlgui.core.base.files import atomic_write_text

COLUMNS = ("path", "label", "suggested", "confidence", "picked")
PICKS = ("typical", "margin", "random", "manual", "bulk")
_LOCK_WAIT_S = 10.0  # a lock older than this is left by a killed process: taken over
_REPLACE_TRIES = 20  # Windows: os.replace fails while another process reads the file


def labels_dir() -> Path:
    from tlgui.paths import data_dir

    return data_dir() / "labels"


def folder_key(folder: str | os.PathLike) -> str:
    """A short stable name for an image folder (its absolute path, hashed)."""
    text = os.path.normcase(os.path.abspath(os.path.expanduser(os.fspath(folder))))
    return hashlib.blake2b(text.encode("utf-8"), digest_size=8).hexdigest()


def absolute_path(path: str | os.PathLike) -> str:
    """The absolute, normalised form every labels-file path takes."""
    return os.path.normpath(os.path.abspath(os.path.expanduser(os.fspath(path))))


class _Lock:
    """An exclusive lock file beside the CSV (O_CREAT|O_EXCL works on every OS and file system)."""

    def __init__(self, path: Path):
        self.path = path

    def __enter__(self):
        self.path.parent.mkdir(parents=True, exist_ok=True)
        started = time.monotonic()
        while True:
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
                os.write(fd, str(os.getpid()).encode())
                os.close(fd)
                return self
            except FileExistsError:
                try:
                    age = time.time() - self.path.stat().st_mtime
                except OSError:
                    continue  # released between the two calls
                if age > _LOCK_WAIT_S or time.monotonic() - started > 2 * _LOCK_WAIT_S:
                    self.path.unlink(missing_ok=True)  # left by a killed process
                    continue
                time.sleep(0.005)

    def __exit__(self, *exc):
        self.path.unlink(missing_ok=True)


class LabelStore:
    """The per-folder labels CSV (+ classes json). Every read is from disk; every change is written at once."""

    def __init__(self, csv_path: str | os.PathLike, folder: str | os.PathLike | None = None):
        self.csv_path = Path(absolute_path(csv_path))
        self.classes_path = self.csv_path.with_name(self.csv_path.stem + ".classes.json")
        self.folder = absolute_path(folder) if folder is not None else self._folder_from_json()

    @classmethod
    def for_folder(cls, folder: str | os.PathLike) -> LabelStore:
        """The store tlgui keeps for ``folder``: ``data_dir()/labels/<folder-hash>.csv``."""
        store = cls(labels_dir() / f"{folder_key(folder)}.csv", folder)
        return store

    # ----- reading
    def _folder_from_json(self) -> str | None:
        folder = self._classes_json().get("folder")
        return absolute_path(folder) if folder else None

    def _classes_json(self) -> dict:
        try:
            data = json.loads(self.classes_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def _read_rows(self) -> tuple[list[dict], list[tuple[int, str]]]:
        """Every row on disk (the last row per path wins) and one line per unusable row."""
        try:
            text = self.csv_path.read_text(encoding="utf-8-sig")
        except FileNotFoundError:
            return [], []
        except (OSError, UnicodeDecodeError) as exc:
            raise DataError(f"cannot read the labels file {self.csv_path}: {exc}") from None
        reader = csv.reader(io.StringIO(text))
        header = [h.strip().lower() for h in next(reader, [])]
        if "path" not in header or "label" not in header:
            raise DataError(f"the labels file {self.csv_path} needs a header with columns 'path' and 'label'")
        rows: dict[str, dict] = {}
        problems: list[tuple[int, str]] = []
        for line, cells in enumerate(reader, start=2):
            if not any(c.strip() for c in cells):
                continue
            row = {name: (cells[i].strip() if i < len(cells) else "") for i, name in enumerate(header)}
            if not row.get("path") or not row.get("label"):
                problems.append((line, f"{self.csv_path} line {line}: missing path or label; ignored"))
                continue
            row["path"] = absolute_path(row["path"])
            rows.pop(row["path"], None)  # re-added at the end: file order is labelling order
            rows[row["path"]] = {c: row.get(c, "") for c in COLUMNS} | {"line": line}
        return list(rows.values()), problems

    def _check(self, rows: list[dict], problems: list[tuple[int, str]]) -> list[dict]:
        """The rows that name a file inside the folder and a known class; one line per other row."""
        classes = self._classes_json().get("classes") or []
        prefix = os.path.join(self.folder, "") if self.folder else None
        good = []
        for row in rows:
            where = f"{self.csv_path} line {row['line']}"
            if prefix and not os.path.normcase(row["path"]).startswith(os.path.normcase(prefix)):
                problems.append((row["line"], f"{where}: {row['path']} is not inside {self.folder}; ignored"))
            elif classes and row["label"] not in classes:
                problems.append((row["line"], f"{where}: class {row['label']!r} is not one of {', '.join(classes)}; "
                                 "ignored"))
            else:
                good.append(row)
        return good

    def rows(self) -> list[dict]:
        """The usable rows in labelling order: path, label, suggested ('' or a class),
        confidence (float or None), picked. Re-read from disk."""
        rows, problems = self._read_rows()
        out = []
        for row in self._check(rows, problems):
            try:
                confidence = float(row["confidence"]) if row["confidence"] else None
            except ValueError:
                confidence = None
            out.append({"path": row["path"], "label": row["label"], "suggested": row["suggested"],
                        "confidence": confidence, "picked": row["picked"] or "manual"})
        return out

    def problems(self) -> list[str]:
        """One plain line per row that is not used (outside the folder, unknown class, no label)."""
        rows, problems = self._read_rows()
        self._check(rows, problems)
        return [text for _line, text in sorted(problems)]

    def labels(self) -> dict[str, str]:
        """path -> label, re-read from disk."""
        return {row["path"]: row["label"] for row in self.rows()}

    def classes(self) -> list[str]:
        """The class list in order (the json's, else the labels' in order of first use)."""
        listed = list(self._classes_json().get("classes") or [])
        if listed:
            return listed
        rows, _problems = self._read_rows()
        return list(dict.fromkeys(row["label"] for row in rows))

    # ----- writing
    def _write_classes(self, classes: list[str]) -> None:
        data = {"folder": self.folder, "classes": list(classes)}
        _replace_text(self.classes_path, json.dumps(data, indent=1, ensure_ascii=False) + "\n")

    def set_classes(self, classes: list[str]) -> None:
        """Replace the class list (order kept; duplicates and blanks dropped)."""
        clean = list(dict.fromkeys(c.strip() for c in classes if c and c.strip()))
        with _Lock(self._lock_path()):
            self._write_classes(clean)

    def rename_class(self, old: str, new: str) -> None:
        """Rename a class in the list and in every label."""
        new = new.strip()
        if not new:
            raise DataError("a class name cannot be empty")
        with _Lock(self._lock_path()):
            classes = self.classes()
            if new in classes and new != old:
                raise DataError(f"there is already a class {new!r}")
            self._write_classes([new if c == old else c for c in classes])
            rows, _problems = self._read_rows()
            for row in rows:
                if row["label"] == old:
                    row["label"] = new
            self._write_rows(rows)

    def add(self, path, label: str, suggested: str | None = None, confidence: float | None = None,
            picked: str = "manual") -> None:
        """Label one image; written to disk (atomically) before this returns."""
        self.add_many([(path, label, suggested, confidence, picked)])

    def add_many(self, items: Iterable) -> None:
        """Label many images in one write: items of (path, label[, suggested, confidence, picked])."""
        new = [self._row(*item) for item in items]
        with _Lock(self._lock_path()):
            classes = self.classes()
            missing = [r["label"] for r in new if r["label"] not in classes]
            if missing or not self.classes_path.exists():
                self._write_classes(list(dict.fromkeys(classes + missing)))
            rows, _problems = self._read_rows()
            merged = {row["path"]: row for row in rows}
            for row in new:
                merged.pop(row["path"], None)
                merged[row["path"]] = row
            self._write_rows(list(merged.values()))

    def remove(self, path) -> None:
        """Forget one image's label (undo); the file is rewritten without it."""
        target = absolute_path(path)
        with _Lock(self._lock_path()):
            rows, _problems = self._read_rows()
            self._write_rows([row for row in rows if row["path"] != target])

    def _row(self, path, label, suggested=None, confidence=None, picked="manual") -> dict:
        full, label = absolute_path(path), str(label).strip()
        if not label:
            raise DataError(f"no label given for {full}")
        if self.folder and not os.path.normcase(full).startswith(os.path.normcase(os.path.join(self.folder, ""))):
            raise DataError(f"{full} is not inside the folder being labelled ({self.folder})")
        if picked not in PICKS:
            raise DataError(f"unknown way of picking {picked!r} (one of {', '.join(PICKS)})")
        return {"path": full, "label": label, "suggested": suggested or "",
                "confidence": "" if confidence is None else f"{float(confidence):.4f}", "picked": picked}

    def _lock_path(self) -> Path:
        return self.csv_path.with_name(self.csv_path.name + ".lock")

    def _write_rows(self, rows: list[dict]) -> None:
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(COLUMNS)
        for row in rows:
            writer.writerow([row.get(c, "") for c in COLUMNS])
        _replace_text(self.csv_path, out.getvalue())


def _replace_text(path: Path, text: str) -> None:
    """Atomic write; on Windows os.replace fails while another process has the file open: retry briefly."""
    for attempt in range(_REPLACE_TRIES):
        try:
            atomic_write_text(path, text)
            return
        except PermissionError:
            if attempt == _REPLACE_TRIES - 1:
                raise
            time.sleep(0.05)
