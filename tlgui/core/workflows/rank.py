"""Rank the backbones on this computer for the user's data, cheaper than training each.

For each candidate (model, weights) the frozen backbone runs once over the data, prepared as
a head-only run prepares it (:func:`tlgui.core.training.prepare.prepare`, ``--freeze
backbone``, no augmentation), and its features are stored (:mod:`feature_store`), so a second
rank and the head-only run that follows skip the backbone pass. Then a K-fold linear probe,
leave-one-out kNN and LogME score the features (:mod:`tlgui.core.workflows.probes`); the probe
ranks. A candidate that fails is listed with its reason, never hidden; a stop ends the rank
between candidates and between batches.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from tlgui.core.base.cancel import StopFlag, as_control, stop_check
from tlgui.core.base.config import TrainConfig, parse_channels
from tlgui.core.base.errors import TlguiError
from tlgui.core.base.events import Emit, Event, Message, RunStatus, Stage, ignore
from tlgui.core.data.image_kind import probe_kind
from tlgui.core.training.feature_cache import FeatureCache, Features, cache_features
from tlgui.core.training.prepare import open_sources, prepare
from tlgui.core.workflows import demo as _demo  # noqa: F401 - registers --weights demo:source
from tlgui.core.workflows.candidates import Candidate, find_candidates, parse_models
from tlgui.core.workflows.probes import knn_accuracy, linear_probe, logme
from tlgui.core.workflows.rank_advice import previous_check, recommend, strategy_for
from tlgui.core.workflows.rank_results import CandidateResult, RankProgress, RankResult
from tlgui.core.workflows.rank_store import save_rank

__all__ = ["Candidate", "CandidateResult", "RankConfig", "RankProgress", "RankResult", "find_candidates", "rank"]

NEAR_CHANCE = 0.15  # a probe this close to chance (as a share of the way to 100 %) is flagged


@dataclass
class RankConfig:
    data: str
    val_data: str | None = None
    models: str = "auto"  # "auto" and/or NAME or NAME=WEIGHTS, comma separated
    folds: int = 5
    seed: int = 0
    device: str = "auto"
    image_size: int | None = None
    max_train_images: int | None = None
    channels: str = "all"  # the Train page's / tlgui train's --channels, --intensity and --stack:
    intensity: str = "auto"  # the head-only run made with the same choices reuses the features
    stack: str = "middle"

    def train_config(self, candidate: Candidate) -> TrainConfig:
        """The head-only run this candidate's features belong to (its feature-cache key is the rank's)."""
        return TrainConfig(data=self.data, val_data=self.val_data, model=candidate.model, weights=candidate.weights,
                           freeze="backbone", augment="none", seed=self.seed, device=self.device,
                           image_size=self.image_size, max_train_images=self.max_train_images,
                           channels=self.channels, intensity=self.intensity, stack=self.stack)


def extract(config: TrainConfig, stop: StopFlag, emit: Emit) -> tuple[Any, FeatureCache, bool] | None:
    """Prepare the head-only run and get its cached features: (prepared, cache, reused), None on stop."""
    control = as_control(stop)  # the rank's own control passes through as it is
    prepared = prepare(config, emit, control)
    generator = torch.Generator().manual_seed(config.seed)
    outcome = cache_features(prepared, generator, emit, stop_check(control))
    if outcome.cache is None:
        if control.stopped:
            return None
        why = outcome.not_used or "its head is not the last module the model applies"
        raise TlguiError(f"the frozen features cannot be read from this model: {why}")
    return prepared, outcome.cache, outcome.cache.reused


def score_candidate(config: RankConfig, candidate: Candidate, stop: StopFlag,
                    emit: Emit) -> CandidateResult | None:
    """One candidate's scores, or its problem; None when stopped."""
    result = CandidateResult(candidate.model, candidate.weights, candidate.origin)
    try:
        got = extract(config.train_config(candidate), stop, emit)
        if got is None:
            return None
        prepared, cache, reused = got
        result.features_reused = reused
        result.parameters = int(sum(p.numel() for p in prepared.model.parameters()))
        images = len(cache.train.y) + len(cache.val.y)
        result.seconds_per_image = cache.seconds / max(1, images)
        features = Features(torch.cat([cache.train.x, cache.val.x]).float(), torch.cat([cache.train.y, cache.val.y]))
        classes = len(prepared.classes)
        probe = linear_probe(features, classes, config.folds, config.seed, stop)
        if probe is None:
            return None
        result.accuracy, result.accuracy_std = probe.accuracy, probe.accuracy_std
        result.train_accuracy, result.folds = probe.train_accuracy, probe.folds
        result.knn_accuracy = knn_accuracy(features, classes)
        labels = features.y.cpu().numpy()
        result.logme = logme(features.x.cpu().numpy(), labels, classes)
        chance = float(np.bincount(labels).max() / len(labels))
        if probe.accuracy - chance < NEAR_CHANCE * (1 - chance):
            result.note = (f"its features barely separate these classes ({probe.accuracy:.0%} against {chance:.0%} "
                           "by guessing the commonest class): random or unrelated weights?")
    except Exception as exc:  # noqa: BLE001 - a bad candidate is listed with its reason, never a crash
        result.problem = str(exc) if isinstance(exc, TlguiError) else f"{type(exc).__name__}: {exc}"
    return result


