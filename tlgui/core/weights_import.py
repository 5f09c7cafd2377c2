"""Importing weight files into the library, and recognising which architecture they are for.

* :func:`import_weights` recognises a weight file by its name and its content
  (state-dict keys and shapes against each candidate architecture built on the meta
  device), verifies the SHA-256 prefix a torchvision file name carries, and copies it into
  ``weights_dir()`` under torchvision's file name, so ``--weights default`` finds it.
  Files that are not torchvision's published ones become *custom* weights, stored under
  ``weights_dir()/custom/`` with a JSON sidecar naming the architecture.

Long calls take ``progress(done_bytes, total_bytes)`` (rate-limited at the source) and a
``cancel`` flag (a ``threading.Event`` or a callable returning bool) so a GUI worker can
drive them; cancelling raises :class:`Cancelled` and leaves nothing behind.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
import re
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import torch

from .errors import TlguiError, WeightsError
from .weights import (
    extract_state_dict,
    find_local_weights,
    hash_prefix_in_name,
    normalise_keys,
    safe_load,
    sha256_of,
    weight_file_name,
)
from .weights_library import custom_dir

Progress = Callable[[int, "int | None"], None]
SIDECAR_FORMAT = "tlgui.weights"
_CHUNK = 1 << 20


class Cancelled(TlguiError):
    """The caller's cancel flag was set; nothing was left behind."""


def is_cancelled(cancel: Any) -> bool:
    """``cancel`` may be None, a ``threading.Event`` or a callable returning bool."""
    if cancel is None:
        return False
    is_set = getattr(cancel, "is_set", None)
    return bool(is_set() if callable(is_set) else cancel())


class Throttled:
    """Calls ``progress`` at most every ``interval`` seconds, and always for the last step."""

    def __init__(self, progress: Progress | None, interval: float = 0.1):
        self.progress = progress
        self.interval = interval
        self._last = 0.0

    def __call__(self, done: int, total: int | None, final: bool = False) -> None:
        if self.progress is None:
            return
        now = time.monotonic()
        if final or now - self._last >= self.interval:
            self._last = now
            self.progress(done, total)


# ------------------------------------------------------------------ recognising a file


def load_for_inspection(path: str | Path) -> Any:
    """``torch.load(weights_only=True)``, memory-mapped when the file format allows it.

    Tensors stay on disk until touched, so keys and shapes of a large file are cheap to
    read. Anything that ``mmap`` cannot open goes through :func:`weights.safe_load`, which
    gives the plain-language refusal (not found, not a weight file, carries code).
    """
    path = Path(path).expanduser()
    if path.is_file() and path.stat().st_size > 0:
        _check_magic(path)
        try:
            return torch.load(path, map_location="cpu", weights_only=True, mmap=True)
        except Exception:  # noqa: BLE001 - legacy format, code, junk: safe_load explains
            pass
    try:
        return safe_load(path)
    except TlguiError:
        raise
    except Exception as exc:  # noqa: BLE001 - e.g. KeyError from torch's unpickler on junk
        raise WeightsError(
            f"{path} is not a PyTorch weight file ({type(exc).__name__} while reading it)"
        ) from None


def _check_magic(path: Path) -> None:
    """torch.save writes a zip archive (or, long ago, a binary pickle): refuse anything else
    up front, so junk is not mistaken for a file that carries code."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(4)
    except OSError as exc:
        raise WeightsError(f"cannot read {path}: {exc.strerror or exc}") from None
    if not (head.startswith(b"PK\x03\x04") or head.startswith(b"\x80")):
        raise WeightsError(f"{path} is not a PyTorch weight file (it is neither a zip archive nor a pickle)")


def _shapes(state: dict[str, torch.Tensor]) -> dict[str, tuple[int, ...]]:
    return {k: tuple(v.shape) for k, v in state.items() if not k.endswith("num_batches_tracked")}


@lru_cache(maxsize=256)
def _signature(architecture: str, in_channels: int) -> tuple[dict[str, tuple[int, ...]], str]:
    """Keys and shapes of ``architecture`` with a 1000-class head, and the head's path."""
    from .models import build_model, find_head_path

    model = build_model(architecture, 1000, in_channels, device="meta")
    return _shapes(model.state_dict()), find_head_path(model)


@dataclass(frozen=True)
class Fit:
    """How a state dict compares with an architecture."""

    architecture: str
    ok: bool
    num_classes: int | None
    in_channels: int
    head_path: str
    problem: str = ""  # plain words when not ok


def _in_channels_of(architecture: str, shapes: dict[str, tuple[int, ...]]) -> int:
    from .models import SMALLCNN, model_input_channels

    if architecture == SMALLCNN:
        first = shapes.get("features.0.0.weight")
        if first is not None and len(first) == 4 and first[1] in (1, 3):
            return first[1]
    return model_input_channels(architecture)


