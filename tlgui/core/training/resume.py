"""What a resumed run needs beyond the weights: proof that the checkpoint belongs to the
run's config.json, and every random stream (data order, CPU, CUDA), so a run killed at
any moment and resumed ends bit-identical to one that was never interrupted (on CPU)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from tlgui.core.base.config import TrainConfig
from tlgui.core.base.errors import ConfigError, RunDirError

# settings a resume may change without changing what the run computes
_MAY_DIFFER = {"out", "device", "num_workers", "schema_version"}


def _comparable(config: TrainConfig) -> dict[str, Any]:
    values = config.to_dict()
    values["lr"] = config.resolved_lr()
    values["weight_decay"] = config.resolved_weight_decay()
    return {k: v for k, v in values.items() if k not in _MAY_DIFFER}


def check_matches(config: TrainConfig, state: dict[str, Any], checkpoint: Path) -> None:
    """Refuse, in one line, a checkpoint saved under other settings than ``config``."""
    saved = state.get("config")
    try:
        theirs = _comparable(TrainConfig.from_dict(saved)) if isinstance(saved, dict) else None
    except ConfigError:
        theirs = None
    if theirs is None:
        raise RunDirError(f"{checkpoint} does not say which settings it was saved with, so it cannot be resumed safely")
    ours = _comparable(config)
    if ours.get("augment") == "auto":  # chosen from the data, which the resumed run reads again the same way
        ours["augment"] = theirs.get("augment")
    differ = [k for k in sorted(set(ours) | set(theirs)) if ours.get(k) != theirs.get(k)]
    if differ:
        shown = ", ".join(f"{k} {theirs.get(k)!r} in the checkpoint, {ours.get(k)!r} in config.json"
                          for k in differ[:3])
        raise RunDirError(
            f"cannot resume {checkpoint.parent.parent.name}: config.json and {checkpoint.name} disagree ({shown}); "
            "put the original config.json back, or start again with --overwrite"
        )


def load_resumed_weights(model: torch.nn.Module, state: dict[str, Any], checkpoint: Path) -> None:
    try:
        model.load_state_dict(state["model"])
    except (RuntimeError, KeyError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise RunDirError(f"{checkpoint} does not fit the model config.json describes ({first[:160]})") from None


def random_streams(generator: torch.Generator) -> dict[str, Any]:
    """Every random stream training draws from, for the checkpoint."""
    streams: dict[str, Any] = {"data_rng": generator.get_state(), "torch_rng": torch.get_rng_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        streams["cuda_rng"] = torch.cuda.get_rng_state_all()
    return streams


def restore_random_streams(state: dict[str, Any], generator: torch.Generator) -> None:
    if "data_rng" in state:
        generator.set_state(state["data_rng"])
    if "torch_rng" in state:
        torch.set_rng_state(state["torch_rng"])
    cuda = state.get("cuda_rng")
    if cuda and torch.cuda.is_available() and len(cuda) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(cuda)
