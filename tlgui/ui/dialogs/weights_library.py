"""The weights library as the weights dialog reads and tells it: its rows (published entries and
imported files), which row is which across refreshes, the files a drop carries, and the sentences
an import or a download ends with."""

from __future__ import annotations

from tlgui.ui.dialogs.weights_table import (
    ERROR_COLOUR,
    MISSING_COLOUR,
    OK_COLOUR,
    PRESENT_COLUMN,
    WEIGHT_SUFFIXES,
    Row,
    human_count,
    human_size,
)

NEEDS_ARCH = "cannot tell which architecture"  # the core's words when a file's architecture is unknown


def list_library(_job: object) -> list[Row]:
    """Worker thread: the rows of every published entry and every imported file, as on disk now."""
    from tlgui.core.library.catalog import list_custom_weights, list_weights

    return weight_rows(list_weights(), list_custom_weights())


def weight_rows(infos, customs=()) -> list[Row]:
    """Rows for :func:`list_weights` entries and :func:`list_custom_weights` files."""
    from pathlib import Path

    rows = []
    for w in infos:
        entry = f"{w.entry} (default)" if w.is_default else w.entry
        present = "✔ yes" if w.present else "no"
        rows.append(Row(
            cells=(w.architecture, entry, present, human_size(w.size_bytes),
                   f"{w.acc1:.1f} %" if w.acc1 is not None else "—", human_count(w.num_params), w.file_name),
            keys=(None, None, int(w.present), w.size_bytes or 0, w.acc1 or 0.0, w.num_params or 0, None),
            payload=w,
            search=f"{w.architecture} {w.entry} {w.file_name}",
            tooltips={PRESENT_COLUMN: w.path or f"not on this computer; published at {w.url}",
                      6: w.path or w.url},
            colours={PRESENT_COLUMN: OK_COLOUR if w.present else MISSING_COLOUR},
        ))  # fmt: skip
    for c in customs:
        arch = c.architecture or "unknown"
        classes = f"custom, {c.num_classes} classes" if c.num_classes else "custom"
        rows.append(Row(
            cells=(arch, classes, "✔ yes", human_size(c.size_bytes), "—", "—", Path(c.path).name),
            keys=(None, None, 1, c.size_bytes, 0.0, 0, None),
            payload=c,
            search=f"{arch} custom {Path(c.path).name} {c.original_name or ''}",
            tooltips={0: c.problem or "", 1: f"imported from {c.original_name}" if c.original_name else "",
                      6: c.path},
            colours={PRESENT_COLUMN: OK_COLOUR, **({0: ERROR_COLOUR} if c.problem else {})},
        ))  # fmt: skip
    return rows


def dropped_weight_files(mime) -> list[str]:
    """Local weight files (.pth, .pt, .safetensors, .bin) in a drag's data."""
    if not mime.hasUrls():
        return []
    return [
        url.toLocalFile() for url in mime.urls()
        if url.isLocalFile() and url.toLocalFile().lower().endswith(WEIGHT_SUFFIXES)
    ]  # fmt: skip


def import_message(result) -> str:
    """One sentence for a person about an :class:`ImportResult`."""
    where = "already in the library" if result.already_present else "imported"
    if result.kind == "torchvision":
        return (
            f"Recognised as torchvision's {result.architecture} {result.entry} ({where}, "
            f"{result.path.name}). It is available offline now."
        )
    if result.kind == "model":
        return (
            f"This is a tlgui model ({result.architecture}, {result.num_classes} classes), {where}; "
            "it is listed under My models."
        )
    note = (" It has the layout of a published file but different values."
            if "is not torchvision's" in result.message else "")
    return (f"Recognised as {result.architecture} weights ({result.num_classes} classes), {where} as custom weights: "
            f"{result.path}.{note}")


def row_key(info):
    """What identifies a row across refreshes (its file may appear or move)."""
    return None if info is None else (info.architecture, getattr(info, "entry", None) or info.path)


def sentence(text: str) -> str:
    # the core speaks CLI; here the same step is a button
    text = text.strip().replace("use 'tlgui weights import FILE'", "use “Import file…” here")
    text = text[:1].upper() + text[1:]
    return text if text.endswith((".", "!", "?")) else text + "."


def unknown_architecture(text: str) -> str | None:
    """Why an import could not tell which architecture a file is for (None: it failed otherwise)."""
    if NEEDS_ARCH not in text:
        return None
    return text.split(" (", 1)[-1].rsplit(");", 1)[0] if " (" in text else text