def _more(items: list[str], limit: int = 4) -> str:
    extra = f" (and {len(items) - limit} more)" if len(items) > limit else ""
    return "; ".join(items[:limit]) + extra


def compare_with(architecture: str, state: dict[str, torch.Tensor], source: str = "the file") -> Fit:
    """Compare keys and shapes of ``state`` with ``architecture`` (any head size allowed).

    Extra keys are accepted only for auxiliary classifiers (GoogLeNet, Inception v3).
    """
    shapes = _shapes(normalise_keys(state))
    in_channels = _in_channels_of(architecture, shapes)
    expected, head = _signature(architecture, in_channels)
    head_prefix = head + "."
    missing, mismatched = [], []
    num_classes = None
    for key, shape in expected.items():
        got = shapes.get(key)
        if got is None:
            missing.append(key)
        elif key.startswith(head_prefix):
            # the head may have any number of classes; its other dimensions must agree
            if len(got) != len(shape) or got[1:] != shape[1:]:
                mismatched.append(f"{key} {got} vs model {shape}")
            elif key == head + ".weight":
                num_classes = got[0]
        elif got != shape:
            mismatched.append(f"{key} {got} vs model {shape}")
    extra = [k for k in shapes if k not in expected and "aux" not in k.lower()]
    problem = ""
    if missing and len(missing) >= len(mismatched):  # mostly absent: another architecture
        problem = (
            f"weights in {source} lack layers {architecture} needs: {_more(missing)} "
            "(is it a file for a different architecture?)"
        )
    elif mismatched:
        problem = f"weights in {source} do not fit {architecture}: {_more(mismatched)}"
    elif extra:
        problem = (
            f"weights in {source} have layers {architecture} does not: {_more(extra)} "
            "(is it a file for a different, larger architecture?)"
        )
    return Fit(architecture, not problem, num_classes, in_channels, head, problem)


def _norm_name(text: str) -> str:
    return re.sub(r"[^0-9a-z]+", "_", text.lower()).strip("_")


def _strip_hash(file_name: str) -> str:
    stem = Path(file_name).stem
    return re.sub(r"-[0-9a-f]{8,}$", "", stem)


def _published_stems() -> dict[str, str]:
    """Normalised file stem of every published weights file -> architecture."""
    from .models import list_architectures, weight_entries

    stems = {}
    for name in list_architectures():
        for entry in weight_entries(name):
            stems.setdefault(_norm_name(_strip_hash(weight_file_name(entry))), name)
    return stems


def name_candidates(file_name: str) -> list[str]:
    """Architectures a file name points at, best first (``resnet18-f37072fd.pth`` -> resnet18)."""
    from .models import list_architectures

    stem = _norm_name(_strip_hash(file_name))
    found = []
    published = _published_stems().get(stem)
    if published:
        found.append(published)
    by_prefix = sorted(
        (a for a in list_architectures() if stem.startswith(_norm_name(a))), key=len, reverse=True
    )
    found += [a for a in by_prefix if a not in found]
    return found


def _param_numel(state: dict[str, torch.Tensor]) -> int:
    return sum(
        v.numel() for k, v in state.items()
        if v.is_floating_point() and not k.endswith(("running_mean", "running_var"))
    )


def _content_candidates(state: dict[str, torch.Tensor]) -> list[str]:
    """Architectures worth comparing with ``state`` by content, most likely first.

    Torchvision architectures are ranked by how near their published parameter count is to
    the file's (no model is built for that); a head for another number of classes moves the
    count, but not by more than the window allows. smallcnn is tried when the key count fits.
    """
    from .models import SMALLCNN, list_architectures, weight_entries

    numel = _param_numel(state)
    scored = []
    for name in list_architectures():
        entries = weight_entries(name)
        params = entries[0].meta.get("num_params") if entries else None
        if not params:
            continue
        ratio = numel / params
        if 0.2 <= ratio <= 3.0:
            scored.append((abs(ratio - 1.0), name))
    ranked = [name for _, name in sorted(scored)]
    if len(_shapes(state)) == len(_signature(SMALLCNN, 1)[0]):
        ranked.insert(0, SMALLCNN)
    return ranked


@dataclass(frozen=True)
class Recognition:
    """Which architecture a state dict is for (``architecture`` None: not recognised)."""

    architecture: str | None
    num_classes: int | None = None
    in_channels: int = 3
    head_path: str | None = None
    by_name: bool = False  # the file name pointed at it (else found by content alone)
    reason: str = ""  # why nothing was recognised


