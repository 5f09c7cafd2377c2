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
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from tlgui.core.base.cancel import PausableControl
from tlgui.core.base.config import TrainConfig
from tlgui.core.base.errors import TrainingError
from tlgui.core.base.events import (
    BatchStats,
    Emit,
    EpochStats,
    Message,
    RunResult,
    RunStarted,
    RunStatus,
    Stage,
    ignore,
)
from tlgui.core.models.checkpoint import make_checkpoint
from tlgui.core.models.device import device_label, fallback_note
from tlgui.core.models.inference import autocast_for, to_model_input
from tlgui.core.models.layers import set_train_mode
from tlgui.core.results.runs import RunDir, default_run_name
from tlgui.core.training import distributed
from tlgui.core.training.augment import augment_batch
from tlgui.core.training.batches import Batches, evaluate_batches
from tlgui.core.training.control import TrainControl
from tlgui.core.training.feature_cache import CachedBatches, FeatureCache, head_loss_accuracy
from tlgui.core.training.head_fit import cached_train_epoch
from tlgui.core.training.prepare import Prepared, prepare
from tlgui.core.training.recipe import find_lr_for_run, make_criterion, next_phase, setup_phase
from tlgui.core.training.records import (
    collect_late_bad_files,
    flush_checkpoints,
    run_summary,
    save_checkpoints,
    trim_lazy_decode_cache,
)
from tlgui.core.training.resume import restore_random_streams
from tlgui.core.training.run_folder import RunFolder


def _is_cpu_oom(exc: BaseException) -> bool:
    text = str(exc)
    return "can't allocate memory" in text or "not enough memory" in text


@dataclass
class RunState:
    """Everything one training run carries from step to step."""

    config: TrainConfig
    folder: RunFolder  # the run folder, its lock held until train() returns
    prepared: Prepared
    emit: Emit
    control: PausableControl
    dist: distributed.Dist = distributed.SINGLE  # this process's place in a torchrun job
    train_model: nn.Module | None = None  # the model to train with (DDP's wrapper under torchrun)
    validated_epoch: int | None = None  # the epoch whose validation the model's weights match
    generator: torch.Generator = field(default_factory=torch.Generator)  # seeded by build_training
    train_batches: Batches | CachedBatches | None = None  # set by build_training (cached: the head's features)
    val_batches: Batches | None = None
    criterion: nn.Module = field(default_factory=nn.CrossEntropyLoss)
    optimizer: torch.optim.Optimizer | None = None
    scheduler: Any = None
    start_epoch: int = 1
    log_every: int = 1
    status: RunStatus = "completed"
    epochs_done: int = 0
    images_seen: int = 0
    best_acc: float = -1.0
    best_epoch: int = 0
    last_val: tuple[float, float] = (float("nan"), float("nan"))
    history: list[dict[str, float]] = field(default_factory=list)
    started: float = 0.0
    cache: FeatureCache | None = None  # head-only runs: the head trains on cached backbone features
    head_l2: float | None = None  # set when the head is fitted by full-batch L-BFGS
    head_phase_fit: dict[str, Any] | None = None  # --head-epochs: how the head phase was trained
    pending_checkpoints: dict[str, dict[str, Any]] = field(default_factory=dict)  # name -> state to write
    checkpoint_written: float = field(default_factory=time.monotonic)

    @property
    def run(self) -> RunDir:
        return self.folder.run

    @property
    def resumed_from(self) -> dict[str, Any] | None:
        """The checkpoint a resumed run continues; None for a new run."""
        return self.folder.resumed

    @property
    def model(self) -> nn.Module:
        return self.prepared.model

    @property
    def device(self) -> torch.device:
        return self.prepared.device

    def training_batches(self) -> Batches | CachedBatches:
        if self.train_batches is None:
            raise RuntimeError("build_training() makes the batches first")
        return self.train_batches

    def validation_batches(self) -> Batches:
        if self.val_batches is None:
            raise RuntimeError("build_training() makes the batches first")
        return self.val_batches

    def trainer(self) -> tuple[nn.Module, torch.optim.Optimizer]:
        """The model to train (DDP's wrapper under torchrun) and its optimizer, from setup_phase."""
        if self.train_model is None or self.optimizer is None:
            raise RuntimeError("build_training() makes the model's optimizer first")
        return self.train_model, self.optimizer


