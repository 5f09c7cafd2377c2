"""Finding and safely loading weight files; fitting them into a model.

Every load goes through :func:`safe_load`, i.e. ``torch.load(weights_only=True)``:
a pickle that carries code is refused before anything in it runs.
"""

from __future__ import annotations

import functools
import hashlib
import io
import pickle
import pickletools
import re
import warnings
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from .errors import WeightsError

# old DenseNet files name layers "norm.1"; torchvision renames them to "norm1" when loading
_DENSENET_LEGACY = re.compile(
    r"^(.*denselayer\d+\.(?:norm|relu|conv))\.((?:[12])\.(?:weight|bias|running_mean|running_var|num_batches_tracked))$"
)
# torchvision names files "<name>-<first 8 hex digits of sha256>.pth"
_HASH_IN_NAME = re.compile(r"-([0-9a-f]{8,})\.(pth|pt)$")


def safe_load(path: str | Path) -> Any:
    path = Path(path)
    if not path.exists():
        raise WeightsError(f"weight file not found: {path}")
    if path.is_dir():
        raise WeightsError(f"{path} is a folder, not a weight file")
    if path.stat().st_size == 0:
        raise WeightsError(f"{path} is empty (0 bytes), not a weight file")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # torch's pickle-protocol chatter
            return torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, zipfile.BadZipFile, ValueError,
            OSError, AttributeError, KeyError, IndexError, TypeError) as exc:
        globals_found = _pickle_globals(path)
        if globals_found:
            raise WeightsError(
                f"refused to load {path}: it contains Python objects or code ({', '.join(globals_found[:3])}), "
                "not just weights; only plain weight files are accepted and nothing in it was run"
            ) from None
        reason = "unreadable" if isinstance(exc, (KeyError, IndexError)) else _first_line(str(exc))
        if "Weights only load failed" in reason or globals_found is None:
            reason = "its content is not a saved PyTorch object"
        raise WeightsError(f"{path} is not a PyTorch weight file ({reason})") from None


def _pickle_globals(path: Path) -> list[str] | None:
    """Names a pickle would import, read with pickletools (which never executes anything).

    ``None`` when the file is not a parseable pickle at all.
    """
    try:
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as archive:
                member = next((n for n in archive.namelist() if n.endswith("data.pkl")), None)
                if member is None:
                    return None
                payload = archive.read(member)
        else:
            payload = path.read_bytes()
        names: list[str] = []
        recent: list[str] = []
        stream = io.BytesIO(payload)
        # torch's legacy format is several pickles in a row (magic, protocol, sys info,
        # the object, storage keys), then raw storage bytes: read pickles until one fails
        for index in range(5):
            try:
                for opcode, arg, _ in pickletools.genops(stream):
                    if opcode.name in ("SHORT_BINUNICODE", "BINUNICODE", "UNICODE"):
                        recent = (recent + [str(arg)])[-2:]
                    elif opcode.name in ("GLOBAL", "INST"):
                        names.append(str(arg).replace(" ", "."))
                    elif opcode.name == "STACK_GLOBAL":
                        names.append(".".join(recent))
            except Exception:  # noqa: BLE001
                if index == 0:
                    return None
                break
        # torch's own rebuild helpers appear in every legitimate file
        return [n for n in names if not n.startswith(("torch.", "collections.OrderedDict", "_codecs."))]
    except Exception:  # noqa: BLE001 - any parse failure means "not a pickle"
        return None


def _first_line(text: str) -> str:
    line = text.strip().splitlines()[0] if text.strip() else "unreadable"
    return line[:160]


