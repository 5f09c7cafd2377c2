"""The image being labelled, large, with what the model suggests for it. The pictures of the
queued images are decoded ahead (:meth:`CurrentImage.prefetch`), so the next one shows at once."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Slot
from PySide6.QtWidgets import QLabel, QSizePolicy, QVBoxLayout, QWidget

from tlgui.ui.pages.label.image_cache import ImageCache, fitted
from tlgui.ui.pages.label.label_queue import Pick

SIDE = 640  # decoded size of the large picture
_WHY = {"typical": "a typical image of a group with few labels", "margin": "the model is unsure about it",
        "random": "drawn at random (keeps the accuracy estimate honest)"}


class _Picture(QLabel):
    """A picture that rescales with the label's size."""

    def __init__(self):
        super().__init__(objectName="labelCurrentPicture", alignment=Qt.AlignmentFlag.AlignCenter)
        self.setMinimumSize(200, 160)
        # Ignored: the pixmap set on each resize must not grow the label's size hint (and the page)
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Ignored)
        self.source = None

    def set_source(self, pixmap, text: str = "") -> None:
        self.source = pixmap
        if pixmap is None:
            self.clear()
            self.setText(text)
        else:
            self._fit()

    def resizeEvent(self, event) -> None:  # Qt override
        super().resizeEvent(event)
        self._fit()

    def _fit(self) -> None:
        if self.source is not None:
            self.setPixmap(fitted(self.source, self.width() - 4, self.height() - 4))


class CurrentImage(QWidget):
    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("labelCurrentImage")
        self.cache = ImageCache(SIDE, limit=40, parent=self)
        self.cache.loaded.connect(self._on_loaded)
        self.pick: Pick | None = None
        self.picture = _Picture()
        self.caption = QLabel("", objectName="labelCurrentCaption", wordWrap=True,
                              alignment=Qt.AlignmentFlag.AlignHCenter)
        self.caption.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.problem = QLabel("", objectName="labelImageProblem", wordWrap=True, visible=False)
        self.problem.setStyleSheet("color: #c0392b;")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.picture, 1)
        layout.addWidget(self.caption)
        layout.addWidget(self.problem)

    def show_pick(self, pick: Pick | None, empty_text: str = "") -> None:
        self.pick = pick
        self.problem.hide()
        if pick is None:
            self.picture.set_source(None, empty_text)
            self.caption.setText("")
            return
        if pick.suggested:
            confidence = f" ({100 * pick.confidence:.0f} %)" if pick.confidence is not None else ""
            said = f"The model suggests <b>{pick.suggested}</b>{confidence}: Enter accepts it."
        else:
            said = "No suggestion yet: press the number key of its class."
        why = _WHY.get(pick.picked, pick.picked)
        self.caption.setText(f"{Path(pick.path).name} · {why}<br>{said}")
        self.caption.setToolTip(pick.path)
        self._show_picture(pick.path)

    def prefetch(self, picks: list[Pick]) -> None:
        """Decode these next (the first soonest)."""
        self.cache.request([p.path for p in reversed(picks)])

    def problem_text(self) -> str:
        return self.problem.text() if self.problem.isVisible() else ""

    def _show_picture(self, path: str) -> None:
        pixmap = self.cache.get(path)
        error = self.cache.error(path)
        if error:
            self.picture.set_source(None, "This image cannot be shown.")
            self.problem.setText(f"{error}. Skip it (it is not labelled); the model never suggests unreadable images.")
            self.problem.show()
        else:
            self.picture.set_source(pixmap, "Loading the picture…")

    @Slot(str)
    def _on_loaded(self, path: str) -> None:
        if self.pick is not None and path == self.pick.path:
            self._show_picture(path)

    def shutdown(self) -> None:
        self.cache.shutdown()
