"""What a run records about itself: the resumable state in checkpoints/, and summary.json."""

from __future__ import annotations

from typing import Any

from tlgui.core.base.events import Message
from tlgui.core.models.device import device_label
from tlgui.core.training.feature_cache import not_used_summary
from tlgui.core.training.head_fit import head_fit_summary
from tlgui.core.training.resume import random_streams

# each function takes the loop's RunState (not imported: the loop imports this module)


def resumable_state(state, epoch: int) -> dict[str, Any]:
    return {
        "format": "tlgui.state",
        "epoch": epoch,
        "model": {k: v.detach().cpu().clone() for k, v in state.model.state_dict().items()},
        "optimizer": state.optimizer.state_dict(),
        "scheduler": state.scheduler.state_dict(),
        "config": state.config.to_dict(),
        # random streams, so a resumed run continues exactly as an uninterrupted one would
        **random_streams(state.generator),
    }


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
    }
