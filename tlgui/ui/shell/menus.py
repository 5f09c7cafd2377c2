"""The window's menu bar: File, Models, Data, Help. Actions that need PyTorch's panels stay
disabled until they exist; the image cache and About commands live here, the dialogs in
:mod:`workspace`."""

from __future__ import annotations

from PySide6.QtCore import QObject, Slot
from PySide6.QtGui import QAction, QGuiApplication, QKeySequence
from PySide6.QtWidgets import QInputDialog, QMessageBox

from tlgui.settings import save_settings
from tlgui.ui.base.background import TaskRunner
from tlgui.ui.base.errors import show_error
from tlgui.ui.dialogs.user_guide import UserGuideDialog

# F1 on a page opens the guide where that page is explained: tab title -> (page, heading)
GUIDE_SECTIONS = {
    "Train": ("training.md", None),
    "Results": ("results-and-labels.md", None),
    "Predict": ("predict-and-export.md", None),
    "Runs": ("training.md", "The run folder, and resuming"),
    "Did transfer help?": ("did-transfer-help.md", None),
    "Which model?": ("choosing-a-model.md", "Which model?"),
    "Check labels": ("results-and-labels.md", "Which labels are probably wrong"),
    "Label": ("labelling.md", None),
}


class Menus(QObject):
    """Builds ``window``'s menu bar; the dialogs it opens are ``workspace``'s slots."""

    def __init__(self, window, workspace) -> None:
        super().__init__(window)
        self.window = window
        self.workspace = workspace
        self._runner = TaskRunner(self)  # the system report (it may wake the CUDA driver)
        self._guide: UserGuideDialog | None = None
        self._build()

    def _build(self) -> None:
        ws = self.workspace
        bar = self.window.menuBar()
        file_menu = bar.addMenu("&File")
        self._action(file_menu, "Open run folder…", ws.open_run_folder, "openRunAction")
        file_menu.addSeparator()
        self._action(file_menu, "Quit", self.window.close, "quitAction", QKeySequence.StandardKey.Quit)
        models = bar.addMenu("&Models")
        self._action(models, "Pretrained weights library…", ws.open_weights_library, "weightsLibraryAction")
        self._action(models, "My models…", ws.open_my_models, "myModelsAction")
        data = bar.addMenu("&Data")
        self._action(data, "Built-in data sets…", ws.open_builtin_datasets, "builtinDatasetsAction")
        self._action(data, "Check data set health…", ws.open_health_check, "healthCheckAction")
        data.addSeparator()
        self._action(data, "Image cache limit…", self.set_image_cache_limit, "imageCacheLimitAction")
        self._action(data, "Clear image cache…", self.clear_image_cache, "clearImageCacheAction")
        help_menu = bar.addMenu("&Help")
        self._action(help_menu, "User guide", self.show_user_guide, "userGuideAction",
                     QKeySequence.StandardKey.HelpContents)
        help_menu.addSeparator()
        self._action(help_menu, "Copy system report", self.copy_system_report, "copySystemReportAction")
        self._action(help_menu, "About tlgui", self.show_about, "aboutAction")
        always = ("quitAction", "aboutAction", "copySystemReportAction", "userGuideAction")
        self._needs_panels = [a for a in bar.findChildren(QAction) if a.objectName() not in always]
        for action in self._needs_panels:
            action.setEnabled(False)

    def _action(self, menu, text, slot, name, shortcut=None) -> QAction:
        action = QAction(text, self.window)
        action.setObjectName(name)
        if shortcut is not None:
            action.setShortcut(shortcut)
        action.triggered.connect(slot)
        menu.addAction(action)
        return action

    @Slot()
    def set_image_cache_limit(self) -> None:
        """Ask for the decode cache's size limit (settings: ``image_cache_limit_gb``)."""
        from tlgui.core.data.decode_cache import cache_size_bytes, decode_cache_dir

        settings = self.window.settings  # the window saves this object on close: change it, not a copy
        _count, size = cache_size_bytes()
        gb, ok = QInputDialog.getDouble(
            self.window, "Image cache limit",
            f"Decoded images kept in {decode_cache_dir()} (now {size / 1e9:.2f} GB).\n"
            "Limit in GB (0 turns the cache off; the oldest images go first):",
            float(settings.image_cache_limit_gb), 0.0, 10000.0, 1,
        )
        if not ok:
            return
        before = settings.image_cache_limit_gb
        settings.image_cache_limit_gb = float(gb)
        if not save_settings(settings):  # training reads the limit from the settings file
            settings.image_cache_limit_gb = before
            self.window.statusBar().showMessage(
                f"The settings file could not be written; the image cache limit stays {before:g} GB")
            return
        self.window.statusBar().showMessage(f"Image cache limit: {gb:g} GB")

    @Slot()
    def clear_image_cache(self) -> None:
        """Delete the decoded images (tlgui.core.data.decode_cache) and the stored backbone
        features (tlgui.core.training.feature_store) kept on disk, after asking."""
        from tlgui.core.data.decode_cache import cache_size_bytes, clear_cache, decode_cache_dir
        from tlgui.core.training.feature_store import clear_features, store_dir, store_size

        count, size = cache_size_bytes()
        sets, feature_bytes = store_size()
        answer = QMessageBox.question(
            self.window, "Clear image cache",
            f"Delete the {count:,} decoded image(s) ({size / 1e6:.1f} MB) kept in {decode_cache_dir()}\n"
            f"and the {sets:,} stored feature set(s) ({feature_bytes / 1e6:.1f} MB) kept in {store_dir()}?\n"
            "Your images and runs are not touched; the next run decodes its images again, and the next "
            "rank or head-only run reads its features afresh.",
        )
        if answer != QMessageBox.StandardButton.Yes:
            return
        try:
            count, size = clear_cache()
            sets, feature_bytes = clear_features()
        except OSError as exc:
            self.window.statusBar().showMessage(f"The image cache could not be cleared: {exc}")
            return
        self.window.statusBar().showMessage(f"Image cache cleared: {count:,} image(s) and {sets:,} feature set(s), "
                                            f"{(size + feature_bytes) / 1e6:.1f} MB freed")

    def set_panels_ready(self, ready: bool) -> None:
        for action in self._needs_panels:
            action.setEnabled(ready)

    @Slot()
    def copy_system_report(self) -> None:
        """Versions, device, threads, Qt platform, folders and their sizes, on the clipboard
        for a bug report (``tlgui doctor`` prints the same); gathered off the GUI thread."""
        platform = QGuiApplication.platformName()

        def gather(_job):
            from tlgui.core.workflows.system_report import system_report_text

            return system_report_text(platform)

        self.window.statusBar().showMessage("Gathering the system report…")
        self._runner.start(gather, self._report_ready, self._report_failed, name="system-report")

    def _report_ready(self, text: str) -> None:
        QGuiApplication.clipboard().setText(text)
        self.window.statusBar().showMessage(
            "System report copied to the clipboard: paste it into your bug report", 8000
        )

    def _report_failed(self, exc: BaseException) -> None:
        self.window.statusBar().clearMessage()
        show_error(self.window, f"Could not gather the system report: {exc}")

    def shutdown(self) -> None:
        self._runner.shutdown()

    @Slot()
    def show_user_guide(self) -> None:
        """Open (or raise) the guide at the section about the page on show."""
        if self._guide is None:
            self._guide = UserGuideDialog(self.window)
        pages = getattr(self.window, "pages", None)
        title = pages.tabText(pages.currentIndex()) if pages is not None else ""
        page, section = GUIDE_SECTIONS.get(title, ("index.md", None))
        self._guide.show_page(page, section)
        self._guide.show()
        self._guide.raise_()
        self._guide.activateWindow()

    @Slot()
    def show_about(self) -> None:
        from tlgui import __version__

        QMessageBox.about(
            self.window,
            "About tlgui",
            f"<b>tlgui {__version__}</b><br>Transfer learning, point and click.<br><br>"
            "Pick a pretrained network, choose which layers to train, and see whether "
            "transfer helped on your own images. Runs entirely on this computer.",
        )
