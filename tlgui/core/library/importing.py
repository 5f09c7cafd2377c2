"""Importing weight files into the library.

* :func:`import_weights` recognises a weight file by its name and its content (see
  :mod:`tlgui.core.weights_recognise`), verifies the SHA-256 prefix a torchvision file
  name carries, and copies it into ``weights_dir()`` under torchvision's file name, so
  ``--weights default`` finds it. Files that are not torchvision's published ones become
  *custom* weights, stored under ``weights_dir()/custom/`` with a JSON sidecar naming the
  architecture.

Long calls take ``progress(done_bytes, total_bytes)`` (rate-limited at the source) and a
``cancel`` flag (a ``threading.Event`` or a callable returning bool) so a GUI worker can
drive them; cancelling raises :class:`~tlgui.core.weights_recognise.Cancelled` and leaves
nothing behind.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tlgui.core.base.cancel import Cancelled, StopFlag, is_cancelled
from tlgui.core.base.checksums import hash_prefix_in_name, sha256_of
from tlgui.core.base.download import Progress, Throttled
from tlgui.core.base.errors import WeightsError
from tlgui.core.base.files import replace_file
from tlgui.core.library.catalog import WeightsSidecar, custom_dir
from tlgui.core.library.integrity import check_named_checksum
from tlgui.core.library.local import find_local_weights, weight_file_name
from tlgui.core.library.recognise import (
    Recognition,
    compare_with,
    load_for_inspection,
    recognise_state,
)
from tlgui.core.library.timm_weights import timm_sidecar_extras
from tlgui.core.models.state_dicts import extract_state_dict, normalise_keys

SIDECAR_FORMAT = "tlgui.weights"


_CHUNK = 1 << 20


@dataclass(frozen=True)
class ImportResult:
    path: Path  # where the file is in the library now
    kind: str  # "torchvision" | "custom" | "model" (a tlgui model.pt, put in models_dir())
    architecture: str
    entry: str | None  # torchvision entry name for kind "torchvision"
    num_classes: int | None
    sha256: str
    already_present: bool
    message: str


def _copy_hashing(src: Path, folder: Path, progress: Progress | None, cancel: StopFlag) -> tuple[Path, str]:
    """Copy ``src`` to a temp file in ``folder`` while hashing it; returns (temp, sha256)."""
    folder.mkdir(parents=True, exist_ok=True)
    total = src.stat().st_size
    report = Throttled(progress)
    digest = hashlib.sha256()
    fd, tmp_name = tempfile.mkstemp(prefix=".import-", suffix=".tmp", dir=folder)
    tmp = Path(tmp_name)
    try:
        done = 0
        with os.fdopen(fd, "wb") as out, open(src, "rb") as inp:
            while block := inp.read(_CHUNK):
                if is_cancelled(cancel):
                    raise Cancelled(f"importing {src.name} was cancelled; nothing was saved")
                digest.update(block)
                out.write(block)
                done += len(block)
                report(done, total)
        report(done, total, final=True)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return tmp, digest.hexdigest()


def _same_file(path: Path, sha: str) -> bool:
    try:
        return sha256_of(path) == sha
    except OSError:
        return False


def _place(tmp: Path, dest: Path, sha: str) -> bool:
    """Move ``tmp`` to ``dest``; True when an identical file was already there."""
    if dest.exists():
        if dest.is_file() and dest.stat().st_size == tmp.stat().st_size and _same_file(dest, sha):
            tmp.unlink(missing_ok=True)
            return True
        raise WeightsError(
            f"a different file named {dest.name} is already in {dest.parent}; nothing was changed "
            "(remove or rename one of them first)"
        )
    dest.parent.mkdir(parents=True, exist_ok=True)
    replace_file(tmp, dest)
    return False


def _published_match(architecture: str, sha: str):
    """The torchvision entry of ``architecture`` whose file-name hash prefix ``sha`` carries."""
    from tlgui.core.models.zoo import weight_entries

    for entry in weight_entries(architecture):
        prefix = hash_prefix_in_name(weight_file_name(entry))
        if prefix and sha.startswith(prefix):
            return entry
    return None


def _custom_name(src: Path, sha: str) -> str:
    """The source name, with ``-<sha256[:8]>`` added when it carries no hash prefix, so the
    stored file is verifiable later and two different ``model.pth`` never collide."""
    suffix = src.suffix if src.suffix in (".pth", ".pt", ".safetensors") else ".pth"
    stem = re.sub(r"[^\w.+-]+", "_", src.stem).strip("._") or "weights"
    if hash_prefix_in_name(src) is not None:
        return f"{stem}{suffix}"
    return f"{stem}-{sha[:8]}{suffix}"


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def _checksum_refusal(src: Path, prefix: str, sha: str) -> WeightsError:
    return WeightsError(
        f"{src.name}: the checksum does not match the one in its file name (expected SHA-256 "
        f"starting {prefix}, the file has {sha[:len(prefix)]}); the file is damaged or not the "
        "original, so it was not imported"
    )


def import_weights(
    path: str | Path,
    architecture: str | None = None,
    *,
    progress: Progress | None = None,
    cancel: StopFlag = None,
) -> ImportResult:
    """Put a weight file into the library; raises :class:`WeightsError` with one sentence.

    * torchvision's published file (recognised by name or content, SHA-256 prefix verified):
      copied to ``weights_dir()`` under torchvision's file name; ``--weights default`` uses it.
    * any other state dict whose architecture is recognised, or named by ``architecture``:
      *custom* weights under ``weights_dir()/custom/`` plus a JSON sidecar.
    * a tlgui ``model.pt``: copied to ``models_dir()/<name>/model.pt`` (it shows in My models).

    A file with code in its pickle, a file that is not a weight file, a wrong checksum, or
    a different file already stored under the same name is refused; nothing is changed.
    """
    from tlgui.core.models.checkpoint import is_tlgui_checkpoint
    from tlgui.paths import weights_dir

    src = Path(path).expanduser()
    if src.is_file():  # a damaged download must say so before unpickling fails cryptically
        check_named_checksum(src, ", so it was not imported")
    obj = load_for_inspection(src)
    if is_tlgui_checkpoint(obj):
        return _import_model_file(src, obj, progress, cancel)
    state = normalise_keys(extract_state_dict(obj, src))
    del obj
    rec = _recognise(src, state, architecture, cancel)
    del state
    arch = rec.architecture
    assert arch is not None  # _recognise names one or raises
    name_prefix = hash_prefix_in_name(src)
    tmp, sha = _copy_hashing(src, weights_dir(), progress, cancel)
    try:
        if name_prefix is not None and not sha.startswith(name_prefix):
            raise _checksum_refusal(src, name_prefix, sha)
        entry = _published_match(arch, sha) if rec.num_classes == 1000 else None
        if entry is not None:
            return _store_published(tmp, arch, rec, entry, sha)
        return _store_custom(tmp, src, arch, rec, sha)
    finally:
        tmp.unlink(missing_ok=True)


def _recognise(src: Path, state, architecture: str | None, cancel) -> Recognition:
    """The architecture the user named (checked against the tensors), else the one they fit."""
    from tlgui.core.models.zoo import check_architecture

    if architecture:
        fit = compare_with(check_architecture(architecture), state, src.name)
        if not fit.ok:
            other = recognise_state(state, src.name, cancel, hint_path=src).architecture
            raise WeightsError(fit.problem + (f"; they fit {other}" if other else ""))
        return Recognition(fit.architecture, fit.num_classes, fit.in_channels, fit.head_path)
    rec = recognise_state(state, src.name, cancel, hint_path=src)
    if rec.architecture is None:
        raise WeightsError(
            f"{src.name}: cannot tell which architecture these weights are for ({rec.reason}); "
            "name it with --arch NAME"
        )
    return rec


def _store_published(tmp: Path, arch: str, rec: Recognition, entry, sha: str) -> ImportResult:
    """torchvision's own file: stored under its published name, where --weights default looks."""
    from tlgui.paths import weights_dir

    dest = weights_dir() / weight_file_name(entry)
    found = find_local_weights(entry)
    if found is not None and found != dest and _same_file(found, sha):
        dest, already = found, True  # e.g. already in the torch hub cache
    else:
        already = _place(tmp, dest, sha)
    use = "--weights default" if _is_default(arch, entry) else f"--weights {dest}"
    message = (
        f"{'already in the library' if already else 'imported'}: {dest.name} is torchvision's "
        f"{arch} {entry.name}; train with --model {arch} {use}"
    )
    return ImportResult(dest, "torchvision", arch, entry.name, rec.num_classes, sha, already, message)