def train(
    config: TrainConfig,
    on_event: Emit | None = None,
    control: PausableControl | None = None,
    overwrite: bool = False,
    resume: bool = False,
) -> RunResult:
    """Run one training job; bad input raises :class:`TlguiError` before the run folder is touched.

    ``resume``: continue the run in ``config.out`` from ``checkpoints/last.pt`` (the last
    completed epoch), with the settings it was started with.
    """
    dist = distributed.from_env()
    emit = on_event if on_event is not None and dist.main else ignore  # rank 0 reports
    try:
        state = open_run(config, emit, control or TrainControl(), overwrite, resume, dist)
        try:
            return _run(state)
        finally:
            state.folder.release()
    finally:
        distributed.stop(dist)


def _run(state: RunState) -> RunResult:
    config = state.config
    build_training(state)
    announce(state)
    try:
        try:
            for epoch in range(state.start_epoch, config.epochs + 1):
                if epoch > state.start_epoch:
                    next_phase(state, epoch)  # --head-epochs: unfreeze after the head phase
                train_figures = train_one_epoch(state, epoch)
                if train_figures is None:
                    break
                if not validate(state, epoch, *train_figures):
                    break
                save_checkpoints(state, epoch)
                if state.control.stopped:
                    state.status = "stopped"
                    break
        finally:
            if state.pending_checkpoints:  # those a cached head-only run kept in memory
                flush_checkpoints(state)
    except torch.cuda.OutOfMemoryError:
        raise _out_of_memory(config, "the GPU") from None
    except RuntimeError as exc:
        if not _is_cpu_oom(exc):
            raise
        raise _out_of_memory(config, "the computer") from None
    return finish(state)


def open_run(config: TrainConfig, emit: Emit, control: PausableControl, overwrite: bool, resume: bool,
             dist: distributed.Dist = distributed.SINGLE) -> RunState:
    """Check the run folder, prepare data and model, and only then create or reopen the folder.

    The folder's ``.lock`` is taken before anything in it is read for use or changed, and
    held by the returned state (:class:`RunFolder`): a second process gets a one-line refusal.
    Under torchrun only rank 0 touches the folder; every process prepares the same data."""
    folder = RunFolder.reserve(config, dist, default_run_name)
    try:
        return _open_locked(config, folder, emit, control, overwrite, resume, dist)
    except BaseException:
        folder.abandon()
        raise


def _open_locked(config: TrainConfig, folder: RunFolder, emit: Emit, control: PausableControl, overwrite: bool,
                 resume: bool, dist: distributed.Dist) -> RunState:
    torch.manual_seed(config.seed)
    np.random.seed(config.seed % (2**32))
    device = distributed.device_for(dist, config.device) if dist.enabled else None
    if dist.enabled and device is not None:
        distributed.check_sync_bn(device, config.sync_bn)
    distributed.start(dist, device)
    folder.open(config, resume, overwrite, dist)
    # bad data, model or weights fail here, before the folder changes
    prepared = prepare(config, emit, control, device=device, stored_split=folder.stored_split)
    if config.lr_auto and folder.resumed is None:  # a resumed run keeps the rate its config.json recorded
        find_lr_for_run(config, prepared, emit, lambda: control.stopped)
    distributed.check_same_data(dist, _data_description(prepared))
    folder.settle(config, prepared.model, prepared.split, overwrite, dist)
    return RunState(config, folder, prepared, emit, control, dist, validated_epoch=folder.resumed_epoch)


def _data_description(prepared: Prepared) -> dict[str, Any]:
    """What every torchrun process must agree on before training together."""
    return {"classes": list(prepared.classes), "train_images": prepared.train_count,
            "val_images": prepared.val_count, "model": prepared.config.model}


