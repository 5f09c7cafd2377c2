"""The Label page's model at work in the background: its picks of what to label next, the review
grid's ranking of one class, and the accuracy curve. One model job runs at a time (they share the
stored features); a job asked for meanwhile waits for the running one's end.

The base class of :class:`~tlgui.ui.pages.label.page.LabelPage` (above
:class:`~tlgui.ui.pages.label.labelling_actions.LabelActions`); the page sets the state declared here.
"""

from __future__ import annotations

from PySide6.QtCore import Signal, Slot
from PySide6.QtWidgets import QProgressBar

from tlgui.ui.base.background import TaskRunner
from tlgui.ui.pages.label import estimate_log, jobs
from tlgui.ui.pages.label.label_queue import BATCH, Pick
from tlgui.ui.pages.label.labelling_actions import LabelActions

REVIEW_LIMIT = 200  # images shown in the review grid
NEXT_IMAGES = "Choosing the next images"


class ModelPicks(LabelActions):
    """Asks the model for the next images, ranks images for the review grid, re-estimates the curve."""

    queue_arrived = Signal()  # the model's picks came (tests wait on it)
    ranked_arrived = Signal()  # the review grid was filled

    # the model's state (set in LabelPage.__init__, reset when a folder opens)
    backbone: jobs.Backbone
    progress: QProgressBar
    _labels_at_fetch: int  # labels given when the model last chose
    _renewing: bool  # the running call's picks replace the queued ones
    _idle_at: int | None  # labels given when the model last had nothing to give or failed
    _want_rank: str | None  # a class the review grid asked for, ranked when the model is free
    _curve_dirty: bool
    _curve_running: bool
    _curve_runner: TaskRunner

    # -- the model's picks (one model job at a time: they share the stored features) ---------
    def _want_queue(self) -> None:
        if self._closed or self.opened is None or self._model_busy or not self.opened.paths or self.writer.busy():
            return  # (once the labels are written, the writer's saved signal asks again)
        if self._want_rank is not None:
            cls, self._want_rank = self._want_rank, None
            self._start_rank(cls)
            return
        # the picks are used in the order the model gave them (its random ones, every fifth, keep the
        # estimate honest); they are renewed only once suggestions became possible (two classes labelled)
        renew = (len(self.labels) != self._labels_at_fetch and len(set(self.labels.values())) >= 2
                 and any(p.suggested is None for p in self.queue.queued()))
        if self._model_ready and not renew and (not self.queue.wants_more() or self._idle_at == len(self.labels)):
            return  # enough picks, or the model had none to give (or failed) at this many labels
        self._labels_at_fetch, self._idle_at, self._renewing = len(self.labels), None, renew or not self._model_ready
        opened, backbone, generation = self.opened, self.backbone, self._generation
        classes, exclude = list(self.classes), self.queue.exclude(keep=1 if self._renewing else None)
        self._model_busy = True
        self._model_job = self._runner.start(
            lambda job: jobs.next_images(opened.folder, opened.csv_path, backbone, classes, exclude, BATCH, job),
            lambda result: self._on_queue(generation, backbone, result),
            lambda exc: self._on_failed(generation, exc, NEXT_IMAGES),
            self._on_progress, name="label-next", on_ended=self._model_ended)

    def _on_progress(self, text: str) -> None:
        """The model reports only when it has real work (reading the folder): then the busy bar shows."""
        self.status_label.setText(text)
        self.progress.setVisible(True)

    @Slot()
    def _model_ended(self) -> None:
        # a bound slot, so Qt calls it on the GUI thread; an older (cancelled) job's end is ignored
        if self.sender() is self._model_job:
            self._model_job = None
            self._model_busy = False
            self.progress.setVisible(False)
            self._want_queue()  # labels given meanwhile, or a rank asked for

    def _on_queue(self, generation: int, backbone: jobs.Backbone, result) -> None:
        if generation != self._generation or backbone != self.backbone:
            return  # another folder, or picks by a model no longer chosen (its successor asks next)
        picks = [Pick.of(s) for s in result.next]
        first = not self._model_ready
        self._model_ready, self._model_failed = True, False
        # the first picks replace the random starters; renewed ones those made before any suggestion
        if self._renewing:
            added = self.queue.refresh(picks, self.labels, keep=0 if first else 1)
        else:
            added = self.queue.add(picks, self.labels)
        if not picks:
            self._idle_at = len(self.labels)
        self.progress_view.set_queue_info(result)
        if result.estimate is not None and self.opened is not None:  # the curve draws what the page says
            self.progress_view.set_history(estimate_log.add_point(self.opened.csv_path, result.labelled,
                                                                  result.estimate))
        self.status_label.setText(f"The model's picks are ready ({result.seconds:.1f} s)."
                                  if added else "The model has no more images to offer.")
        if self.queue.current is None:  # (the image shown stays: a key pressed now is meant for it)
            self.queue.advance()
            self._show_current()
        self.image.prefetch(self.queue.queued()[:4])
        self.queue_arrived.emit()

    # -- review grid --------------------------------------------------------------------
    @Slot(str)
    def show_ranked(self, cls: str) -> None:
        """Fill the review grid with the unlabelled images likeliest to be ``cls``."""
        if self.opened is None:
            return
        self._want_rank = cls
        self.review.set_busy(True, f"Scoring every unlabelled image for {cls}…")
        if not self._model_busy:
            self._want_queue()

    def _start_rank(self, cls: str) -> None:
        opened, backbone, generation = self.opened, self.backbone, self._generation
        if opened is None:  # (_want_queue asks only while a folder is open)
            return
        self._model_busy = True
        self._model_job = self._runner.start(
            lambda job: jobs.ranked(opened.folder, opened.csv_path, backbone, cls, REVIEW_LIMIT, job),
            lambda result: self._on_ranked(generation, cls, result),
            lambda exc: self._on_failed(generation, exc, "Ranking the images"),
            self._on_progress, name="label-rank", on_ended=self._model_ended)

    def _on_ranked(self, generation: int, cls: str, result) -> None:
        if generation != self._generation:
            return
        picks = [Pick.of(s) for s in result if s.path not in self.labels]
        text = (f"{len(picks)} unlabelled image(s), likeliest {cls} first. Select the ones that are {cls} and "
                "accept them." if picks else
                "The model needs labels of at least two classes before it can rank images for one of them.")
        self.review.show_ranked(cls, picks, text)
        self.review.set_busy(False)
        self.ranked_arrived.emit()

    # -- curve and counts ---------------------------------------------------------------
    def _refresh_curve(self) -> None:
        if self.opened is None or self._closed:
            return
        if self._curve_running:
            self._curve_dirty = True
            return
        self._curve_dirty, self._curve_running = False, True
        csv_path, generation = self.opened.csv_path, self._generation
        self._curve_runner.start(lambda job: jobs.history(csv_path, job),
                                 lambda points: self._on_history(generation, points),
                                 lambda exc: self._on_failed(generation, exc, "Estimating the accuracy"),
                                 name="label-curve", on_ended=self._curve_ended)

    @Slot()
    def _curve_ended(self) -> None:
        self._curve_running = False
        if self._curve_dirty:
            self._refresh_curve()

    def _on_history(self, generation: int, points) -> None:
        if generation == self._generation:
            self.progress_view.set_history(points)

    # -- messages -----------------------------------------------------------------------
    def _on_failed(self, generation: int, exc: BaseException, doing: str) -> None:
        if generation != self._generation:
            return
        self._model_ready = True
        self._model_failed = doing == NEXT_IMAGES  # labelling goes on with random images meanwhile
        self._idle_at = len(self.labels)  # asked again after the next label, not in a loop
        self._busy(False, "")
        self.review.set_busy(False)
        self._say_error(jobs.human(exc, doing))

    def _busy(self, busy: bool, text: str) -> None:
        self.progress.setVisible(busy)
        self.status_label.setText(text)
