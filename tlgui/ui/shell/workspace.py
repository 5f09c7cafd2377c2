"""The window's other pages and the dialogs its menus open: results, prediction, run history,
the transfer check, and the offline library dialogs (the menu bar itself: :mod:`menus`).

Kept apart from :mod:`main_window` so that the main window only wires the training page;
this module only connects panels' signals to each other (no training logic, no model).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Slot
from PySide6.QtWidgets import QDialog, QFileDialog, QLabel, QMessageBox, QTabWidget, QWidget

from tlgui.core.base.errors import ConfigError
from tlgui.ui.shell.menus import Menus

if TYPE_CHECKING:
    from tlgui.core.base.events import RunResult
    from tlgui.ui.pages.compare_panel import ComparePanel
    from tlgui.ui.pages.label.page import LabelPage
    from tlgui.ui.pages.label_review.panel import LabelReviewPanel
    from tlgui.ui.pages.predict_panel import PredictPanel
    from tlgui.ui.pages.rank_panel import RankPanel
    from tlgui.ui.pages.results_panel import ResultsPanel
    from tlgui.ui.pages.runs.panel import RunsPanel
    from tlgui.ui.shell.shell_window import ShellWindow

log = logging.getLogger(__name__)

PAGE_TITLES = ("Train", "Results", "Predict", "Runs", "Did transfer help?", "Which model?", "Check labels", "Label")
_FOLDER_SOURCES = ("demo:", "torchvision:", "csv:")


@dataclass(frozen=True)
class Pages:
    """The pages after "Train", in tab order; built once PyTorch has loaded."""

    results: ResultsPanel
    predict: PredictPanel
    runs: RunsPanel
    compare: ComparePanel
    rank: RankPanel
    label_review: LabelReviewPanel
    label: LabelPage


class Workspace(QObject):
    """Owns the pages after "Train" and the dialogs of the main window (and its menu bar)."""

    def __init__(self, window: ShellWindow, pages: QTabWidget) -> None:
        super().__init__(pages)  # the pages' tabs live and die with the window, and so does this
        self.window = window
        self.train = window.train_page
        self.pages = pages
        self._built: Pages | None = None
        self._dialogs: set[QDialog] = set()  # open dialogs, kept alive until they close
        for title in PAGE_TITLES[1:]:
            placeholder = QLabel("Loading PyTorch…")
            placeholder.setEnabled(False)
            pages.addTab(placeholder, title)
        self.menus = Menus(window, self)
        window.panels_built.connect(self._build_pages)

    # ---------------------------------------------------------------- pages
    @property
    def built(self) -> Pages:
        """The pages after "Train"; raises RuntimeError while PyTorch is still loading."""
        if self._built is None:
            raise RuntimeError("the window is still loading")
        return self._built

    # each page, or None while PyTorch is still loading
    @property
    def results_panel(self) -> ResultsPanel | None:
        return None if self._built is None else self._built.results

    @property
    def predict_panel(self) -> PredictPanel | None:
        return None if self._built is None else self._built.predict

    @property
    def runs_panel(self) -> RunsPanel | None:
        return None if self._built is None else self._built.runs

    @property
    def compare_panel(self) -> ComparePanel | None:
        return None if self._built is None else self._built.compare

    @property
    def rank_panel(self) -> RankPanel | None:
        return None if self._built is None else self._built.rank

    @property
    def label_review_panel(self) -> LabelReviewPanel | None:
        return None if self._built is None else self._built.label_review

    @property
    def label_page(self) -> LabelPage | None:
        return None if self._built is None else self._built.label

    @Slot()
    def _build_pages(self) -> None:
        from tlgui.ui.pages.compare_panel import ComparePanel
        from tlgui.ui.pages.label.page import LabelPage
        from tlgui.ui.pages.label_review.panel import LabelReviewPanel
        from tlgui.ui.pages.predict_panel import PredictPanel
        from tlgui.ui.pages.rank_panel import RankPanel
        from tlgui.ui.pages.results_panel import ResultsPanel
        from tlgui.ui.pages.runs.panel import RunsPanel

        self._built = p = Pages(ResultsPanel(), PredictPanel(), RunsPanel(), ComparePanel(), RankPanel(),
                                LabelReviewPanel(), LabelPage())
        for index, panel in enumerate((p.results, p.predict, p.runs, p.compare, p.rank, p.label_review, p.label),
                                      start=1):
            old = self.pages.widget(index)
            self.pages.removeTab(index)
            self.pages.insertTab(index, panel, PAGE_TITLES[index])
            if old is not None:
                old.deleteLater()
        self._connect_pages(p)
        p.label.remember_folder(self.window.settings.label_folder)
        self._update_label_backbone()
        self.pages.currentChanged.connect(self._on_page_changed)
        self.menus.set_panels_ready(True)

    def _connect_pages(self, p: Pages) -> None:
        w = self.window
        w.run_finished.connect(self._on_run_finished)
        p.runs.evaluate_requested.connect(self.show_results)
        p.results.check_labels_requested.connect(self.show_label_review)
        p.results.check_cell_labels_requested.connect(self.show_cell_label_review)
        p.label_review.retrain_requested.connect(self.retrain_with_corrections)
        p.runs.use_weights_requested.connect(self.use_weights)
        p.runs.resume_requested.connect(self.resume_run)
        p.compare.comparison_finished.connect(self._on_comparison_finished)
        p.compare.running_changed.connect(self._on_compare_running)
        w.controller.running_changed.connect(p.compare.set_locked)
        p.compare.rank_requested.connect(self.show_rank)
        p.rank.train_requested.connect(self.train_from_rank)
        p.rank.running_changed.connect(self._on_compare_running)
        p.label.train_requested.connect(self.train_on_labels)
        p.label.folder_changed.connect(self._remember_label_folder)

    @Slot(int)
    def _on_page_changed(self, index: int) -> None:
        # the transfer check reads the current choices when it is shown, not on every edit
        p, page = self.built, self.pages.widget(index)
        if page is p.compare and self.train.has_panels():
            self.update_compare_context()
        if page is p.rank and self.train.has_panels():
            dataset_panel = self.train.built_panels().dataset
            data, values = dataset_panel.choice(), self.train.training_panel.values()
            image_values: dict[str, str] | None
            try:  # the data panel's image values: the head-only run made with them reuses the features
                image_values, problem = dataset_panel.image_choices(), None
            except ConfigError as exc:
                image_values, problem = None, f"Image values on the Train page: {exc}"
            p.rank.set_context(data.data, data.val_data, int(values["seed"]), values.get("device", "auto"),
                               values.get("image_size"), image_values, problem)
        if page is p.label:
            self._update_label_backbone()

    def _update_label_backbone(self) -> None:
        """The Label page's suggestions come from the Train page's model choice."""
        if self.train.has_panels():
            model = self.train.built_panels().model.choice()
            self.built.label.set_backbone(model.architecture, model.weights)

    @Slot(str)
    def _remember_label_folder(self, folder: str) -> None:
        self.window.settings.label_folder = folder

    @Slot(str)
    def train_on_labels(self, labels_csv: str) -> None:
        """"Train on these labels" on the Label page: its labels CSV becomes the Train page's data."""
        from tlgui.ui.base.choices import DatasetChoice

        w = self.window
        if w.controller.is_running():
            w.statusBar().showMessage("A run is training; choose the labels as data once it has finished", 8000)
            return
        dataset_panel = self.train.built_panels().dataset
        dataset_panel.set_choice(DatasetChoice(labels_csv, val_split=dataset_panel.choice().val_split))
        self.pages.setCurrentIndex(0)
        self.train.show_data_tab()
        w.statusBar().showMessage(f"Training data: the labels in {labels_csv}; press Train", 10000)

    @Slot()
    def show_rank(self) -> None:
        self.pages.setCurrentWidget(self.built.rank)

    @Slot(str, str, str)
    def train_from_rank(self, architecture: str, weights: str, strategy: str) -> None:
        """"Train this" on the Which model? page: model, weights and freeze preset on the Train page."""
        from tlgui.core.models.layers import FreezePlan
        from tlgui.core.training.strategy import Strategy

        if self.window.controller.is_running():
            return
        self.use_weights(architecture, weights)
        self.train.built_panels().layers.set_plan(FreezePlan.parse(Strategy(strategy).freeze))
        self.window.statusBar().showMessage(f"Train page set to {architecture}, {strategy}", 8000)

    def update_compare_context(self) -> None:
        panels = self.train.built_panels()
        model, data = panels.model.choice(), panels.dataset.choice()
        values = self.train.training_panel.values()
        self.built.compare.set_context(
            data.data, data.val_data, model.architecture, model.weights,
            int(values["epochs"]), int(values["seed"]), int(values["batch_size"]), values.get("lr"),
            split=data.split, val_split=float(data.val_split), device=values.get("device", "auto"),
            optimizer=values.get("optimizer", "adam"), schedule=values.get("schedule", "cosine"),
            image_size=values.get("image_size"),
        )

    @Slot(object)
    def _on_run_finished(self, result: RunResult | None) -> None:
        if result is None or not result.run_dir:
            return
        model = Path(result.run_dir) / "model.pt"
        self.built.runs.add_run(result.run_dir)
        if model.is_file():
            self.built.predict.set_model(str(model))
            self.built.results.show_run(result.run_dir)

    @Slot(object)
    def _on_comparison_finished(self, _result: object) -> None:
        self.built.runs.refresh()

    @Slot(bool)
    def _on_compare_running(self, running: bool) -> None:
        # one job at a time: no Train while the transfer check runs
        self.window.set_busy_elsewhere(running)

    @Slot(str)
    def show_results(self, run_dir: str) -> None:
        self.built.results.show_run(run_dir)
        self.pages.setCurrentWidget(self.built.results)

    @Slot(str)
    def show_label_review(self, run_dir: str) -> None:
        if run_dir:
            self.built.label_review.set_run(run_dir)
            self.pages.setCurrentWidget(self.built.label_review)

    @Slot(str, str, str)
    def show_cell_label_review(self, run_dir: str, given: str, looks_like: str) -> None:
        """"Check these labels" under a confusion-matrix cell: that cell's suspects only."""
        if run_dir:
            self.built.label_review.set_run(run_dir, focus=(given, looks_like))
            self.pages.setCurrentWidget(self.built.label_review)

    @Slot(str, str)
    def retrain_with_corrections(self, data: str, corrections: str) -> None:
        """The Train page's next run on ``data`` applies ``corrections`` (its files stay as they are)."""
        from tlgui.ui.base.choices import DatasetChoice

        w = self.window
        if w.controller.is_running():
            return
        self.train.corrections = (data, corrections)  # build_config reads it while this data set is chosen
        dataset_panel = self.train.built_panels().dataset
        if dataset_panel.choice().data != data:
            dataset_panel.set_choice(DatasetChoice(data))
        self.pages.setCurrentIndex(0)
        self.train.show_data_tab()
        w.statusBar().showMessage(f"The next run applies the label corrections in {corrections}; press Start", 15000)

    @Slot(str)
    def resume_run(self, run_dir: str) -> None:
        self.pages.setCurrentIndex(0)
        self.window.resume_run(run_dir)

    @Slot(str, str)
    def use_weights(self, architecture: str, weights: str) -> None:
        from tlgui.ui.base.choices import ModelChoice

        w = self.window
        if w.controller.is_running():
            return
        self.train.built_panels().model.set_choice(ModelChoice(architecture, weights))
        self.pages.setCurrentIndex(0)
        self.train.show_model_tab()
        shown = Path(weights).name if weights not in ("none", "default") else weights
        w.statusBar().showMessage(f"Starting weights: {shown}", 8000)

    # ---------------------------------------------------------------- dialogs
    def _parent(self) -> QWidget:
        """The main window, as the dialogs' parent."""
        return self.pages.window()

    def _show(self, dialog: QDialog) -> None:
        self._dialogs.add(dialog)
        dialog.finished.connect(lambda *_: self._dialogs.discard(dialog))
        dialog.open()

    @Slot()
    def open_weights_library(self) -> None:
        from tlgui.ui.dialogs.weights_dialog import WeightsLibraryDialog

        model_panel = self.train.built_panels().model
        dialog = WeightsLibraryDialog(self._parent(), architecture=model_panel.choice().architecture)
        dialog.weights_chosen.connect(self.use_weights)
        dialog.finished.connect(lambda *_: model_panel.refresh())
        self._show(dialog)

    @Slot()
    def open_my_models(self) -> None:
        from tlgui.ui.dialogs.my_models_dialog import MyModelsDialog

        dialog = MyModelsDialog(self._parent())
        dialog.model_chosen.connect(self.use_weights)
        self._show(dialog)

    @Slot()
    def open_builtin_datasets(self) -> None:
        from tlgui.ui.dialogs.builtin_dataset_dialog import BuiltinDatasetDialog

        dialog = BuiltinDatasetDialog(self._parent())
        dialog.dataset_chosen.connect(self.use_dataset)
        self._show(dialog)

    @Slot(str)
    def use_dataset(self, spec: str) -> None:
        from tlgui.ui.base.choices import DatasetChoice

        w = self.window
        if w.controller.is_running():
            return
        # built-in sets come with their own test split: validate on it
        self.train.built_panels().dataset.set_choice(DatasetChoice(spec, val_data=spec))
        self.pages.setCurrentIndex(0)
        self.train.show_data_tab()

    @Slot()
    def open_health_check(self) -> None:
        from tlgui.ui.dialogs.health_dialog import DatasetHealthDialog

        choice = self.train.built_panels().dataset.choice()
        folder: str | None = choice.data if _is_plain_folder(choice.data) else None
        val = choice.val_data if _is_plain_folder(choice.val_data) else None
        if folder is None:
            folder = QFileDialog.getExistingDirectory(self._parent(), "Choose an image folder to check")
            if not folder:
                return
        dialog = DatasetHealthDialog(folder, val, self._parent())
        self._show(dialog)
        dialog.start()

    @Slot()
    def open_run_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self._parent(), "Open a run folder (it holds config.json)")
        if not folder:
            return
        if not (Path(folder) / "config.json").is_file():
            QMessageBox.information(
                self._parent(), "Not a run folder", f"{folder} holds no config.json, so it is not a tlgui run."
            )
            return
        self.built.runs.add_run(folder)
        self.pages.setCurrentWidget(self.built.runs)

    # ---------------------------------------------------------------- shutdown
    def shutdown(self) -> None:
        self.menus.shutdown()
        for dialog in list(self._dialogs):
            dialog.done(0)
        p = self._built
        if p is None:
            return
        p.compare.shutdown()
        p.rank.shutdown()
        p.label.shutdown()
        for panel in (p.results, p.predict, p.runs, p.compare, p.rank, p.label_review, p.label):
            panel.close()


def _is_plain_folder(spec: str | None) -> bool:
    if not spec:
        return False
    return not spec.startswith(_FOLDER_SOURCES) and not spec.endswith(".csv") and Path(spec).is_dir()
