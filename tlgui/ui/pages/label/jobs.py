"""Background work of the Label page (never on the GUI thread): listing the folder, asking the
model what to label next, ranking images for one class, and the accuracy curve's points.

Each function takes the TaskRunner's ``job`` (``job.report`` for progress; the job itself is the
stop ``Control`` core checks) and returns plain values; the core does the work (``tlgui.core.workflows.labelling``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # imported where the work runs, off the GUI thread
    from tlgui.core.workflows.label_export import ExportedLabels


@dataclass(frozen=True)
class Backbone:
    """Whose frozen features the suggestions come from (the Train page's model choice)."""

    architecture: str = "smallcnn"
    weights: str = "none"  # "none": random weights, suggestions no better than chance

    def pretrained(self) -> bool:
        return self.weights not in ("", "none")

    def describe(self) -> str:
        from pathlib import Path

        weights = self.weights if self.weights in ("none", "default") or ":" in self.weights[:12] \
            else Path(self.weights).name
        return f"{self.architecture} ({weights})"


@dataclass
class Opened:
    """A folder listed (no image decoded) and its labels so far."""

    folder: str  # absolute
    paths: list[str]
    csv_path: str
    classes: list[str]
    labels: dict[str, str]  # path -> label
    problems: list[str]  # labels-file rows not used, one line each


def open_folder(folder: str, job) -> Opened:
    """Worker thread: list every image under ``folder`` and read its labels file (label_store, not
    labelling: that one imports torch, which would hold a first open up for seconds)."""
    from tlgui.core.data.kinds.unlabelled_folder import list_images
    from tlgui.core.workflows.label_journal import replay
    from tlgui.core.workflows.label_store import LabelStore

    listing = list_images(folder)
    store = LabelStore.for_folder(listing.root)
    replay(store)  # labels a window killed mid-write left in the journal
    labels = store.labels()
    return Opened(str(listing.root), listing.paths, str(store.csv_path), store.classes(), labels, store.problems())


def read_labels(csv_path: str, folder: str, _job) -> tuple[dict[str, str], list[str]]:
    """Worker thread: the labels and classes as the file has them now."""
    from tlgui.core.workflows.label_store import LabelStore

    store = LabelStore(csv_path, folder)
    return store.labels(), store.classes()


def _emit_to(job):
    from tlgui.core.base.events import Stage

    def emit(event) -> None:
        if isinstance(event, Stage):
            job.report(event.detail or event.name)

    return emit


def next_images(folder: str, csv_path: str, backbone: Backbone, classes: list[str], exclude: list[str],
                count: int, job):
    """Worker thread: the core's LabelQueue of the next ``count`` images to label."""
    from tlgui.core.workflows.labelling import next_to_label

    return next_to_label(folder, csv_path, model=backbone.architecture, weights=backbone.weights, n=count,
                         classes=classes or None, exclude=exclude, emit=_emit_to(job), should_stop=job)


def ranked(folder: str, csv_path: str, backbone: Backbone, cls: str, limit: int, job):
    """Worker thread: unlabelled images, likeliest ``cls`` first (the review grid)."""
    from tlgui.core.workflows.labelling import ranked_for_class

    return ranked_for_class(folder, csv_path, cls, model=backbone.architecture, weights=backbone.weights,
                            limit=limit, emit=_emit_to(job), should_stop=job)


def history(csv_path: str, _job) -> list:
    """Worker thread: (labels so far, Estimate) points of the accuracy curve: the estimates the page
    showed, else (labels given before, or on the command line) the random picks' suggestions."""
    from tlgui.core.workflows.labelling import estimate_history
    from tlgui.ui.pages.label.estimate_log import read_points

    return read_points(csv_path) or estimate_history(csv_path)


def export(csv_path: str, folder: str, _job) -> ExportedLabels:
    """Worker thread: copies of the labelled images in one sub-folder per class."""
    from tlgui.core.workflows.label_export import export_labels

    return export_labels(csv_path, folder)


def human(exc: BaseException, doing: str) -> str:
    """One plain line for the page (no traceback)."""
    from tlgui.workers.training import describe_exception

    text = describe_exception(exc, doing)
    return text[:1].upper() + text[1:]
