"""Did transfer help? Train the same model on the same data three ways and compare.

* ``scratch``  - random weights, everything trained (the baseline);
* ``head``     - the given pretrained weights, backbone frozen, only the head trained;
* ``finetune`` - the given pretrained weights, everything trained.

Same data, split, epochs, learning rate and seed for all; each strategy is an ordinary run
(:func:`tlgui.core.training.train`) in its own sub-folder of ``out``. The result is
``compare.json`` (figures, per-epoch curves, a verdict in plain words) and ``compare.png``.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tlgui.core.base.cancel import PausableControl
from tlgui.core.base.config import TrainConfig
from tlgui.core.base.errors import ConfigError, RunDirError
from tlgui.core.base.events import Emit, EpochStats, Event, RunStatus, StrategyFinished, StrategyStarted, ignore
from tlgui.core.base.files import atomic_write_text, writable_folder_problem
from tlgui.core.base.strategy import Strategy
from tlgui.core.models.zoo import check_architecture
from tlgui.core.results.runs import reuse_check
from tlgui.core.training.control import TrainControl
from tlgui.core.training.loop import train
from tlgui.core.training.prepare import resolve_weights
from tlgui.core.workflows.compare_results import LABELS, StrategyResult, percent_text, verdict_text

__all__ = ["LABELS", "STRATEGIES", "CompareConfig", "CompareResult", "StrategyFinished", "StrategyResult",
           "StrategyStarted", "describe_weights", "run_comparison", "verdict_text"]

STRATEGIES = ("scratch", "head", "finetune")


COMPARE_JSON = "compare.json"


COMPARE_PNG = "compare.png"


@dataclass
class CompareConfig:
    data: str
    model: str
    weights: str
    out: str
    epochs: int = 5
    strategies: tuple[str, ...] = STRATEGIES
    val_data: str | None = None
    seed: int = 0
    batch_size: int = 64
    lr: float | None = None  # one learning rate for every strategy (None: the optimizer's default)
    device: str = "auto"
    max_train_images: int | None = None
    image_size: int | None = None
    optimizer: str = "adam"
    schedule: str = "cosine"
    split: str = "train"  # of --data, for IDX/torchvision sources
    val_split: float = 0.2  # share held out when there is no val_data
    val_split_name: str = "test"  # split of val_data

    def train_config(self, strategy: str) -> TrainConfig:
        plan = Strategy(strategy)  # scratch: random weights; head: the backbone frozen
        return TrainConfig(
            data=self.data, val_data=self.val_data, model=self.model,
            weights=self.weights if plan.uses_weights else "none", freeze=plan.freeze,
            epochs=int(self.epochs), batch_size=int(self.batch_size), lr=self.lr,
            optimizer=self.optimizer, schedule=self.schedule, seed=int(self.seed),
            device=self.device, max_train_images=self.max_train_images, image_size=self.image_size,
            split=self.split, val_split=float(self.val_split), val_split_name=self.val_split_name,
            out=str(Path(self.out) / strategy),
        )


@dataclass
class CompareResult:
    status: RunStatus  # "completed" | "stopped"
    strategies: dict[str, StrategyResult]
    verdict: str
    out: str
    json_path: str
    png_path: str
    gains: dict[str, float] = field(default_factory=dict)  # points over scratch


def describe_weights(weights: str, model: str) -> str:
    """Words for a --weights value, for the verdict."""
    spec = (weights or "none").strip()
    if spec == "none":
        return "random weights"
    if spec == "default":
        source = "timm's" if model.startswith("timm:") else "torchvision's"
        return f"{source} pretrained {model} weights"
    if spec == "demo:source":
        return "the demo source model"
    return Path(spec).name


def _check_config(config: CompareConfig) -> list[str]:
    given = config.strategies.split(",") if isinstance(config.strategies, str) else config.strategies
    names = [s.strip() for s in given if s.strip()]
    unknown = [s for s in names if s not in STRATEGIES]
    if unknown or not names:
        raise ConfigError(f"unknown strategy {', '.join(unknown) or '(none given)'}: "
                          f"choose from {', '.join(STRATEGIES)}")
    if len(set(names)) != len(names):
        raise ConfigError(f"a strategy is listed twice in {','.join(names)}")
    if any(s != "scratch" for s in names) and (config.weights or "none").strip() == "none":
        raise ConfigError(
            "--weights none leaves nothing to transfer: give pretrained weights (default, demo:source or a file), "
            "or use --strategies scratch"
        )
    if int(config.epochs) < 1:
        raise ConfigError(f"invalid value for --epochs: {config.epochs!r} (must be at least 1)")
    if not config.out:
        raise ConfigError("compare needs an output folder (--out)")
    for name in names:
        config.train_config(name).validate()
    return names


def _check_out(out: Path, names: list[str], overwrite: bool) -> None:
    if out.exists() and not out.is_dir():
        raise RunDirError(f"output path {out} exists and is not a folder")
    for name in names:
        reuse_check(out / name, overwrite)  # in use, finished or interrupted: refused up front
    problem = writable_folder_problem(out)
    if problem:
        raise RunDirError(f"cannot write to output folder {out}: {problem}")


def run_comparison(
    config: CompareConfig,
    on_event: Emit | None = None,
    control: PausableControl | None = None,
    overwrite: bool = False,
) -> CompareResult:
    """Train each strategy in turn; write ``compare.json`` and ``compare.png`` to ``config.out``.

    ``on_event`` gets :class:`StrategyStarted`, then that run's own training events, then
    :class:`StrategyFinished`. ``control`` (a :class:`TrainControl`) stops the current run
    and the sequence; what finished is still written. Bad input raises :class:`TlguiError`
    before any training starts.
    """
    emit = on_event or ignore
    control = control or TrainControl()
    names = _check_config(config)
    check_architecture(config.model)
    out = Path(config.out).expanduser().resolve()
    config.out = str(out)
    _check_out(out, names, overwrite)
    if any(n != "scratch" for n in names):
        # fail on missing or unfitting weights now, not after the first strategy's training
        resolve_weights(config.train_config("finetune"), emit, control)

    start = time.perf_counter()
    results: dict[str, StrategyResult] = {}
    classes: list[str] = []
    stopped = False
    for index, name in enumerate(names, start=1):
        if control.stopped:
            stopped = True
            break
        result, run_classes, run_status = _run_strategy(config, name, index, len(names), emit, control, overwrite)
        results[name] = result
        classes = run_classes or classes
        if run_status == "stopped" or control.stopped:
            stopped = True
            break
    status: RunStatus = "stopped" if stopped or len(results) < len(names) else "completed"
    source = describe_weights(config.weights, config.model)
    verdict, gains = verdict_text(results, source, int(config.epochs), stopped)
    report = _report(config, names, results, status, verdict, gains, source, classes, time.perf_counter() - start)
    json_path = out / COMPARE_JSON
    atomic_write_text(json_path, json.dumps(report, indent=2) + "\n")
    png_path = out / COMPARE_PNG
    save_compare_chart(png_path, results, config, len(classes))
    return CompareResult(status, results, verdict, str(out), str(json_path), str(png_path), gains)


def _run_strategy(config: CompareConfig, name: str, index: int, count: int, emit: Emit, control: PausableControl,
                  overwrite: bool) -> tuple[StrategyResult, list[str], RunStatus]:
    """Train one strategy; its events go through to ``emit``. Returns (result, classes, status)."""
    train_config = config.train_config(name)
    emit(StrategyStarted(name, LABELS[name], index, count, train_config.out))
    curve: list[EpochStats] = []

    def forward(event: Event) -> None:
        if isinstance(event, EpochStats):
            curve.append(event)
        emit(event)

    run = train(train_config, forward, control, overwrite=overwrite)
    s = run.summary
    result = StrategyResult(
        name=name,
        status=run.status,
        best_val_accuracy=s.get("best_val_accuracy"),
        final_val_accuracy=s.get("final_val_accuracy"),
        seconds=float(s.get("train_seconds", 0.0)),
        val_accuracy_per_epoch=[float(e.val_accuracy) for e in curve],
        train_accuracy_per_epoch=[float(e.train_accuracy) for e in curve],
        epochs_completed=int(s.get("epochs_completed", len(curve))),
        weights=train_config.weights,
        freeze=train_config.freeze,
        run_dir=run.run_dir,
        trainable_params=int(s.get("trainable_params", 0)),
        frozen_params=int(s.get("frozen_params", 0)),
        train_images=int(s.get("train_images", 0)),
        val_images=int(s.get("val_images", 0)),
    )
    emit(StrategyFinished(name, run.status, result.best_val_accuracy, result.final_val_accuracy, result.seconds))
    return result, list(s.get("classes", [])), run.status


def _report(config, names, results, status, verdict, gains, source, classes, seconds) -> dict[str, Any]:
    """compare.json's content."""
    final = {k: r.final_val_accuracy for k, r in results.items() if r.final_val_accuracy is not None}
    report = {
        "format": "tlgui.compare",
        "format_version": 1,
        "status": status,
        "verdict": verdict,
        "gains_over_scratch": gains,
        "best_strategy": max(final, key=lambda k: final[k], default=None),
        "strategies": {k: r.to_json() for k, r in results.items()},
        "strategies_planned": names,
        "data": config.data,
        "val_data": config.val_data,
        "model": config.model,
        "weights": config.weights,
        "source": source,
        "epochs": int(config.epochs),
        "seed": int(config.seed),
        "lr": config.lr,
        "batch_size": int(config.batch_size),
        "classes": classes,
        "total_seconds": round(seconds, 3),
    }
    # the contract: one entry per strategy, keyed by its name, at the top level
    # (best_val_accuracy, final_val_accuracy, seconds); "strategies" holds the same, grouped
    for name, result in results.items():
        report[name] = {k: v for k, v in result.to_json().items()
                        if k in ("best_val_accuracy", "final_val_accuracy", "seconds", "epochs_completed", "status")}
    return report


def save_compare_chart(path: Path, results: dict[str, StrategyResult], config: CompareConfig, num_classes: int) -> Path:
    """The overlaid validation-accuracy curves as a PNG (Pillow; no Qt)."""
    from tlgui.core.results.plotting import Series, save_line_chart

    series = [
        Series(
            f"{LABELS[k]} (final {percent_text(r.final_val_accuracy)})",
            list(range(1, len(r.val_accuracy_per_epoch) + 1)),
            r.val_accuracy_per_epoch,
        )
        for k, r in results.items()
    ]
    chance = (1.0 / num_classes, f"chance ({100 / num_classes:.1f}%)") if num_classes >= 2 else None
    return save_line_chart(
        path,
        series,
        title="Did transfer help? Validation accuracy per epoch",
        subtitle=f"{config.model} on {config.data}; pretrained: {describe_weights(config.weights, config.model)}; "
        f"seed {config.seed}",
        xlabel="epoch",
        ylabel="validation accuracy",
        percent=True,
        reference=chance,
    )
