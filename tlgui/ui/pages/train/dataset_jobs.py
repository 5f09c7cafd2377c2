"""What the dataset panel runs on worker threads: open a data set (and say what kind of
images it holds), decode thumbnails.

Plain Python (no widgets); results travel back to the GUI thread as queued signals.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from tlgui.ui.base.background import Job
from tlgui.ui.base.choices import DatasetChoice
from tlgui.ui.widgets.gallery import thumbnail

if TYPE_CHECKING:
    from tlgui.core.data.image_kind import ImageKind
    from tlgui.core.data.sources import ImageSet

THUMB = 64  # thumbnails are decoded to at most this side; the grid scales small ones up


def torchvision_names() -> tuple[str, ...]:
    from tlgui.core.data.builtin_sets import KNOWN_TORCHVISION

    return tuple(KNOWN_TORCHVISION)


@dataclasses.dataclass
class Loaded:
    generation: int
    choice: DatasetChoice
    images: ImageSet | None  # None: ``error`` says why
    val_images: ImageSet | None
    channels: int
    error: str | None = None
    kind: ImageKind | None = None  # None: could not tell


def kind_text(kind, images: int) -> str:
    """What the data panel says about the pixels: "4 channels, 16-bit (12-bit values), 600 images"
    for lab images; nothing for 8-bit pictures, whose summary line already says grayscale or colour."""
    if kind is None or not needs_image_values(kind):
        return ""
    return kind.describe(images=images)


def needs_image_values(kind) -> bool:
    """Whether the channel, intensity and stack choices mean something for these images:
    deeper than 8 bits, read as arrays (TIFF stacks, .npy), or not 1 or 3 channels."""
    return kind is not None and (kind.deep or kind.arrays or kind.channels not in (1, 3))


def open_data(choice: DatasetChoice, generation: int, job: Job, stack: str = "middle") -> Loaded:
    """Runs on a worker thread: open the data (and the validation data) once, and look at a
    few of its images to tell their kind (channels, bit depth, values used)."""
    from tlgui.core.base.errors import TlguiError
    from tlgui.core.data.catalog import open_source
    from tlgui.core.data.image_kind import probe_kind

    try:
        images = open_source(choice.data, choice.split)
        val_images = open_source(choice.val_data, "test") if choice.val_data else None
        channels = images.channels()
    except TlguiError as exc:
        return Loaded(generation, choice, None, None, 0, str(exc))
    except OSError as exc:
        return Loaded(generation, choice, None, None, 0, f"cannot read {choice.data}: {exc.strerror or exc}")
    try:
        kind = probe_kind(images, stack=stack) if len(images) else None
    except TlguiError:
        kind = None  # no image could be read: the status line and the thumbnails say so
    return Loaded(generation, choice, images, val_images, channels, kind=kind)


def read_thumbnails(images, generation: int, per_class: int, max_classes: int, job: Job,
                    stack: str = "middle") -> int:
    """Runs on a worker thread: decode a few images per class, reporting them in batches of
    ``(class index, sample, Thumb, description)`` (a Thumb keeps the small raw image)."""
    from tlgui.core.data.image_kind import load_reduced

    labels = np.asarray(images.labels)
    batch: list[tuple[int, int, object, str]] = []
    made = 0
    for class_index in range(min(len(images.classes), max_classes)):
        members = np.flatnonzero(labels == class_index)[:per_class]
        for sample in members:
            if job.cancelled():
                return made
            try:
                thumb = thumbnail(load_reduced(images, int(sample), THUMB, stack), THUMB)
            except Exception:  # noqa: BLE001 - a bad file simply gets no thumbnail
                continue
            batch.append((class_index, int(sample), thumb, images.describe(int(sample))))
            made += 1
        if len(batch) >= 8:
            job.report((generation, batch))
            batch = []
    if batch:
        job.report((generation, batch))
    return made


def problems(images, val_images=None) -> list[str]:
    """Warnings worth showing: the source's own, skipped files, validation mismatches."""
    lines = list(images.warnings)
    if images.skipped:
        shown = "; ".join(f"{Path(p).name} ({why})" for p, why in images.skipped[:3])
        more = f" and {len(images.skipped) - 3} more" if len(images.skipped) > 3 else ""
        lines.append(f"skipped {len(images.skipped)} unreadable file(s): {shown}{more}")
    if val_images is not None:
        lines.extend(f"validation: {w}" for w in val_images.warnings)
        missing = sorted(set(images.classes) - set(val_images.classes))
        if missing:
            lines.append(f"the validation data has no images of {', '.join(missing[:5])}")
    return lines
