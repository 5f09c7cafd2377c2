"""The training loop: ``train(config, on_event, control) -> RunResult``.

Runs on whatever thread calls it (the GUI's worker thread, the CLI's main thread).
It checks ``control`` every batch (stop, pause), emits small event records, validates
every epoch, and leaves a complete run directory behind (see :mod:`tlgui.core.results.runs`).

``train()`` is a short sequence of named steps (open the run, build the optimizer, one
epoch, validate, checkpoint, finish) that share one :class:`RunState`.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from tlgui.core.base.config import TrainConfig
from tlgui.core.base.errors import TrainingError
from tlgui.core.base.events import BatchStats, EpochStats, Message, RunResult, RunStarted, Stage
from tlgui.core.models.checkpoint import make_checkpoint
from tlgui.core.models.device import device_label
from tlgui.core.models.inference import autocast_for, to_model_input
from tlgui.core.models.layers import set_train_mode, trainable_parameters
from tlgui.core.results.runs import RunDir
from tlgui.core.training.augment import augment_batch
from tlgui.core.training.batches import Batches, evaluate_batches
from tlgui.core.training.control import TrainControl
from tlgui.core.training.feature_cache import (
    FeatureCache,
    build_feature_cache,
    head_loss_accuracy,
    not_used_summary,
)
from tlgui.core.training.head_fit import cached_train_epoch, head_fit_summary, setup_cached_training
from tlgui.core.training.optim import build_optimizer, build_scheduler
from tlgui.core.training.prepare import Prepared, prepare
from tlgui.paths import runs_dir


def _is_cpu_oom(exc: BaseException) -> bool:
    text = str(exc)
    return "can't allocate memory" in text or "not enough memory" in text


def _resumable_state(state: RunState, epoch: int) -> dict[str, Any]:
    return {
        "format": "tlgui.state",
        "epoch": epoch,
        "model": {k: v.detach().cpu().clone() for k, v in state.model.state_dict().items()},
        "optimizer": state.optimizer.state_dict(),
        "scheduler": state.scheduler.state_dict(),
        "config": state.config.to_dict(),
        # random streams, so a resumed run continues exactly as an uninterrupted one would
        "data_rng": state.generator.get_state(),
        "torch_rng": torch.get_rng_state(),
    }


@dataclass
class RunState:
    """Everything one training run carries from step to step."""

    config: TrainConfig
    run: RunDir
    prepared: Prepared
    emit: Callable[[object], None]
    control: TrainControl
    resumed_from: dict[str, Any] | None = None  # the checkpoint a resumed run continues
    generator: torch.Generator | None = None
    train_batches: Batches | None = None
    val_batches: Batches | None = None
    criterion: nn.Module = field(default_factory=nn.CrossEntropyLoss)
    optimizer: torch.optim.Optimizer | None = None
    scheduler: Any = None
    start_epoch: int = 1
    log_every: int = 1
    status: str = "completed"
    epochs_done: int = 0
    images_seen: int = 0
    best_acc: float = -1.0
    best_epoch: int = 0
    last_val: tuple[float, float] = (float("nan"), float("nan"))
    history: list[dict[str, float]] = field(default_factory=list)
    started: float = 0.0
    cache: FeatureCache | None = None  # head-only runs: the head trains on cached backbone features
    head_l2: float | None = None  # set when the head is fitted by full-batch L-BFGS

    @property
    def model(self) -> nn.Module:
        return self.prepared.model

    @property
    def device(self) -> torch.device:
        return self.prepared.device


def train(
    config: TrainConfig,
    on_event: Callable[[object], None] | None = None,
    control: TrainControl | None = None,
    overwrite: bool = False,
    resume: bool = False,
) -> RunResult:
    """Run one training job; bad input raises :class:`TlguiError` before the run folder is touched.

    ``resume``: continue the run in ``config.out`` from ``checkpoints/last.pt`` (the last
    completed epoch), with the settings it was started with.
    """
    state = open_run(config, on_event or (lambda event: None), control or TrainControl(), overwrite, resume)
    build_training(state)
    announce(state)
    try:
        for epoch in range(state.start_epoch, config.epochs + 1):
            train_figures = train_one_epoch(state, epoch)
            if train_figures is None:
                break
            if not validate(state, epoch, *train_figures):
                break
            save_checkpoints(state, epoch)
            if state.control.stopped:
                state.status = "stopped"
                break
    except torch.cuda.OutOfMemoryError:
        raise _out_of_memory(config, "the GPU") from None
    except RuntimeError as exc:
        if not _is_cpu_oom(exc):
            raise
        raise _out_of_memory(config, "the computer") from None
    return finish(state)


def open_run(config: TrainConfig, emit, control: TrainControl, overwrite: bool, resume: bool) -> RunState:
    """Check the run folder, prepare data and model, and only then create or reopen the folder."""
    if not config.out:
        config.out = str(runs_dir() / time.strftime("run-%Y%m%d-%H%M%S"))
    run = RunDir(Path(config.out).expanduser().resolve())
    config.out = str(run.path)
    torch.manual_seed(config.seed)
    np.random.seed(config.seed % (2**32))
    resumed = run.resume_state(config.epochs) if resume else None
    if resumed is None:
        run.check(overwrite)  # refuses finished runs and unusable folders, touching nothing
    prepared = prepare(config, emit, control)  # bad data, model or weights fail here
    if resumed is None:
        run.prepare(overwrite)  # only now is the folder created (or an old run's files replaced)
        resolved = config.to_dict()
        resolved["lr"] = config.resolved_lr()
        run.write_config(resolved)
        run.start_metrics()
    else:
        prepared.model.load_state_dict(resumed["model"])
        run.truncate_metrics(resumed["epoch"])  # rows written after the checkpoint are redone
    return RunState(config, run, prepared, emit, control, resumed)


def build_training(state: RunState) -> None:
    """Batches, optimizer and schedule; a resumed run restores them and its random streams."""
    config, prepared = state.config, state.prepared
    state.generator = torch.Generator().manual_seed(config.seed)
    state.train_batches = Batches(prepared, config, True, state.generator)
    state.val_batches = Batches(prepared, config, False, state.generator)
    state.optimizer = build_optimizer(config, trainable_parameters(state.model))
    state.scheduler = build_scheduler(config, state.optimizer, config.epochs * len(state.train_batches))
    state.log_every = 1 if state.device.type == "cpu" else max(1, len(state.train_batches) // 50)  # .item() syncs
    state.cache = build_feature_cache(prepared, state.generator, state.emit, lambda: state.control.stopped)
    if state.cache is not None:
        setup_cached_training(state)
    resumed = state.resumed_from
    if resumed is None:
        return
    state.optimizer.load_state_dict(resumed["optimizer"])
    state.scheduler.load_state_dict(resumed["scheduler"])
    state.start_epoch = int(resumed["epoch"]) + 1
    if "data_rng" in resumed:
        state.generator.set_state(resumed["data_rng"])
        torch.set_rng_state(resumed["torch_rng"])
    state.emit(Message(f"resuming {state.run.path.name} at epoch {state.start_epoch} of {config.epochs}"))


def announce(state: RunState) -> None:
    """Emit RunStarted and reload a resumed run's earlier validation figures."""
    p = state.prepared
    state.emit(
        RunStarted(
            str(state.run.path), device_label(state.device), state.config.epochs, len(state.train_batches),
            p.train_count, p.val_count, tuple(p.classes), p.freeze.trainable_params, p.freeze.frozen_params,
            state.start_epoch,
        )
    )
    state.epochs_done = state.start_epoch - 1
    for row in state.run.earlier_val_rows(state.start_epoch - 1):  # a resumed run keeps its past
        state.history.append({"epoch": row["epoch"], "val_accuracy": row["accuracy"],
                              "train_accuracy": row["train_accuracy"]})
        state.last_val = (row["loss"], row["accuracy"])
        if row["accuracy"] > state.best_acc:
            state.best_acc, state.best_epoch = row["accuracy"], row["epoch"]
    state.started = time.perf_counter()


