"""Pictures of the Label page, decoded off the GUI thread only when asked for, and kept in a small cache.

A view asks :meth:`ImageCache.get` for the pictures it paints; a missing one is queued and a
background job decodes the queue (newest requests first, so what is on screen comes first) and
sends ``loaded(path)``. So a folder of 50,000 images decodes only what is shown. Images are
composited for the screen as elsewhere in the window (``core.data.display``: per-channel
auto-contrast, a colour per channel); a file that cannot be read gets its reason instead.
"""

from __future__ import annotations

from collections import OrderedDict

import numpy as np
from PySide6.QtCore import QObject, Qt, Signal, Slot
from PySide6.QtGui import QPixmap

from tlgui.ui.base.background import TaskRunner

_PER_JOB = 8  # pictures decoded per background job (the newest requests first)


def decode(path: str, side: int) -> np.ndarray:
    """Worker thread: ``path`` read by the training readers and fitted into ``side`` pixels, as RGB."""
    from tlgui.core.data.sources import load_image_file
    from tlgui.ui.widgets.gallery import thumbnail_array

    return thumbnail_array(load_image_file(path), side)


def _decode_all(paths: list[str], side: int, job) -> None:
    for path in paths:
        if job.cancelled():
            return
        try:
            job.report((path, decode(path, side), None))
        except Exception as exc:  # noqa: BLE001 - a broken file gets its reason, not a crash
            job.report((path, None, str(exc) or type(exc).__name__))


class ImageCache(QObject):
    """Pictures of one size; ``loaded(path)`` once a requested one is ready (or failed)."""

    loaded = Signal(str)

    def __init__(self, side: int, limit: int = 400, parent: QObject | None = None):
        super().__init__(parent)
        self.side = side
        self.limit = limit
        self.decoded = 0  # files decoded so far (a test checks a big folder is not decoded whole)
        self._pixmaps: OrderedDict[str, QPixmap] = OrderedDict()
        self._errors: dict[str, str] = {}
        self._wanted: list[str] = []  # newest last
        self._running = False  # a decoding job runs (its own flag: a thread that sent finished may still be ending)
        self._closed = False
        self._runner = TaskRunner(self)

    def get(self, path: str) -> QPixmap | None:
        """The picture if it is ready; otherwise None, and it is decoded soon."""
        pixmap = self._pixmaps.get(path)
        if pixmap is not None:
            self._pixmaps.move_to_end(path)
            return pixmap
        if path not in self._errors:
            self.request([path])
        return None

    def error(self, path: str) -> str | None:
        """Why ``path`` could not be shown (None: no problem known)."""
        return self._errors.get(path)

    def request(self, paths: list[str]) -> None:
        """Decode these soon (the last one first); pictures already here are left as they are."""
        for path in paths:
            if path in self._pixmaps or path in self._errors:
                continue
            if path in self._wanted:
                self._wanted.remove(path)
            self._wanted.append(path)
        self._pump()

    def clear(self) -> None:
        self._runner.cancel_all()  # its end (on_ended) still clears the running flag
        self._pixmaps.clear()
        self._errors.clear()
        self._wanted.clear()

    def busy(self) -> bool:
        return self._running or bool(self._wanted)

    def shutdown(self) -> None:
        self._closed = True
        self._wanted.clear()
        self._runner.shutdown()

    def _pump(self) -> None:
        if self._running or self._closed or not self._wanted:
            return
        batch = self._wanted[-_PER_JOB:][::-1]
        del self._wanted[-_PER_JOB:]
        side = self.side
        self._running = True
        self._runner.start(lambda job: _decode_all(batch, side, job), None, None, self._on_picture,
                           name="label-pictures", on_ended=self._ended)

    @Slot()
    def _ended(self) -> None:
        self._running = False
        self._pump()

    def _on_picture(self, payload) -> None:
        path, rgb, error = payload
        self.decoded += 1
        if rgb is None:
            self._errors[path] = error
        else:
            from tlgui.ui.widgets.gallery import to_qimage

            self._pixmaps[path] = QPixmap.fromImage(to_qimage(rgb))
            while len(self._pixmaps) > self.limit:
                self._pixmaps.popitem(last=False)
        self.loaded.emit(path)


def fitted(pixmap: QPixmap, width: int, height: int) -> QPixmap:
    """``pixmap`` scaled to fit, small images enlarged with sharp pixels (as the galleries do)."""
    small = max(pixmap.width(), pixmap.height()) < min(width, height)
    mode = Qt.TransformationMode.FastTransformation if small else Qt.TransformationMode.SmoothTransformation
    return pixmap.scaled(max(1, width), max(1, height), Qt.AspectRatioMode.KeepAspectRatio, mode)