def build_training(state: RunState) -> None:
    """Batches, optimizer and schedule; a resumed run restores them and its random streams."""
    config, prepared = state.config, state.prepared
    state.generator = torch.Generator().manual_seed(config.seed)
    state.train_batches = Batches(prepared, config, True, state.generator, state.dist)
    state.val_batches = Batches(prepared, config, False, state.generator, state.dist)
    state.criterion = make_criterion(config, prepared)
    setup_phase(state, state.start_epoch if state.resumed_from is None else int(state.resumed_from["epoch"]) + 1)
    batches = len(state.training_batches())
    state.log_every = 1 if state.device.type == "cpu" else max(1, batches // 50)  # .item() syncs
    resumed = state.resumed_from
    if resumed is None:
        return
    state.trainer()[1].load_state_dict(resumed["optimizer"])
    state.scheduler.load_state_dict(resumed["scheduler"])
    state.start_epoch = int(resumed["epoch"]) + 1
    restore_random_streams(resumed, state.generator)
    state.emit(Message(f"resuming {state.run.path.name} at epoch {state.start_epoch} of {config.epochs}"))


def announce(state: RunState) -> None:
    """Emit RunStarted and reload a resumed run's earlier validation figures."""
    p = state.prepared
    note = fallback_note(state.device)  # a GPU is here but failed its check: say so, once
    if note and note not in p.messages:
        p.messages.append(note)
        state.emit(Message(note, "warning"))
    state.emit(
        RunStarted(
            str(state.run.path), device_label(state.device), state.config.epochs, len(state.training_batches()),
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
    state.checkpoint_written = time.monotonic()  # the write interval counts from the first epoch


def train_one_epoch(state: RunState, epoch: int) -> tuple[float, float, float] | None:
    """One pass over the training batches: (loss, accuracy, start time), or None when stopped."""
    config, prepared, control, device = state.config, state.prepared, state.control, state.device
    epoch_start = time.perf_counter()
    if state.cache is not None:
        figures = cached_train_epoch(state, epoch, _report_batch)
        if figures is None:
            state.status = "stopped"
            return None
        return (*figures, epoch_start)
    set_train_mode(state.model, prepared.freeze, config.bn_update_frozen)
    (model, optimizer), scheduler, train_batches = state.trainer(), state.scheduler, state.training_batches()
    run_loss = torch.zeros((), device=device)
    run_correct = torch.zeros((), device=device, dtype=torch.long)
    run_count, batches = 0, len(train_batches)
    for index, (x, y) in enumerate(train_batches, start=1):
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
        state.validated_epoch = None  # the weights have moved past the last validation
        scheduler.step()
        with torch.no_grad():
            run_loss += loss.detach() * len(y)
            correct = (out.argmax(1) == y).sum()
            run_correct += correct
        run_count += len(y)
        state.images_seen += len(y)
        if index % state.log_every == 0 or index == batches:
            _report_batch(state, epoch, index, float(loss.detach()), float(correct) / len(y))
    loss_sum, correct_sum, count = float(run_loss), float(run_correct), float(run_count)
    if state.dist.enabled:  # the epoch's figures over every process's share
        loss_sum, correct_sum, count = distributed.sum_across(state.dist, [loss_sum, correct_sum, count], device)
    return loss_sum / max(1.0, count), correct_sum / max(1.0, count), epoch_start


def _report_batch(state: RunState, epoch: int, index: int, batch_loss: float, batch_acc: float) -> None:
    if not math.isfinite(batch_loss):
        raise TrainingError(
            f"the loss became {batch_loss} at epoch {epoch}, batch {index}: training diverged; "
            f"try a lower learning rate (now {state.config.resolved_lr():g})"
        )
    state.emit(BatchStats(epoch, index, len(state.training_batches()), batch_loss, batch_acc,
                          head_lr(state.trainer()[1]), time.perf_counter() - state.started))


def validate(state: RunState, epoch: int, train_loss: float, train_acc: float, epoch_start: float) -> bool:
    """Validate, record the epoch (metrics.csv, history, EpochStats); False when stopped midway."""
    control = state.control
    if state.cache is not None:
        head = state.model.get_submodule(state.prepared.head_path)
        val_loss, val_acc = head_loss_accuracy(head, state.cache.val, state.criterion)
    else:
        distributed.average_buffers(state.dist, state.model)  # one set of BatchNorm statistics for all
        val_loss, val_acc = evaluate_batches(state.model, state.validation_batches(), state.prepared,
                                             state.criterion, lambda: control.stopped)
    if val_loss is None:  # stopped midway: a partial pass is not this epoch's figure
        state.status = "stopped"
        return False
    state.epochs_done = epoch
    state.validated_epoch = epoch
    lr = head_lr(state.trainer()[1])
    seconds = time.perf_counter() - epoch_start
    state.last_val = (val_loss, val_acc)
    if state.dist.main:
        state.run.append_metrics([
            {"epoch": epoch, "phase": "train", "loss": train_loss, "accuracy": train_acc, "lr": lr, "seconds": seconds},
            {"epoch": epoch, "phase": "val", "loss": val_loss, "accuracy": val_acc, "lr": lr, "seconds": seconds},
        ])
    state.history.append({"epoch": epoch, "val_accuracy": val_acc, "train_accuracy": train_acc})
    state.emit(EpochStats(epoch, state.config.epochs, train_loss, train_acc, val_loss, val_acc, lr, seconds,
                          time.perf_counter() - state.started))
    return True


def finish(state: RunState) -> RunResult:
    """Save model.pt and summary.json; report files that failed during training."""
    train_seconds = time.perf_counter() - state.started
    if state.dist.enabled:  # images per second of the whole job
        state.images_seen = int(distributed.sum_across(state.dist, [state.images_seen], state.device)[0])
    collect_late_bad_files(state)
    trim_lazy_decode_cache(state)
    state.emit(Stage("save", "Saving the model"))
    config, prepared = state.config, state.prepared
    val_loss, val_acc = (v if math.isfinite(v) else None for v in state.last_val)
    checkpoint = make_checkpoint(
        state.model, config.model, prepared.classes, prepared.in_channels, prepared.head_path,
        prepared.preprocessing.to_dict(),
        source={"data": config.data, "weights": config.weights, "freeze": config.freeze,
                "run_dir": str(state.run.path),
                # which validation these weights had, if any (after a Stop mid-epoch: none)
                "validated_epoch": state.validated_epoch,
                "val_accuracy": val_acc if state.validated_epoch is not None else None},
    )
    summary = run_summary(state, train_seconds, val_loss, val_acc)
    recall = summary.get("val_per_class_recall")
    if recall:  # the run log (and the CLI) name each class's recall, not only the accuracy
        state.emit(Message("validation recall per class: " + ", ".join(f"{k} {v:.3f}" for k, v in recall.items())
                           + f"; balanced accuracy {summary['val_balanced_accuracy']:.3f}"))
    if state.dist.main:
        state.run.save_model(checkpoint)
        state.run.write_summary(summary)
    distributed.barrier(state.dist)  # every process ends with the folder complete
    if state.status == "stopped":
        matches = (f"its weights are those validated at epoch {state.validated_epoch}"
                   if state.validated_epoch is not None else "its weights were not validated (stopped mid-epoch)")
        state.emit(Message(f"stopped after {state.epochs_done} complete epoch(s); the model so far is saved "
                           f"({matches})", "info"))
    return RunResult(state.status, str(state.run.path), summary)


def head_lr(optimizer: torch.optim.Optimizer) -> float:
    """The rate reported per batch and epoch: the head's (the highest, with --layer-lr-decay)."""
    return max(group["lr"] for group in optimizer.param_groups)


def _out_of_memory(config: TrainConfig, what: str) -> TrainingError:
    return TrainingError(
        f"{what} ran out of memory with batch size {config.batch_size}; "
        "try a smaller batch size, a smaller image size or a smaller model"
    )