def train_one_epoch(state: RunState, epoch: int) -> tuple[float, float, float] | None:
    """One pass over the training batches: (loss, accuracy, start time), or None when stopped."""
    config, prepared, control, device = state.config, state.prepared, state.control, state.device
    model, optimizer, scheduler = state.model, state.optimizer, state.scheduler
    epoch_start = time.perf_counter()
    if state.cache is not None:
        figures = cached_train_epoch(state, epoch, _report_batch)
        if figures is None:
            state.status = "stopped"
            return None
        return (*figures, epoch_start)
    set_train_mode(model, prepared.freeze, config.bn_update_frozen)
    run_loss = torch.zeros((), device=device)
    run_correct = torch.zeros((), device=device, dtype=torch.long)
    run_count, batches = 0, len(state.train_batches)
    for index, (x, y) in enumerate(state.train_batches, start=1):
        control.wait_if_paused()
        if control.stopped:
            state.status = "stopped"
            return None  # a partial epoch is not recorded
        x = to_model_input(augment_batch(x, config.augment, state.generator), prepared.preprocessing, device,
                           prepared.channels_last)
        y = y.to(device, non_blocking=True)
        with autocast_for(device, prepared.precision.autocast_dtype):
            out = model(x)
            loss = state.criterion(out.float(), y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        scheduler.step()
        with torch.no_grad():
            run_loss += loss.detach() * len(y)
            correct = (out.argmax(1) == y).sum()
            run_correct += correct
        run_count += len(y)
        state.images_seen += len(y)
        if index % state.log_every == 0 or index == batches:
            _report_batch(state, epoch, index, float(loss.detach()), float(correct) / len(y))
    return float(run_loss) / max(1, run_count), float(run_correct) / max(1, run_count), epoch_start


def _report_batch(state: RunState, epoch: int, index: int, batch_loss: float, batch_acc: float) -> None:
    if not math.isfinite(batch_loss):
        raise TrainingError(
            f"the loss became {batch_loss} at epoch {epoch}, batch {index}: training diverged; "
            f"try a lower learning rate (now {state.config.resolved_lr():g})"
        )
    state.emit(BatchStats(epoch, index, len(state.train_batches), batch_loss, batch_acc,
                          state.optimizer.param_groups[0]["lr"], time.perf_counter() - state.started))


def validate(state: RunState, epoch: int, train_loss: float, train_acc: float, epoch_start: float) -> bool:
    """Validate, record the epoch (metrics.csv, history, EpochStats); False when stopped midway."""
    control = state.control
    if state.cache is not None:
        head = state.model.get_submodule(state.prepared.head_path)
        val_loss, val_acc = head_loss_accuracy(head, state.cache.val, state.criterion)
    else:
        val_loss, val_acc = evaluate_batches(state.model, state.val_batches, state.prepared, state.criterion,
                                             lambda: control.stopped)
    if control.stopped and not math.isfinite(val_acc):
        state.status = "stopped"
        return False
    state.epochs_done = epoch
    lr = state.optimizer.param_groups[0]["lr"]
    seconds = time.perf_counter() - epoch_start
    state.last_val = (val_loss, val_acc)
    state.run.append_metrics([
        {"epoch": epoch, "phase": "train", "loss": train_loss, "accuracy": train_acc, "lr": lr, "seconds": seconds},
        {"epoch": epoch, "phase": "val", "loss": val_loss, "accuracy": val_acc, "lr": lr, "seconds": seconds},
    ])
    state.history.append({"epoch": epoch, "val_accuracy": val_acc, "train_accuracy": train_acc})
    state.emit(EpochStats(epoch, state.config.epochs, train_loss, train_acc, val_loss, val_acc, lr, seconds,
                          time.perf_counter() - state.started))
    return True


def save_checkpoints(state: RunState, epoch: int) -> None:
    """checkpoints/last.pt every ``checkpoint_every`` epochs and at the end; best.pt on a new best."""
    config = state.config
    val_acc = state.last_val[1]
    if epoch % max(1, config.checkpoint_every) == 0 or epoch == config.epochs:
        state.run.save_state("last", _resumable_state(state, epoch))
    if val_acc > state.best_acc:
        state.best_acc, state.best_epoch = val_acc, epoch
        state.run.save_state("best", _resumable_state(state, epoch))


def finish(state: RunState) -> RunResult:
    """Save model.pt and summary.json; report files that failed during training."""
    train_seconds = time.perf_counter() - state.started
    _collect_late_bad_files(state)
    state.emit(Stage("save", "Saving the model"))
    config, prepared = state.config, state.prepared
    val_loss, val_acc = (v if math.isfinite(v) else None for v in state.last_val)
    checkpoint = make_checkpoint(
        state.model, config.model, prepared.classes, prepared.in_channels, prepared.head_path,
        prepared.preprocessing.to_dict(),
        source={"data": config.data, "weights": config.weights, "freeze": config.freeze,
                "run_dir": str(state.run.path), "val_accuracy": val_acc},
    )
    state.run.save_model(checkpoint)
    summary = _summary(state, train_seconds, val_loss, val_acc)
    state.run.write_summary(summary)
    if state.status == "stopped":
        state.emit(Message(f"stopped after {state.epochs_done} complete epoch(s); the model so far is saved", "info"))
    return RunResult(state.status, str(state.run.path), summary)


def _collect_late_bad_files(state: RunState) -> None:
    # files that only failed when decoded during an epoch (data too big to decode up front);
    # with DataLoader worker processes each worker keeps its own list, so only ours is seen
    prepared = state.prepared
    for dataset in (prepared.train_lazy, prepared.val_lazy):
        for entry in getattr(dataset, "bad", None) or []:
            if entry not in prepared.skipped:
                prepared.skipped.append(entry)
                state.emit(Message(f"skipped {entry[0]} during training: {entry[1]}", "warning"))


def _summary(state: RunState, train_seconds: float, val_loss, val_acc) -> dict[str, Any]:
    config, prepared = state.config, state.prepared
    return {
        "status": state.status,
        "final_val_accuracy": val_acc,
        "final_val_loss": val_loss,
        "best_val_accuracy": state.best_acc if state.best_acc >= 0 else None,
        "best_epoch": state.best_epoch or None,
        "epochs_completed": state.epochs_done,
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
        "precision": prepared.precision.name,
        "feature_cache": state.cache.summary() if state.cache is not None else not_used_summary(),
        "head_fit": head_fit_summary(state),
    }


def _out_of_memory(config: TrainConfig, what: str) -> TrainingError:
    return TrainingError(
        f"{what} ran out of memory with batch size {config.batch_size}; "
        "try a smaller batch size, a smaller image size or a smaller model"
    )