def sha256_of(path: str | Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def hash_prefix_in_name(path: str | Path) -> str | None:
    match = _HASH_IN_NAME.search(Path(path).name)
    return match.group(1) if match else None


def verify_hash_prefix(path: str | Path) -> bool | None:
    """True/False when the file name carries a torchvision hash prefix, None when it has none.

    Results are remembered per (path, size, modification time), so a big file is hashed once
    per session, and again only when it changes."""
    prefix = hash_prefix_in_name(path)
    if prefix is None:
        return None
    stat = Path(path).stat()
    return _sha256_cached(str(Path(path).resolve()), stat.st_size, stat.st_mtime_ns).startswith(prefix)


@functools.lru_cache(maxsize=64)
def _sha256_cached(path: str, size: int, mtime_ns: int) -> str:
    return sha256_of(path)


def hub_checkpoints_dir() -> Path:
    return Path(torch.hub.get_dir()) / "checkpoints"


def weight_search_dirs() -> list[Path]:
    from ..paths import weights_dir

    return [hub_checkpoints_dir(), weights_dir()]


def weight_file_name(entry) -> str:
    return entry.url.rsplit("/", 1)[-1]


def find_local_weights(entry) -> Path | None:
    name = weight_file_name(entry)
    for folder in weight_search_dirs():
        candidate = folder / name
        if candidate.is_file():
            return candidate
    return None


def default_weights_path(architecture: str) -> tuple[Path, Any]:
    """The local file of torchvision's default weights, or a clear error (no download)."""
    from .models import SMALLCNN, default_weight_entry

    if architecture == SMALLCNN:
        raise WeightsError(
            "smallcnn has no published pretrained weights; use --weights demo:source, "
            "a model.pt from an earlier run, or --weights none"
        )
    entry = default_weight_entry(architecture)
    if entry is None:
        raise WeightsError(f"torchvision publishes no pretrained weights for {architecture}")
    found = find_local_weights(entry)
    if found is not None and verify_hash_prefix(found) is False:
        raise WeightsError(
            f"{found}: the checksum does not match the one in its file name; the file is damaged "
            "(an interrupted download?): delete it and import or download it again"
        )
    if found is None:
        folders = " or ".join(str(d) for d in weight_search_dirs())
        raise WeightsError(
            f"pretrained weights for {architecture} are not on this computer: expected "
            f"{weight_file_name(entry)} in {folders} (import the file with "
            "'tlgui weights import FILE', or use --weights none)"
        )
    return found, entry


@dataclass(frozen=True)
class LoadReport:
    source: str
    kept_head: bool  # False: a fresh head was made for new classes
    message: str


def extract_state_dict(obj: Any, path: str | Path) -> dict[str, torch.Tensor]:
    """A plain state dict from a weight file's content (tlgui model, torchvision file, wrapper)."""
    from .checkpoint import is_tlgui_checkpoint

    if is_tlgui_checkpoint(obj):
        obj = obj["state_dict"]
    elif isinstance(obj, dict) and "state_dict" in obj and isinstance(obj["state_dict"], dict):
        obj = obj["state_dict"]
    elif isinstance(obj, dict) and "model" in obj and isinstance(obj["model"], dict):
        obj = obj["model"]
    if not isinstance(obj, dict) or not obj or not all(
        isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in obj.items()
    ):
        raise WeightsError(f"{path} holds no state dict (a mapping of layer names to tensors)")
    # models saved from DataParallel carry a "module." prefix on every key
    if all(k.startswith("module.") for k in obj):
        obj = {k[len("module.") :]: v for k, v in obj.items()}
    return normalise_keys(obj)


def normalise_keys(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Key renames torchvision applies to its own published files (legacy DenseNet names
    such as ``norm.1`` for ``norm1``)."""
    if not any(_DENSENET_LEGACY.match(k) for k in state):
        return state
    out = {}
    for key, value in state.items():
        match = _DENSENET_LEGACY.match(key)
        out[match.group(1) + match.group(2) if match else key] = value
    return out


def load_into_model(
    model: nn.Module,
    state: dict[str, torch.Tensor],
    head_path: str,
    keep_head: bool,
    source: str,
) -> LoadReport:
    """Copy ``state`` into ``model``; the head is taken only when ``keep_head``.

    Shape mismatches outside the head, and missing backbone keys, are errors that name
    the keys; extra keys (e.g. auxiliary classifiers) are ignored.
    """
    own = model.state_dict()
    head_prefix = head_path + "."
    mismatched, missing = [], []
    to_load = {}
    for key, target in own.items():
        in_head = key.startswith(head_prefix)
        if in_head and not keep_head:
            continue
        if key not in state:
            if key.endswith("num_batches_tracked"):
                continue
            missing.append(key)
            continue
        value = state[key]
        if tuple(value.shape) != tuple(target.shape):
            mismatched.append(f"{key} {tuple(value.shape)} vs model {tuple(target.shape)}")
            continue
        to_load[key] = value
    if mismatched:
        more = f" (and {len(mismatched) - 4} more)" if len(mismatched) > 4 else ""
        raise WeightsError(
            f"weights in {source} do not fit this model: " + "; ".join(mismatched[:4]) + more
        )
    if missing:
        more = f" (and {len(missing) - 4} more)" if len(missing) > 4 else ""
        raise WeightsError(
            f"weights in {source} lack layers this model needs: {', '.join(missing[:4])}{more} "
            "(is it a file for a different architecture?)"
        )
    model.load_state_dict(to_load, strict=False)
    if keep_head:
        message = f"loaded all weights from {source}, including its classifier head"
    else:
        message = f"loaded weights from {source}; made a fresh classifier head ({head_path}) for the new classes"
    return LoadReport(str(source), keep_head, message)
