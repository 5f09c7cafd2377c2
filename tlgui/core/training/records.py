"""What a run records about itself: the resumable state in checkpoints/, and summary.json."""

from __future__ import annotations

import copy
import time
from typing import Any

from tlgui.core.base.events import Message
from tlgui.core.models.device import device_label
from tlgui.core.training.feature_cache import not_used_summary
from tlgui.core.training.head_fit import head_fit_summary
from tlgui.core.training.recipe import class_figures, param_group_rates
from tlgui.core.training.resume import random_streams

# each function takes the loop's RunState (not imported: the loop imports this module)


# Head-only runs on cached features: an epoch takes milliseconds, while a checkpoint of the
# whole network (resnet18: 45 MB, cloned, pickled, fsync'ed) took 0.1-0.3 s each here: 20 epochs
# spent 5.7 s of a 16 s run writing last.pt and best.pt. Their checkpoints are kept in memory
# and written at most this often, after the last epoch, on stop and when the run fails.
CACHED_WRITE_SECONDS = 30.0


def resumable_state(state, epoch: int) -> dict[str, Any]:
    """Everything a resumed run needs, detached from the live run (it may be written later).

    In a cached head-only run nothing outside the head can change (eval mode, no gradients),
    so only the head's tensors are copied; the optimizer's state is copied in full either way
    when the write may come later."""
    cached = state.cache is not None
    prefix = state.prepared.head_path + "."

    def detached(key: str, value):
        value = value.detach().cpu()
        return value if cached and not key.startswith(prefix) else value.clone()

    return {
        "format": "tlgui.state",
        "epoch": epoch,
        "model": {k: detached(k, v) for k, v in state.model.state_dict().items()},
        "optimizer": copy.deepcopy(state.optimizer.state_dict()) if cached else state.optimizer.state_dict(),
        "scheduler": state.scheduler.state_dict(),
        "config": state.config.to_dict(),
        # random streams, so a resumed run continues exactly as an uninterrupted one would
        **random_streams(state.generator),
    }


def save_checkpoints(state, epoch: int) -> None:
    """checkpoints/last.pt every ``checkpoint_every`` epochs and at the end; best.pt on a new
    best. Cached head-only runs write them at most every CACHED_WRITE_SECONDS and at the end
    (see :func:`flush_checkpoints`)."""
    config, main = state.config, state.dist.main
    val_acc = state.last_val[1]
    due = epoch % max(1, config.checkpoint_every) == 0 or epoch == config.epochs
    best = val_acc > state.best_acc
    if best:
        state.best_acc, state.best_epoch = val_acc, epoch
    if not main or not (due or best):
        return
    snapshot = resumable_state(state, epoch)
    if due:
        state.pending_checkpoints["last"] = snapshot
    if best:
        state.pending_checkpoints["best"] = snapshot
    # the first last.pt at once: a run killed within its first 30 s can still be resumed
    first = due and not (state.run.checkpoints / "last.pt").is_file()
    if (state.cache is None or first or epoch == config.epochs
            or time.monotonic() - state.checkpoint_written >= CACHED_WRITE_SECONDS):
        flush_checkpoints(state)


def flush_checkpoints(state) -> None:
    """Write the checkpoints kept in memory (best.pt first: it is the one a user looks for)."""
    pending = sorted(state.pending_checkpoints.items())
    state.pending_checkpoints.clear()  # a failed write is reported once, not retried by the caller
    for name, snapshot in pending:
        state.run.save_state(name, snapshot)
    state.checkpoint_written = time.monotonic()


def trim_lazy_decode_cache(state) -> None:
    """Keep the decode cache under its limit after the lazy data sets filled it during the
    epochs (perhaps from DataLoader worker processes, whose writes this process did not count)."""
    cache = getattr(state.prepared.train_lazy, "cache", None)
    if cache is not None:
        cache.trim(force=True)


def collect_late_bad_files(state) -> None:
    # files that only failed when decoded during an epoch (data too big to decode up front);
    # with DataLoader worker processes each worker keeps its own list, so only ours is seen
    prepared = state.prepared
    for dataset in (prepared.train_lazy, prepared.val_lazy):
        for entry in getattr(dataset, "bad", None) or []:
            if entry not in prepared.skipped:
                prepared.skipped.append(entry)
                state.emit(Message(f"skipped {entry[0]} during training: {entry[1]}", "warning"))


def run_summary(state, train_seconds: float, val_loss, val_acc) -> dict[str, Any]:
    config, prepared = state.config, state.prepared
    return {
        "status": state.status,
        "final_val_accuracy": val_acc,
        "final_val_loss": val_loss,
        "best_val_accuracy": state.best_acc if state.best_acc >= 0 else None,
        "best_epoch": state.best_epoch or None,
        "epochs_completed": state.epochs_done,
        "model_validated_epoch": state.validated_epoch,
        "epochs_planned": config.epochs,
        "resumed_from_epoch": state.start_epoch - 1 if state.resumed_from is not None else None,
        "train_seconds": round(train_seconds, 3),
        "images_per_second": round(state.images_seen / train_seconds, 1) if train_seconds > 0 else 0.0,
        "trainable_params": prepared.freeze.trainable_params,
        "frozen_params": prepared.freeze.frozen_params,
        "classes": prepared.classes,
        "model": config.model,
        "weights": config.weights,
        "freeze": config.freeze,
        "device": device_label(state.device),
        "train_images": prepared.train_count,
        "val_images": prepared.val_count,
        "skipped_files": [{"path": p, "reason": r} for p, r in prepared.skipped[:200]],
        "messages": prepared.messages,
        "history": state.history,
        "world_size": state.dist.world,
        "precision": prepared.precision.name,
        "feature_cache": state.cache.summary() if state.cache is not None else not_used_summary(),
        "head_fit": head_fit_summary(state),
        **recipe_summary(state),
    }


def recipe_summary(state) -> dict[str, Any]:
    """The fine-tuning recipe's keys in summary.json (issue 21)."""
    config = state.config
    return {
        "lr": "auto" if config.lr_auto else config.resolved_lr(),
        "lr_found": config.lr_found if config.lr_auto else None,
        "head_epochs": int(config.head_epochs),
        "head_phase_fit": state.head_phase_fit,
        "layer_lr_decay": float(config.layer_lr_decay),
        "param_groups": param_group_rates(state.optimizer) if state.optimizer is not None else [],
        "class_weights": config.class_weights,
        **class_figures(state),
    }
