"""What the Label page's keys and buttons do: label, accept the suggestion, skip, undo, add or
rename a class, accept many from the review grid. Each label is written to the labels CSV at once
in the background (:class:`~tlgui.ui.pages.label.label_writer.LabelWriter`, in order) and the next image
shows at once; the model's work stays in the background too.

The base class of :class:`~tlgui.ui.pages.label.page.LabelPage`, which builds the widgets and state
declared here and answers the model's hooks (:meth:`LabelActions._want_queue` and the two after it).
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QLabel, QLineEdit, QPushButton, QTabWidget, QWidget

from tlgui.core.workflows.label_journal import LABEL, UNDO, append
from tlgui.ui.base.background import TaskRunner
from tlgui.ui.pages.label import jobs
from tlgui.ui.pages.label.class_buttons import ClassButtons
from tlgui.ui.pages.label.current_image import CurrentImage
from tlgui.ui.pages.label.label_queue import LabelQueue, Pick
from tlgui.ui.pages.label.label_writer import LabelWriter
from tlgui.ui.pages.label.progress_view import ProgressView
from tlgui.ui.pages.label.review_grid import ReviewGrid


class LabelActions(QWidget):
    """What a label, an undo or a class change does to the page's state, its file and its widgets."""

    failed = Signal(str)  # one human line, also shown in the page
    exported = Signal(object)  # export_labels' summary

    # the page's state (set in LabelPage.__init__ and when a folder opens)
    opened: jobs.Opened | None
    labels: dict[str, str]
    classes: list[str]
    queue: LabelQueue
    writer: LabelWriter
    last_error: str
    _generation: int
    _closed: bool
    _runner: TaskRunner
    _model_busy: bool
    _model_ready: bool  # the model has sent its first picks for this folder
    _model_failed: bool  # the model's last call failed: random images meanwhile
    _model_job: QObject | None  # the running model job (its end frees the model for the next)
    # the page's widgets (LabelPage._build)
    folder_edit: QLineEdit
    error_label: QLabel
    status_label: QLabel
    image: CurrentImage
    class_buttons: ClassButtons
    review: ReviewGrid
    progress_view: ProgressView
    tabs: QTabWidget
    one_by_one: QWidget
    accept_button: QPushButton
    skip_button: QPushButton
    undo_button: QPushButton
    train_button: QPushButton
    export_button: QPushButton

    # -- the model's hooks, answered by LabelPage ------------------------------------------
    def _want_queue(self) -> None:
        """Ask the model for more picks when the queue runs short."""
        raise NotImplementedError

    def _refresh_curve(self) -> None:
        """Re-estimate the accuracy curve from the labels file."""
        raise NotImplementedError

    def _on_failed(self, generation: int, exc: BaseException, doing: str) -> None:
        """A background job failed while ``doing``: said in one line."""
        raise NotImplementedError

    # -- labelling ------------------------------------------------------------------------
    def label(self, cls: str) -> None:
        """Give the current image the class ``cls`` and show the next one (the file is written in the background)."""
        pick = self.queue.current
        if pick is None or self.writer.store is None:
            return
        if not self._journal(LABEL, pick.path, cls, pick.suggested, pick.confidence, pick.picked):
            return
        self.writer.write(lambda store: store.add(pick.path, cls, pick.suggested, pick.confidence, pick.picked),
                          f"Could not save the label of {Path(pick.path).name}")
        self.queue.labelled(cls)
        self.labels[pick.path] = cls
        if cls not in self.classes:  # a suggestion of a class renamed meanwhile
            self.classes.append(cls)
            self._classes_changed()
        self._say_error("")
        self._next()
        self._update_counts()

    def accept_suggestion(self) -> None:
        pick = self.queue.current
        if pick is not None and pick.suggested:
            self.label(pick.suggested)

    def _journal(self, action: str, path: str, label: str, suggested: str | None = None,
                 confidence: float | None = None, picked: str = "manual") -> bool:
        """The change on disk at once (label_journal), before the labels file is rewritten in the background."""
        store = self.writer.store
        if store is None:  # no folder open: nothing to journal (the callers checked already)
            return False
        try:
            append(store.csv_path, action, path, label, suggested, confidence, picked)
            return True
        except OSError as exc:
            self._say_error(f"Could not save the label of {Path(path).name}: {exc.strerror or exc}.")
            return False

    def skip(self) -> None:
        if self.queue.current is not None:
            self.queue.skipped.add(self.queue.current.path)
            self._next()
            self._want_queue()

    def undo(self) -> None:
        """Take back the last label given here: removed from the file, its image shown again."""
        given = self.queue.undo() if self.writer.store is not None else None
        if given is None:
            return
        path = given.pick.path
        self._journal(UNDO, path, self.labels.get(path, ""))
        self.writer.write(lambda store: store.remove(path), f"Could not undo the label of {Path(path).name}")
        self.labels.pop(path, None)
        self._show_current()
        self._update_counts()

    def accept_many(self, cls: str, picks: list[Pick]) -> None:
        """The review grid's selection, all labelled ``cls`` in one write (picked = bulk)."""
        if self.writer.store is None or not picks:
            return
        items = [(p.path, cls, p.suggested, p.confidence, "bulk") for p in picks]
        for item in items:
            if not self._journal(LABEL, *item):
                return
        self.writer.write(lambda store: store.add_many(items), f"Could not save the {len(items)} labels")
        paths = [p.path for p in picks]
        for path in paths:
            self.labels[path] = cls
        self.review.remove(paths)
        self.queue.drop(paths)
        self.review.status.setText(f"{len(paths)} image(s) labelled {cls}.")
        if self.queue.current is not None and self.queue.current.path in self.labels:
            self._next()
        self._update_counts()

    # -- classes ------------------------------------------------------------------------
    def add_class(self, name: str) -> None:
        name = name.strip()
        if not name:
            return
        if self.writer.store is None:
            self._say_error("Choose a folder of images first: its classes are kept with its labels.")
            return
        if name in self.classes:
            self._say_error(f"There is already a class {name!r}.")
            return
        self.classes = [*self.classes, name]
        classes = list(self.classes)
        self.writer.write(lambda store: store.set_classes(classes), f"Could not add the class {name!r}")
        self._say_error("")
        self.class_buttons.done_editing()
        self._classes_changed()

    def rename_class(self, old: str, new: str) -> None:
        """Rename a class everywhere: the list, every label of it in the file, the suggestions."""
        new = new.strip()
        if self.writer.store is None or not new or new == old or old not in self.classes:
            return
        if new in self.classes:
            self._say_error(f"There is already a class {new!r}.")
            return
        self.writer.write(lambda store: store.rename_class(old, new), f"Could not rename {old!r}")
        self.classes = [new if c == old else c for c in self.classes]
        self.labels = {p: (new if c == old else c) for p, c in self.labels.items()}
        self.queue.rename(old, new)
        self._say_error("")
        self.class_buttons.done_editing()
        self._classes_changed()
        self._show_current()

    def _classes_changed(self) -> None:
        self.class_buttons.set_classes(self.classes)
        self.review.set_classes(self.classes)
        self._update_counts()

    # -- keys (the page's shortcuts; only while the one-by-one tab shows) -----------------
    def _labelling_shown(self) -> bool:
        return self.tabs.currentWidget() is self.one_by_one

    def _number_key(self, number: int) -> None:
        cls = self.class_buttons.class_for_key(number)
        if cls is not None and self._labelling_shown():
            self.label(cls)

    def _enter_key(self) -> None:
        if self.class_buttons.name_edit.hasFocus():
            self.class_buttons.name_edit.returnPressed.emit()  # Enter in the name field adds the class
        elif self.folder_edit.hasFocus():
            self.folder_edit.returnPressed.emit()
        elif self._labelling_shown():
            self.accept_suggestion()

    def _skip_key(self) -> None:
        if self._labelling_shown():
            self.skip()

    # -- helpers ------------------------------------------------------------------------
    def _next(self) -> None:
        if (not self._model_ready or self._model_failed) and len(self.queue) == 0 and self.opened is not None:
            # the model still reads a big folder, or cannot: random images meanwhile (honest ones, no suggestion)
            self.queue.start_with(self.opened.paths, self.labels, seed=len(self.labels) + len(self.queue.skipped))
        self.queue.advance()
        self._show_current()

    def _show_current(self) -> None:
        pick = self.queue.current
        empty = ("Every image of this folder is labelled or skipped." if self.opened is not None and self.opened.paths
                 else "Choose a folder of images to label.")
        if pick is None and self._model_busy:
            empty = "The model is choosing the next images…"
        self.image.show_pick(pick, empty)
        self.class_buttons.set_suggested(pick.suggested if pick is not None else None)
        self.image.prefetch(self.queue.queued()[:4])
        self._update_buttons()

    def _reload_labels(self) -> None:
        """Read the labels and classes back from the file (after a write failed)."""
        if self.opened is None or self._closed:
            return
        csv_path, folder, generation = self.opened.csv_path, self.opened.folder, self._generation
        self._runner.start(lambda job: jobs.read_labels(csv_path, folder, job),
                           lambda got: self._on_reloaded(generation, got), None, name="label-reload")

    def _on_reloaded(self, generation: int, got: tuple[dict[str, str], list[str]]) -> None:
        if generation == self._generation:
            self.labels, self.classes = got
            self._classes_changed()

    # -- export -------------------------------------------------------------------------
    def _choose_export(self) -> None:
        from PySide6.QtWidgets import QFileDialog

        folder = QFileDialog.getExistingDirectory(self, "Export the labelled images into class folders in…",
                                                  str(Path.home()))
        if folder:
            self.export_to(folder)

    def export_to(self, folder: str) -> None:
        """Copy every labelled image into ``folder/<class>/`` in the background (the originals stay)."""
        if self.opened is None or not self.labels:
            return
        self.writer.flush()  # every label given is in the file first
        csv_path, generation = self.opened.csv_path, self._generation
        self.status_label.setText(f"Copying the labelled images into {folder}…")
        self._runner.start(lambda job: jobs.export(csv_path, folder, job),
                           lambda result: self._on_exported(generation, result),
                           lambda exc: self._on_failed(generation, exc, "Exporting the labels"), name="label-export")

    def _on_exported(self, generation: int, result: dict) -> None:
        if generation != self._generation:
            return
        skipped = len(result.get("skipped") or [])
        more = f"; {skipped} not copied ({result['skipped'][0][1]}{', …' if skipped > 1 else ''})" if skipped else ""
        self.status_label.setText(f"Copied {result['copied']:,} image(s) into {result['to']}, one folder per "
                                  f"class{more}.")
        self.exported.emit(result)

    def _on_saved(self) -> None:
        """Every change is on disk: the curve and the model's next picks see them."""
        self._refresh_curve()
        self._want_queue()

    def _on_write_failed(self, text: str) -> None:
        """A change did not reach the file: said in one line, and what is shown is read back from it."""
        self._say_error(text)
        self._reload_labels()

    def _update_counts(self) -> None:
        total = len(self.opened.paths) if self.opened is not None else 0
        counts = {c: 0 for c in self.classes}
        for label in self.labels.values():
            counts[label] = counts.get(label, 0) + 1
        self.progress_view.set_counts(len(self.labels), total, counts)
        self.class_buttons.set_counts(counts)
        self._update_buttons()

    def _say_error(self, text: str) -> None:
        self.last_error = text
        self.error_label.setText(text)
        self.error_label.setVisible(bool(text))
        if text:
            self.failed.emit(text)

    def _update_buttons(self) -> None:
        pick = self.queue.current
        self.accept_button.setEnabled(pick is not None and bool(pick.suggested))
        self.accept_button.setText(f"Accept {pick.suggested} (Enter)" if pick is not None and pick.suggested
                                   else "Accept suggestion (Enter)")
        self.skip_button.setEnabled(pick is not None)
        self.undo_button.setEnabled(bool(self.queue.given))
        self.train_button.setEnabled(self.opened is not None and bool(self.labels))
        self.export_button.setEnabled(self.opened is not None and bool(self.labels))
