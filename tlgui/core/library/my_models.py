"""My models: every model.pt a finished run left behind, ready to be a starting point.

Looks in ``runs_dir()``, ``models_dir()`` and any extra folders, each folder itself and
its direct sub-folders (a run folder holds ``model.pt`` next to ``summary.json``). Each
file is opened once, memory-mapped with ``weights_only=True``, so its tensors are not read;
a damaged or refused file is listed with the reason instead of raising.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, TypedDict

from tlgui.core.base.errors import TlguiError

MODEL_FILE = "model.pt"


class ModelExtra(TypedDict, total=False):
    """What a model file says beyond the listing's columns."""

    in_channels: int
    freeze: str | None  # the freeze plan its training used (TrainConfig.freeze)


@dataclass(frozen=True)
class MyModel:
    path: str  # the model.pt
    name: str  # its run folder's name
    architecture: str | None = None
    source_data: str | None = None  # the data it was trained on
    classes: tuple[str, ...] = ()
    accuracy: float | None = None  # validation accuracy of the saved weights
    best_accuracy: float | None = None
    date: str | None = None  # ISO 8601
    weights: str | None = None  # what its own training started from
    status: str | None = None  # the run's status from summary.json
    problem: str | None = None  # set when the file cannot be used; the rest may be empty
    extra: ModelExtra = field(default_factory=ModelExtra, compare=False)

    @property
    def ok(self) -> bool:
        return self.problem is None

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out.pop("extra")
        out["classes"] = list(self.classes)
        out["ok"] = self.ok
        return out


def model_search_dirs(extra_dirs: Iterable[str | Path] = ()) -> list[Path]:
    from tlgui.paths import models_dir, runs_dir

    return [runs_dir(), models_dir(), *(Path(d).expanduser() for d in extra_dirs)]


def find_model_files(extra_dirs: Iterable[str | Path] = ()) -> list[Path]:
    """``model.pt`` files in each folder and its direct sub-folders, without duplicates."""
    seen: set[Path] = set()
    found = []
    for folder in model_search_dirs(extra_dirs):
        if folder.is_file() and folder.suffix in (".pt", ".pth"):
            candidates = [folder]
        elif folder.is_dir():
            candidates = [folder / MODEL_FILE]
            try:
                candidates += sorted(p / MODEL_FILE for p in folder.iterdir() if p.is_dir())
            except OSError:
                pass
        else:
            continue
        for path in candidates:
            if not path.is_file():
                continue
            key = path.resolve()
            if key not in seen:
                seen.add(key)
                found.append(path)
    return found


def _summary(folder: Path) -> dict[str, Any]:
    from tlgui.core.results.runs import read_summary

    return read_summary(folder) or {}


def _mtime_iso(path: Path) -> str | None:
    try:
        stamp = path.stat().st_mtime
    except OSError:
        return None
    return _dt.datetime.fromtimestamp(stamp, _dt.timezone.utc).isoformat(timespec="seconds")


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def read_model_info(path: str | Path) -> MyModel:
    """What a model.pt is, from its own header and its run's summary.json; never raises
    for a bad file (the reason goes into ``problem``)."""
    from tlgui.core.library.recognise import load_for_inspection
    from tlgui.core.models.checkpoint import CHECKPOINT_VERSION, is_tlgui_checkpoint

    path = Path(path)
    folder = path.parent
    name = folder.name if path.name == MODEL_FILE else path.stem
    summary = _summary(folder) if path.name == MODEL_FILE else {}
    base = MyModel(path=str(path), name=name, date=_mtime_iso(path), status=summary.get("status"))
    try:
        ckpt = load_for_inspection(path)
    except TlguiError as exc:
        return replace(base, problem=str(exc))
    except Exception as exc:  # noqa: BLE001 - a listing must not crash on one bad file
        return replace(base, problem=f"{path} cannot be read ({type(exc).__name__}: {exc})")
    if not is_tlgui_checkpoint(ckpt):
        return replace(base, problem=f"{path} is not a tlgui model file")
    if int(ckpt.get("format_version", 0) or 0) > CHECKPOINT_VERSION:
        return replace(base, problem=f"{path} was written by a newer tlgui; please update")
    missing = [k for k in ("architecture", "classes", "state_dict") if k not in ckpt]
    if missing:
        return replace(base, problem=f"{path} is damaged: it has no {missing[0]!r} entry")
    source = ckpt.get("source") if isinstance(ckpt.get("source"), dict) else {}
    accuracy = _number(summary.get("final_val_accuracy"))
    if accuracy is None:
        accuracy = _number(source.get("val_accuracy"))
    created = ckpt.get("created")
    return MyModel(
        path=str(path),
        name=name,
        architecture=str(ckpt["architecture"]),
        source_data=source.get("data"),
        classes=tuple(str(c) for c in ckpt.get("classes", [])),
        accuracy=accuracy,
        best_accuracy=_number(summary.get("best_val_accuracy")),
        date=created if isinstance(created, str) else base.date,
        weights=source.get("weights"),
        status=base.status,
        extra={"in_channels": int(ckpt.get("in_channels", 3)), "freeze": source.get("freeze")},
    )


def list_my_models(extra_dirs: Iterable[str | Path] = ()) -> list[MyModel]:
    """Every model under ``runs_dir()``, ``models_dir()`` and ``extra_dirs``, newest first;
    damaged files are included with ``problem`` set."""
    models = [read_model_info(p) for p in find_model_files(extra_dirs)]
    return sorted(models, key=lambda m: m.date or "", reverse=True)
