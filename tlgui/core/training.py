"""The training loop: ``train(config, on_event, control) -> RunResult``.

Runs on whatever thread calls it (the GUI's worker thread, the CLI's main thread).
It checks ``control`` every batch (stop, pause), emits small event records, validates
every epoch, and leaves a complete run directory behind (see :mod:`tlgui.core.runs`).
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from .checkpoint import make_checkpoint
from .config import TrainConfig
from .errors import TrainingError
from .events import BatchStats, EpochStats, Message, RunResult, RunStarted, Stage
from .inference import autocast_for, batched_logits, to_model_input
from .layers import set_train_mode, trainable_parameters
from .prepare import Prepared, device_label, prepare
from .runs import RunDir


def _is_cpu_oom(exc: BaseException) -> bool:
    text = str(exc)
    return "can't allocate memory" in text or "not enough memory" in text


class TrainControl:
    """Thread-safe stop and pause flags, checked by the loop every batch."""

    def __init__(self) -> None:
        self._stop = threading.Event()
        self._running = threading.Event()
        self._running.set()

    def stop(self) -> None:
        self._stop.set()
        self._running.set()  # a paused loop must wake up to notice

    def pause(self) -> None:
        self._running.clear()

    def resume(self) -> None:
        self._running.set()

    @property
    def stopped(self) -> bool:
        return self._stop.is_set()

    @property
    def paused(self) -> bool:
        return not self._running.is_set()

    def wait_if_paused(self) -> None:
        while not self._running.wait(0.1):
            pass


def _optimizer(config: TrainConfig, params) -> torch.optim.Optimizer:
    lr = config.resolved_lr()
    if config.optimizer == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=config.momentum, weight_decay=config.weight_decay)
    if config.optimizer == "adamw":
        return torch.optim.AdamW(params, lr=lr, weight_decay=config.weight_decay or 0.01)
    return torch.optim.Adam(params, lr=lr, weight_decay=config.weight_decay)


def _scheduler(config: TrainConfig, optimizer, total_steps: int):
    if config.schedule == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(1, total_steps))
    if config.schedule == "onecycle":
        return torch.optim.lr_scheduler.OneCycleLR(
            optimizer, max_lr=config.resolved_lr(), total_steps=max(2, total_steps)
        )
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda _: 1.0)


def _augment(x: torch.Tensor, mode: str, generator: torch.Generator) -> torch.Tensor:
    if mode == "none":
        return x
    flip = torch.rand(len(x), generator=generator) < 0.5
    if flip.any():
        x = x.clone()
        x[flip] = x[flip].flip(-1)
    if mode == "standard":
        pad = max(1, x.shape[-1] // 8)
        padded = nn.functional.pad(x, (pad, pad, pad, pad), mode="replicate" if x.is_floating_point() else "constant")
        dx, dy = (int(v) for v in torch.randint(0, 2 * pad + 1, (2,), generator=generator))
        x = padded[..., dy : dy + x.shape[-2], dx : dx + x.shape[-1]]
    return x


class _Batches:
    """Yields (uint8 images, labels) batches from memory or from a lazy dataset."""

    def __init__(self, prepared: Prepared, config: TrainConfig, train: bool, generator: torch.Generator):
        self.p, self.config, self.train, self.generator = prepared, config, train, generator
        self.lazy = prepared.train_lazy if train else prepared.val_lazy
        self.x = prepared.train_x if train else prepared.val_x
        self.y = prepared.train_y if train else prepared.val_y
        self.batch_size = config.batch_size if train else max(config.batch_size, 256)

    def __len__(self) -> int:
        n = len(self.y) if self.lazy is None else len(self.lazy)
        return max(1, math.ceil(n / self.batch_size))

    def __iter__(self):
        if self.lazy is None:
            n = len(self.y)
            order = torch.randperm(n, generator=self.generator) if self.train else torch.arange(n)
            for start in range(0, n, self.batch_size):
                index = order[start : start + self.batch_size]
                yield self.x[index], self.y[index]
            return
        loader = torch.utils.data.DataLoader(
            self.lazy,
            batch_size=self.batch_size,
            shuffle=self.train,
            generator=self.generator,
            num_workers=self.config.num_workers,
            # never fork a process that runs Qt threads
            multiprocessing_context="spawn" if self.config.num_workers > 0 else None,
            persistent_workers=False,
        )
        label_map = getattr(self.lazy, "label_map", None)
        for x, y in loader:
            if label_map is not None:
                y = torch.from_numpy(label_map)[y]
            yield x, y


def _evaluate(model: nn.Module, batches: _Batches, prepared: Prepared, criterion, should_stop) -> tuple[float, float]:
    device = prepared.device
    if batches.lazy is None:
        logits = batched_logits(model, batches.x, prepared.preprocessing, device, batches.batch_size, should_stop)
        if len(logits) == 0:
            return float("nan"), float("nan")
        y = batches.y[: len(logits)]
        return float(criterion(logits, y)), float((logits.argmax(1) == y).float().mean())
    total_loss, correct, count = 0.0, 0, 0
    model.eval()
    with torch.no_grad():
        for x, y in batches:
            if should_stop():
                break
            with autocast_for(device):
                out = model(to_model_input(x, prepared.preprocessing, device)).float()
            y = y.to(device)
            total_loss += float(criterion(out, y)) * len(y)
            correct += int((out.argmax(1) == y).sum())
            count += len(y)
    return (total_loss / count, correct / count) if count else (float("nan"), float("nan"))


def _resumable_state(model, optimizer, scheduler, epoch: int, config: TrainConfig, generator) -> dict[str, Any]:
    return {
        "format": "tlgui.state",
        "epoch": epoch,
        "model": {k: v.detach().cpu().clone() for k, v in model.state_dict().items()},
        "optimizer": optimizer.state_dict(),
        "scheduler": scheduler.state_dict(),
        "config": config.to_dict(),
        # random streams, so a resumed run continues exactly as an uninterrupted one would
        "data_rng": generator.get_state(),
        "torch_rng": torch.get_rng_state(),
    }


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
    emit = on_event or (lambda event: None)
    control = control or TrainControl()
    if not config.out:
        from ..paths import runs_dir

        config.out = str(runs_dir() / time.strftime("run-%Y%m%d-%H%M%S"))
    run = RunDir(Path(config.out).expanduser().resolve())
    config.out = str(run.path)
    torch.manual_seed(config.seed)
    np.random.seed(config.seed % (2**32))

    state = run.resume_state(config.epochs) if resume else None
    if state is None:
        run.check(overwrite)  # refuses finished runs and unusable folders, touching nothing
    prepared = prepare(config, emit, control)  # bad data, model or weights fail here
    model, device = prepared.model, prepared.device
    if state is None:
        run.prepare(overwrite)  # only now is the folder created (or an old run's files replaced)
        resolved = config.to_dict()
        resolved["lr"] = config.resolved_lr()
        run.write_config(resolved)
        run.start_metrics()
    else:
        model.load_state_dict(state["model"])
        run.truncate_metrics(state["epoch"])  # rows written after the checkpoint are redone

    generator = torch.Generator().manual_seed(config.seed)
    train_batches = _Batches(prepared, config, True, generator)
    val_batches = _Batches(prepared, config, False, generator)
    criterion = nn.CrossEntropyLoss()
    optimizer = _optimizer(config, trainable_parameters(model))
    scheduler = _scheduler(config, optimizer, config.epochs * len(train_batches))
    start_epoch = 1
    if state is not None:
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        start_epoch = int(state["epoch"]) + 1
        if "data_rng" in state:
            generator.set_state(state["data_rng"])
            torch.set_rng_state(state["torch_rng"])
        emit(Message(f"resuming {run.path.name} at epoch {start_epoch} of {config.epochs}"))
    batches = len(train_batches)
    log_every = 1 if device.type == "cpu" else max(1, batches // 50)  # .item() syncs a GPU

    emit(
        RunStarted(
            str(run.path), device_label(device), config.epochs, batches, prepared.train_count,
            prepared.val_count, tuple(prepared.classes), prepared.freeze.trainable_params,
            prepared.freeze.frozen_params, start_epoch,
        )
    )
    start = time.perf_counter()
    images_seen, epochs_done, status = 0, start_epoch - 1, "completed"
    best_acc, best_epoch, last_val = -1.0, 0, (float("nan"), float("nan"))
    history: list[dict[str, float]] = []
    for row in run.earlier_val_rows(start_epoch - 1):  # a resumed run keeps its past
        history.append({"epoch": row["epoch"], "val_accuracy": row["accuracy"], "train_accuracy": row["train_accuracy"]})
        last_val = (row["loss"], row["accuracy"])
        if row["accuracy"] > best_acc:
            best_acc, best_epoch = row["accuracy"], row["epoch"]
    try:
        for epoch in range(start_epoch, config.epochs + 1):
            epoch_start = time.perf_counter()
            set_train_mode(model, prepared.freeze, config.bn_update_frozen)
            run_loss = torch.zeros((), device=device)
            run_correct = torch.zeros((), device=device, dtype=torch.long)
            run_count = 0
            for index, (x, y) in enumerate(train_batches, start=1):
                control.wait_if_paused()
                if control.stopped:
                    status = "stopped"
                    break
                x = _augment(to_model_input(x, prepared.preprocessing, device), config.augment, generator)
                y = y.to(device, non_blocking=True)
                with autocast_for(device):
                    out = model(x)
                    loss = criterion(out.float(), y)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                scheduler.step()
                with torch.no_grad():
                    run_loss += loss.detach() * len(y)
                    correct = (out.argmax(1) == y).sum()
                    run_correct += correct
                run_count += len(y)
                images_seen += len(y)
                if index % log_every == 0 or index == batches:
                    batch_loss = float(loss.detach())
                    if not math.isfinite(batch_loss):
                        raise TrainingError(
                            f"the loss became {batch_loss} at epoch {epoch}, batch {index}: training diverged; "
                            f"try a lower learning rate (now {config.resolved_lr():g})"
                        )
                    emit(BatchStats(epoch, index, batches, batch_loss, float(correct) / len(y),
                                    optimizer.param_groups[0]["lr"], time.perf_counter() - start))
            if status == "stopped" and run_count == 0:
                break
            train_loss = float(run_loss) / max(1, run_count)
            train_acc = float(run_correct) / max(1, run_count)
            if status == "stopped":
                break
            val_loss, val_acc = _evaluate(model, val_batches, prepared, criterion, lambda: control.stopped)
            if control.stopped and not math.isfinite(val_acc):
                status = "stopped"
                break
            epochs_done = epoch
            lr = optimizer.param_groups[0]["lr"]
            seconds = time.perf_counter() - epoch_start
            last_val = (val_loss, val_acc)
            run.append_metrics([
                {"epoch": epoch, "phase": "train", "loss": train_loss, "accuracy": train_acc, "lr": lr, "seconds": seconds},
                {"epoch": epoch, "phase": "val", "loss": val_loss, "accuracy": val_acc, "lr": lr, "seconds": seconds},
            ])
            history.append({"epoch": epoch, "val_accuracy": val_acc, "train_accuracy": train_acc})
            emit(EpochStats(epoch, config.epochs, train_loss, train_acc, val_loss, val_acc, lr, seconds,
                            time.perf_counter() - start))
            if epoch % max(1, config.checkpoint_every) == 0 or epoch == config.epochs:
                run.save_state("last", _resumable_state(model, optimizer, scheduler, epoch, config, generator))
            if val_acc > best_acc:
                best_acc, best_epoch = val_acc, epoch
                run.save_state("best", _resumable_state(model, optimizer, scheduler, epoch, config, generator))
            if control.stopped:
                status = "stopped"
                break
    except torch.cuda.OutOfMemoryError:
        raise TrainingError(
            f"the GPU ran out of memory with batch size {config.batch_size}; "
            "try a smaller batch size, a smaller image size or a smaller model"
        ) from None
    except RuntimeError as exc:
        if not _is_cpu_oom(exc):
            raise
        raise TrainingError(
            f"the computer ran out of memory with batch size {config.batch_size}; "
            "try a smaller batch size, a smaller image size or a smaller model"
        ) from None

    train_seconds = time.perf_counter() - start
    # files that only failed when decoded during an epoch (data too big to decode up front);
    # with DataLoader worker processes each worker keeps its own list, so only ours is seen
    for dataset in (prepared.train_lazy, prepared.val_lazy):
        for entry in getattr(dataset, "bad", None) or []:
            if entry not in prepared.skipped:
                prepared.skipped.append(entry)
                emit(Message(f"skipped {entry[0]} during training: {entry[1]}", "warning"))
    emit(Stage("save", "Saving the model"))
    checkpoint = make_checkpoint(
        model, config.model, prepared.classes, prepared.in_channels, prepared.head_path,
        prepared.preprocessing.to_dict(),
        source={"data": config.data, "weights": config.weights, "freeze": config.freeze,
                "run_dir": str(run.path), "val_accuracy": last_val[1] if math.isfinite(last_val[1]) else None},
    )
    run.save_model(checkpoint)
    summary = {
        "status": status,
        "final_val_accuracy": last_val[1] if math.isfinite(last_val[1]) else None,
        "final_val_loss": last_val[0] if math.isfinite(last_val[0]) else None,
        "best_val_accuracy": best_acc if best_acc >= 0 else None,
        "best_epoch": best_epoch or None,
        "epochs_completed": epochs_done,
        "epochs_planned": config.epochs,
        "resumed_from_epoch": start_epoch - 1 if state is not None else None,
        "train_seconds": round(train_seconds, 3),
        "images_per_second": round(images_seen / train_seconds, 1) if train_seconds > 0 else 0.0,
        "trainable_params": prepared.freeze.trainable_params,
        "frozen_params": prepared.freeze.frozen_params,
        "classes": prepared.classes,
        "model": config.model,
        "weights": config.weights,
        "freeze": config.freeze,
        "device": device_label(device),
        "train_images": prepared.train_count,
        "val_images": prepared.val_count,
        "skipped_files": [{"path": p, "reason": r} for p, r in prepared.skipped[:200]],
        "messages": prepared.messages,
        "history": history,
    }
    run.write_summary(summary)
    if status == "stopped":
        emit(Message(f"stopped after {epochs_done} complete epoch(s); the model so far is saved", "info"))
    return RunResult(status, str(run.path), summary)
