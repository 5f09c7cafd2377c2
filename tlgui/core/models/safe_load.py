"""Loading weight files without running code: ``torch.load(weights_only=True)`` for PyTorch
files, ``safetensors`` (plain tensors, no code by design) for ``.safetensors`` files."""

from __future__ import annotations

import io
import pickle
import pickletools
import warnings
import zipfile
from pathlib import Path
from typing import Any

import torch

from tlgui.core.base.errors import WeightsError


def safe_load(path: str | Path) -> Any:
    path = Path(path)
    if not path.exists():
        raise WeightsError(f"weight file not found: {path}")
    if path.is_dir():
        raise WeightsError(f"{path} is a folder, not a weight file")
    if path.stat().st_size == 0:
        raise WeightsError(f"{path} is empty (0 bytes), not a weight file")
    if is_safetensors(path):
        return load_safetensors(path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # torch's pickle-protocol chatter
            with open(path, "rb") as handle:  # a file object: torch's own file code fails on non-ASCII paths on Windows
                return torch.load(handle, map_location="cpu", weights_only=True)
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


def is_safetensors(path: Path) -> bool:
    """By suffix, or by content: an 8-byte little-endian header length, then a JSON object."""
    if path.suffix == ".safetensors":
        return True
    try:
        with open(path, "rb") as handle:
            head = handle.read(9)
    except OSError:
        return False
    if len(head) < 9 or head[8:9] != b"{":
        return False
    return 2 <= int.from_bytes(head[:8], "little") <= path.stat().st_size - 8


def load_safetensors(path: str | Path) -> dict[str, torch.Tensor]:
    """All tensors of a safetensors file, on the CPU; one line for a truncated or damaged file."""
    path = Path(path)
    try:
        from safetensors import SafetensorError
        from safetensors.torch import load_file
    except ImportError:
        raise WeightsError(
            f"{path.name}: reading .safetensors files needs the timm extra: pip install 'tlgui[timm]'"
        ) from None
    try:
        return load_file(str(path), device="cpu")
    except (SafetensorError, OSError, ValueError, RuntimeError) as exc:
        reason = _first_line(str(exc))
        if "incomplete" in reason.lower() or "too small" in reason.lower() or "truncat" in reason.lower():
            reason = "the file is shorter than its header says: truncated, e.g. an interrupted copy"
        raise WeightsError(f"{path} is not a readable safetensors file ({reason})") from None


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