def recognise_state(
    state: dict[str, torch.Tensor], file_name: str = "", cancel: Any = None
) -> Recognition:
    """Recognise the architecture of ``state``: candidates from the file name first, then
    architectures of similar parameter count, nearest first; each compared by keys and shapes
    on the meta device (built once per process and cached)."""
    state = normalise_keys(state)
    tried: set[str] = set()
    named = name_candidates(file_name) if file_name else []
    first_problem = ""
    for arch in named + _content_candidates(state):
        if arch in tried:
            continue
        tried.add(arch)
        if is_cancelled(cancel):
            raise Cancelled("recognising the weight file was cancelled")
        fit = compare_with(arch, state, file_name or "the file")
        if fit.ok:
            return Recognition(arch, fit.num_classes, fit.in_channels, fit.head_path, arch in named)
        if arch in named and not first_problem:
            first_problem = fit.problem
    reason = first_problem or f"its {len(state)} layers match no known architecture"
    heads = {k.split(".", 1)[0] for k in state}
    if len(heads) == 1 and all("." in k for k in state):
        reason += f"; every key starts with {next(iter(heads))!r}, a wrapper's prefix?"
    return Recognition(None, reason=reason)


def recognise_file(path: str | Path, cancel: Any = None) -> Recognition:
    """Load ``path`` safely (weights only) and recognise its architecture."""
    path = Path(path).expanduser()
    state = extract_state_dict(load_for_inspection(path), path)
    return recognise_state(state, path.name, cancel)


# ------------------------------------------------------------------ importing


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


def _copy_hashing(src: Path, folder: Path, progress: Progress | None, cancel: Any) -> tuple[Path, str]:
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
    os.replace(tmp, dest)
    return False


def _published_match(architecture: str, sha: str):
    """The torchvision entry of ``architecture`` whose file-name hash prefix ``sha`` carries."""
    from .models import weight_entries

    for entry in weight_entries(architecture):
        prefix = hash_prefix_in_name(weight_file_name(entry))
        if prefix and sha.startswith(prefix):
            return entry
    return None


def _custom_name(src: Path, sha: str) -> str:
    """The source name, with ``-<sha256[:8]>`` added when it carries no hash prefix, so the
    stored file is verifiable later and two different ``model.pth`` never collide."""
    suffix = src.suffix if src.suffix in (".pth", ".pt") else ".pth"
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
    cancel: Any = None,
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
    from ..paths import weights_dir
    from .checkpoint import is_tlgui_checkpoint
    from .models import check_architecture

    src = Path(path).expanduser()
    obj = load_for_inspection(src)
    if is_tlgui_checkpoint(obj):
        return _import_model_file(src, obj, progress, cancel)
    state = normalise_keys(extract_state_dict(obj, src))
    del obj
    if architecture:
        fit = compare_with(check_architecture(architecture), state, src.name)
        if not fit.ok:
            raise WeightsError(fit.problem)
        rec = Recognition(fit.architecture, fit.num_classes, fit.in_channels, fit.head_path)
    else:
        rec = recognise_state(state, src.name, cancel)
        if rec.architecture is None:
            raise WeightsError(
                f"{src.name}: cannot tell which architecture these weights are for ({rec.reason}); "
                "name it with --arch NAME"
            )
    del state
    name_prefix = hash_prefix_in_name(src)
    tmp, sha = _copy_hashing(src, weights_dir(), progress, cancel)
    try:
        if name_prefix is not None and not sha.startswith(name_prefix):
            raise _checksum_refusal(src, name_prefix, sha)
        arch = rec.architecture
        entry = _published_match(arch, sha) if rec.num_classes == 1000 else None
        if entry is not None:
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
        dest = custom_dir() / _custom_name(src, sha)
        already = _place(tmp, dest, sha)
        sidecar = {
            "format": SIDECAR_FORMAT, "format_version": 1, "architecture": arch,
            "num_classes": rec.num_classes, "in_channels": rec.in_channels, "head_path": rec.head_path,
            "sha256": sha, "original_name": src.name, "imported": _now(),
        }
        if not already or not dest.with_suffix(".json").is_file():
            from .checkpoint import atomic_write_text

            atomic_write_text(dest.with_suffix(".json"), json.dumps(sidecar, indent=2) + "\n")
        note = ""
        if _entries(arch) and rec.num_classes == 1000:
            from .models import default_weight_entry

            note = (
                f"; it has the layout of {arch} but is not torchvision's published file "
                f"({weight_file_name(default_weight_entry(arch))})"
            )
        message = (
            f"{'already in the library' if already else 'imported'} as custom {arch} weights "
            f"({rec.num_classes} classes) at {dest}{note}; train with --model {arch} --weights {dest}"
        )
        return ImportResult(dest, "custom", arch, None, rec.num_classes, sha, already, message)
    finally:
        tmp.unlink(missing_ok=True)


def _entries(architecture: str):
    from .models import weight_entries

    return weight_entries(architecture)


def _is_default(architecture: str, entry) -> bool:
    from .models import default_weight_entry

    return default_weight_entry(architecture) is entry


def _import_model_file(src: Path, ckpt: dict[str, Any], progress, cancel) -> ImportResult:
    """A tlgui model.pt goes to ``models_dir()/<name>/model.pt``."""
    from ..paths import models_dir
    from .models import check_architecture

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
