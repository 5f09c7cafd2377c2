"""The window's other pages and the dialogs its menus open: results, prediction, run history,
the transfer check, and the offline library dialogs (the menu bar itself: :mod:`menus`).

Kept apart from :mod:`main_window` so that the main window only wires the training page;
this module only connects panels' signals to each other (no training logic, no model).
"""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import QObject, Slot
from PySide6.QtWidgets import QFileDialog, QLabel, QMessageBox, QTabWidget, QWidget

from tlgui.core.base.errors import ConfigError
from tlgui.ui.shell.menus import Menus

log = logging.getLogger(__name__)

PAGE_TITLES = ("Train", "Results", "Predict", "Runs", "Did transfer help?", "Which model?", "Check labels", "Label")
_FOLDER_SOURCES = ("demo:", "torchvision:", "csv:")


class Workspace(QObject):
    """Owns the pages after "Train" and the dialogs of a :class:`MainWindow` (and its menu bar)."""

    def __init__(self, window, pages: QTabWidget) -> None:
        super().__init__(window)
        self.window = window
        self.pages = pages
        self.results_panel = self.predict_panel = self.runs_panel = self.compare_panel = self.rank_panel = None
        self.label_review_panel = self.label_page = None
        self._dialogs: set[QWidget] = set()  # open dialogs, kept alive until they close
        for title in PAGE_TITLES[1:]:
            placeholder = QLabel("Loading PyTorch…")
            placeholder.setEnabled(False)
            pages.addTab(placeholder, title)
        self.menus = Menus(window, self)
        window.panels_built.connect(self._build_pages)

    # ---------------------------------------------------------------- pages
    @Slot()
    def _build_pages(self) -> None:
        from tlgui.ui.pages.compare_panel import ComparePanel
        from tlgui.ui.pages.label.page import LabelPage
        from tlgui.ui.pages.label_review.panel import LabelReviewPanel
        from tlgui.ui.pages.predict_panel import PredictPanel
        from tlgui.ui.pages.rank_panel import RankPanel
        from tlgui.ui.pages.results_panel import ResultsPanel
        from tlgui.ui.pages.runs.panel import RunsPanel

        self.results_panel = ResultsPanel()
        self.predict_panel = PredictPanel()
        self.runs_panel = RunsPanel()
        self.compare_panel = ComparePanel()
        self.rank_panel = RankPanel()
        self.label_review_panel = LabelReviewPanel()
        self.label_page = LabelPage()
        for index, panel in enumerate((self.results_panel, self.predict_panel, self.runs_panel, self.compare_panel,
                                       self.rank_panel, self.label_review_panel, self.label_page), start=1):
            old = self.pages.widget(index)
            self.pages.removeTab(index)
            self.pages.insertTab(index, panel, PAGE_TITLES[index])
            old.deleteLater()
        w = self.window
        w.run_finished.connect(self._on_run_finished)
        self.runs_panel.evaluate_requested.connect(self.show_results)
        self.results_panel.check_labels_requested.connect(self.show_label_review)
        self.results_panel.check_cell_labels_requested.connect(self.show_cell_label_review)
        self.label_review_panel.retrain_requested.connect(self.retrain_with_corrections)
        self.runs_panel.use_weights_requested.connect(self.use_weights)
        self.runs_panel.resume_requested.connect(self.resume_run)
        self.compare_panel.comparison_finished.connect(self._on_comparison_finished)
        self.compare_panel.running_changed.connect(self._on_compare_running)
        w.controller.running_changed.connect(self.compare_panel.set_locked)
        self.compare_panel.rank_requested.connect(self.show_rank)
        self.rank_panel.train_requested.connect(self.train_from_rank)
        self.rank_panel.running_changed.connect(self._on_compare_running)
        self.label_page.train_requested.connect(self.train_on_labels)
        self.label_page.folder_changed.connect(self._remember_label_folder)
        self.label_page.remember_folder(w.settings.label_folder)
        self._update_label_backbone()
        self.pages.currentChanged.connect(self._on_page_changed)
        self.menus.set_panels_ready(True)

    @Slot(int)
    def _on_page_changed(self, index: int) -> None:
        # the transfer check reads the current choices when it is shown, not on every edit
        if self.pages.widget(index) is self.compare_panel and self.window.model_panel is not None:
            self.update_compare_context()
        if self.pages.widget(index) is self.rank_panel and self.window.dataset_panel is not None:
            data, values = self.window.dataset_panel.choice(), self.window.training_panel.values()
            try:  # the data panel's image values: the head-only run made with them reuses the features
                image_values, problem = self.window.dataset_panel.image_choices(), None
            except ConfigError as exc:
                image_values, problem = None, f"Image values on the Train page: {exc}"
            self.rank_panel.set_context(data.data, data.val_data, int(values["seed"]), values.get("device", "auto"),
                                        values.get("image_size"), image_values, problem)
        if self.pages.widget(index) is self.label_page:
            self._update_label_backbone()

    def _update_label_backbone(self) -> None:
        """The Label page's suggestions come from the Train page's model choice."""
        if self.window.model_panel is not None:
            model = self.window.model_panel.choice()
            self.label_page.set_backbone(model.architecture, model.weights)

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
        w.dataset_panel.set_choice(DatasetChoice(labels_csv, val_split=w.dataset_panel.choice().val_split))
        self.pages.setCurrentIndex(0)
        w.left_tabs.setCurrentWidget(w.dataset_panel)
        w.statusBar().showMessage(f"Training data: the labels in {labels_csv}; press Train", 10000)

    @Slot()
    def show_rank(self) -> None:
        self.pages.setCurrentWidget(self.rank_panel)

    @Slot(str, str, str)
    def train_from_rank(self, architecture: str, weights: str, strategy: str) -> None:
        """"Train this" on the Which model? page: model, weights and freeze preset on the Train page."""
        from tlgui.core.models.layers import FreezePlan
        from tlgui.core.training.strategy import Strategy

        if self.window.controller.is_running():
            return
        self.use_weights(architecture, weights)
        self.window.layer_panel.set_plan(FreezePlan.parse(Strategy(strategy).freeze))
        self.window.statusBar().showMessage(f"Train page set to {architecture}, {strategy}", 8000)

    def update_compare_context(self) -> None:
        w = self.window
        model, data = w.model_panel.choice(), w.dataset_panel.choice()
        values = w.training_panel.values()
        self.compare_panel.set_context(
            data.data, data.val_data, model.architecture, model.weights,
            int(values["epochs"]), int(values["seed"]), int(values["batch_size"]), values.get("lr"),
            split=data.split, val_split=float(data.val_split), device=values.get("device", "auto"),
            optimizer=values.get("optimizer", "adam"), schedule=values.get("schedule", "cosine"),
            image_size=values.get("image_size"),
        )

    @Slot(object)
    def _on_run_finished(self, result) -> None:
        if result is None or not result.run_dir:
            return
        model = Path(result.run_dir) / "model.pt"
        self.runs_panel.add_run(result.run_dir)
        if model.is_file():
            self.predict_panel.set_model(str(model))
            self.results_panel.show_run(result.run_dir)

    @Slot(object)
    def _on_comparison_finished(self, _result) -> None:
        self.runs_panel.refresh()

    @Slot(bool)
    def _on_compare_running(self, running: bool) -> None:
        # one job at a time: no Train while the transfer check runs
        self.window.set_busy_elsewhere(running)

    @Slot(str)
    def show_results(self, run_dir: str) -> None:
        self.results_panel.show_run(run_dir)
        self.pages.setCurrentWidget(self.results_panel)

    @Slot(str)
    def show_label_review(self, run_dir: str) -> None:
        if run_dir:
            self.label_review_panel.set_run(run_dir)
            self.pages.setCurrentWidget(self.label_review_panel)

    @Slot(str, str, str)
    def show_cell_label_review(self, run_dir: str, given: str, looks_like: str) -> None:
        """"Check these labels" under a confusion-matrix cell: that cell's suspects only."""
        if run_dir:
            self.label_review_panel.set_run(run_dir, focus=(given, looks_like))
            self.pages.setCurrentWidget(self.label_review_panel)

    @Slot(str, str)
    def retrain_with_corrections(self, data: str, corrections: str) -> None:
        """The Train page's next run on ``data`` applies ``corrections`` (its files stay as they are)."""
        from tlgui.ui.base.choices import DatasetChoice

        w = self.window
        if w.controller.is_running():
            return
        w.corrections = (data, corrections)  # build_config reads it while this data set is chosen
        if w.dataset_panel.choice().data != data:
            w.dataset_panel.set_choice(DatasetChoice(data))
        self.pages.setCurrentIndex(0)
        w.left_tabs.setCurrentWidget(w.dataset_panel)
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
        w.model_panel.set_choice(ModelChoice(architecture, weights))
        self.pages.setCurrentIndex(0)
        w.left_tabs.setCurrentWidget(w.model_panel)
        w.statusBar().showMessage(f"Starting weights: {Path(weights).name if weights not in ('none', 'default') else weights}", 8000)

    # ---------------------------------------------------------------- dialogs
    def _show(self, dialog) -> None:
        self._dialogs.add(dialog)
        dialog.finished.connect(lambda *_: self._dialogs.discard(dialog))
        dialog.open()

    @Slot()
    def open_weights_library(self) -> None:
        from tlgui.ui.dialogs.weights_dialog import WeightsLibraryDialog

        dialog = WeightsLibraryDialog(self.window, architecture=self.window.model_panel.choice().architecture)
        dialog.weights_chosen.connect(self.use_weights)
        dialog.finished.connect(lambda *_: self.window.model_panel.refresh())
        self._show(dialog)

    @Slot()
    def open_my_models(self) -> None:
        from tlgui.ui.dialogs.my_models_dialog import MyModelsDialog

        dialog = MyModelsDialog(self.window)
        dialog.model_chosen.connect(self.use_weights)
        self._show(dialog)

    @Slot()
    def open_builtin_datasets(self) -> None:
        from tlgui.ui.dialogs.builtin_dataset_dialog import BuiltinDatasetDialog

        dialog = BuiltinDatasetDialog(self.window)
        dialog.dataset_chosen.connect(self.use_dataset)
        self._show(dialog)

    @Slot(str)
    def use_dataset(self, spec: str) -> None:
        from tlgui.ui.base.choices import DatasetChoice

        w = self.window
        if w.controller.is_running():
            return
        # built-in sets come with their own test split: validate on it
        w.dataset_panel.set_choice(DatasetChoice(spec, val_data=spec))
        self.pages.setCurrentIndex(0)
        w.left_tabs.setCurrentWidget(w.dataset_panel)

    @Slot()
    def open_health_check(self) -> None:
        from tlgui.ui.dialogs.health_dialog import DatasetHealthDialog

        choice = self.window.dataset_panel.choice()
        folder = choice.data if _is_plain_folder(choice.data) else None
        val = choice.val_data if choice.val_data and _is_plain_folder(choice.val_data) else None
        if folder is None:
            folder = QFileDialog.getExistingDirectory(self.window, "Choose an image folder to check")
            if not folder:
                return
        dialog = DatasetHealthDialog(folder, val, self.window)
        self._show(dialog)
        dialog.start()

    @Slot()
    def open_run_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self.window, "Open a run folder (it holds config.json)")
        if not folder:
            return
        if not (Path(folder) / "config.json").is_file():
            QMessageBox.information(
                self.window, "Not a run folder", f"{folder} holds no config.json, so it is not a tlgui run."
            )
            return
        self.runs_panel.add_run(folder)
        self.pages.setCurrentWidget(self.runs_panel)

    # ---------------------------------------------------------------- shutdown
    def shutdown(self) -> None:
        self.menus.shutdown()
        for dialog in list(self._dialogs):
            dialog.done(0)
        for panel in (self.compare_panel, self.rank_panel, self.label_page):
            if panel is not None:
                panel.shutdown()
        for panel in (self.results_panel, self.predict_panel, self.runs_panel, self.compare_panel, self.rank_panel,
                      self.label_review_panel, self.label_page):
            if panel is not None:
                panel.close()


def _is_plain_folder(spec: str | None) -> bool:
    return bool(spec) and not spec.startswith(_FOLDER_SOURCES) and not spec.endswith(".csv") and Path(spec).is_dir()
