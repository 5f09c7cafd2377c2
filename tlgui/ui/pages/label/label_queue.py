"""What the Label page shows next, and what Undo takes back (plain Python, no Qt, no model).

The model's picks arrive in batches from a background job (``next_to_label``); the page keeps
them here and shows the next one the moment a label is given. A few random images from the
listing start the queue while the model still reads the folder, so a big folder can be
labelled at once.
"""

from __future__ import annotations

import random
from collections import deque
from dataclasses import dataclass

REFILL_AT = 3  # ask the model for more once this few are left (a call takes about a second)
BATCH = 5  # images asked for per call: small, so the picks follow the labels closely (one in five is random)


@dataclass(frozen=True)
class Pick:
    """One image to label: the model's suggestion made before the user saw it, and how it was chosen."""

    path: str
    suggested: str | None = None
    confidence: float | None = None
    picked: str = "random"  # typical | margin | random (as the labels CSV says)

    @classmethod
    def of(cls, suggestion) -> Pick:
        """From the core's Suggestion (or anything with the same fields)."""
        confidence = getattr(suggestion, "confidence", None)
        return cls(str(suggestion.path), getattr(suggestion, "suggested", None) or None,
                   None if confidence is None else float(confidence), getattr(suggestion, "picked", "random"))


@dataclass(frozen=True)
class Given:
    """A label given in this window, for Undo."""

    pick: Pick
    label: str


class LabelQueue:
    """The current image, those queued after it, the images skipped and the labels for Undo."""

    def __init__(self) -> None:
        self.current: Pick | None = None
        self._queue: deque[Pick] = deque()
        self.skipped: set[str] = set()
        self.given: list[Given] = []

    def __len__(self) -> int:
        return len(self._queue)

    def queued(self) -> list[Pick]:
        return list(self._queue)

    def wants_more(self) -> bool:
        return len(self._queue) < REFILL_AT

    def exclude(self, keep: int | None = None) -> list[str]:
        """Images the model must not offer again now: shown, skipped, and queued (the first
        ``keep`` of the queue only: a refresh replaces the others)."""
        shown = [self.current.path] if self.current is not None else []
        queued = list(self._queue) if keep is None else list(self._queue)[:keep]
        return shown + [p.path for p in queued] + sorted(self.skipped)

    def start_with(self, paths: list[str], labelled, count: int = BATCH, seed: int = 0) -> None:
        """Random images of the listing to begin with (no suggestion yet), while the model reads the folder."""
        taken = set(self.exclude())
        unlabelled = [p for p in paths if p not in labelled and p not in taken]
        picks = random.Random(seed).sample(unlabelled, min(count, len(unlabelled)))
        self.add([Pick(p) for p in picks], labelled)

    def add(self, picks: list[Pick], labelled) -> int:
        """Queue the model's picks (those not labelled, skipped, shown or queued already)."""
        known = set(self.exclude())
        added = 0
        for pick in picks:
            if pick.path not in known and pick.path not in labelled:
                self._queue.append(pick)
                known.add(pick.path)
                added += 1
        return added

    def refresh(self, picks: list[Pick], labelled, keep: int = 1) -> int:
        """Fresher picks (the model can suggest now) replace the queued ones,
        all but the first ``keep`` (their pictures are decoded already, so the next shows at once)."""
        self._queue = deque(list(self._queue)[:keep])
        return self.add(picks, labelled)

    def advance(self) -> Pick | None:
        """The next image becomes the current one (None: nothing queued)."""
        self.current = self._queue.popleft() if self._queue else None
        return self.current

    def labelled(self, label: str) -> Given | None:
        """The current image got ``label``: remembered for Undo (the caller writes the file)."""
        if self.current is None:
            return None
        given = Given(self.current, label)
        self.given.append(given)
        return given

    def undo(self) -> Given | None:
        """Take back the last label: its image becomes the current one again."""
        if not self.given:
            return None
        given = self.given.pop()
        if self.current is not None:
            self._queue.appendleft(self.current)
        self.current = given.pick
        return given

    def drop(self, paths) -> None:
        """Forget queued images labelled elsewhere (the review grid)."""
        gone = set(paths)
        self._queue = deque(p for p in self._queue if p.path not in gone)

    def rename(self, old: str, new: str) -> None:
        """A class was renamed: the suggestions say the new name."""
        def renamed(p: Pick) -> Pick:
            return Pick(p.path, new, p.confidence, p.picked) if p.suggested == old else p

        self._queue = deque(renamed(p) for p in self._queue)
        if self.current is not None:
            self.current = renamed(self.current)
        self.given = [Given(renamed(g.pick), new if g.label == old else g.label) for g in self.given]