def _store_custom(tmp: Path, src: Path, arch: str, rec: Recognition, sha: str) -> ImportResult:
    """Any other recognised weights: stored under custom/ with a JSON sidecar describing them."""
    from tlgui.core.base.files import atomic_write_text
    from tlgui.core.models.zoo import default_weight_entry

    dest = custom_dir() / _custom_name(src, sha)
    already = _place(tmp, dest, sha)
    sidecar: WeightsSidecar = {
        "format": SIDECAR_FORMAT, "format_version": 1, "architecture": arch,
        "num_classes": rec.num_classes, "in_channels": rec.in_channels, "head_path": rec.head_path,
        "sha256": sha, "original_name": src.name, "imported": _now(),
    }
    text = json.dumps({**sidecar, **timm_sidecar_extras(src, arch)}, indent=2) + "\n"
    if not already or not dest.with_suffix(".json").is_file():
        atomic_write_text(dest.with_suffix(".json"), text)
    note = ""
    if _entries(arch) and rec.num_classes == 1000:
        note = (
            f"; it has the layout of {arch} but is not torchvision's published file "
            f"({weight_file_name(default_weight_entry(arch))})"
        )
    message = (
        f"{'already in the library' if already else 'imported'} as custom {arch} weights "
        f"({rec.num_classes} classes) at {dest}{note}; train with --model {arch} --weights {dest}"
    )
    return ImportResult(dest, "custom", arch, None, rec.num_classes, sha, already, message)