def _data_facts(config: RankConfig, emit: Emit) -> tuple[list[str], list[int]]:
    """Open the data once (bad data is the user's error for every candidate: it raises)."""
    probe = config.train_config(Candidate("smallcnn", "none", "check"))
    probe.validate()
    sources = open_sources(probe, emit)
    # --channels against the data's own channels: one error, not the same problem on every candidate
    parse_channels(probe.channels, probe_kind(sources.train_set, stack=probe.stack).channels)
    counts = np.bincount(np.asarray(sources.train_set.labels), minlength=len(sources.classes))
    return list(sources.classes), [int(c) for c in counts]


def _order(results: list[CandidateResult]) -> list[CandidateResult]:
    scored = sorted((r for r in results if r.ok), key=lambda r: (-(r.accuracy or 0.0), -(r.logme or -1e300)))
    return scored + [r for r in results if not r.ok]


def rank(config: RankConfig, emit: Emit | None = None,
         stop: StopFlag = None) -> RankResult:
    """Score every candidate (see the module docstring); candidates best first. A stop ends the
    rank with the candidates scored so far (the rank page stops with its own flag, so that the
    partial result still reaches it)."""
    emit = emit or ignore
    control = as_control(stop)
    started = time.perf_counter()
    classes, counts = _data_facts(config, ignore)  # listeners get RankProgress only
    candidates = parse_models(config.models)
    if not candidates:
        raise TlguiError("no pretrained backbones on this computer: download or import some "
                         "(tlgui weights), or name them with --models NAME[=WEIGHTS],...")
    results: list[CandidateResult] = []
    status: RunStatus = "completed"
    for index, candidate in enumerate(candidates, start=1):
        if control.stopped:
            status = "stopped"
            break
        emit(RankProgress(index, len(candidates), candidate.model, candidate.weights, "reading features"))

        def forward(event: Event, index: int = index, candidate: Candidate = candidate) -> None:
            if isinstance(event, Stage):
                emit(RankProgress(index, len(candidates), candidate.model, candidate.weights, event.detail))

        result = score_candidate(config, candidate, control, forward)
        if result is None:
            status = "stopped"
            break
        results.append(result)
        emit(RankProgress(index, len(candidates), candidate.model, candidate.weights, "done", result))
    ordered = _order(results)
    check = previous_check(config.data)
    for result in ordered:
        if result.ok:
            result.strategy = strategy_for(result, counts, check)[0]
    advice = recommend(ordered, counts, check)
    done = RankResult(status, ordered, advice, classes, int(sum(counts)), time.perf_counter() - started)
    if status == "completed":
        try:
            save_rank(config, done)  # the "Which model?" page shows it again after a restart
        except OSError as exc:
            emit(Message(f"could not keep this rank for next time: {exc}", "warning"))
    return done