def _entries(architecture: str):
    from tlgui.core.models.zoo import weight_entries

    return weight_entries(architecture)


def _is_default(architecture: str, entry) -> bool:
    from tlgui.core.models.zoo import default_weight_entry

    return default_weight_entry(architecture) is entry


def _import_model_file(src: Path, ckpt: dict[str, Any], progress, cancel) -> ImportResult:
    """A tlgui model.pt goes to ``models_dir()/<name>/model.pt``."""
    from tlgui.core.models.zoo import check_architecture
    from tlgui.paths import models_dir

    for key in ("architecture", "classes", "state_dict", "preprocessing"):
        if key not in ckpt:
            raise WeightsError(f"{src} is damaged: it has no {key!r} entry")
    arch = check_architecture(str(ckpt["architecture"]))
    name = src.parent.name if src.name == "model.pt" and src.parent.name else src.stem
    name = re.sub(r"[^\w.+-]+", "_", name).strip("._") or "model"
    folder = models_dir() / name
    tmp, sha = _copy_hashing(src, models_dir(), progress, cancel)
    try:
        already = _place(tmp, folder / "model.pt", sha)
    finally:
        tmp.unlink(missing_ok=True)
    dest = folder / "model.pt"
    classes = list(ckpt["classes"])
    message = (
        f"{'already in the library' if already else 'imported'}: tlgui model ({arch}, "
        f"{len(classes)} classes) as {dest}; it is listed under My models"
    )
    return ImportResult(dest, "model", arch, None, len(classes), sha, already, message)
