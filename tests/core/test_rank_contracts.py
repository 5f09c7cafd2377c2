"""The typed contracts of the rank: Strategy, Recommendation, and the JSON they still write word for word."""

from __future__ import annotations

import json

import pytest
import torch

from tlgui.core.training.strategy import Strategy
from tlgui.core.workflows.advisor import Advice
from tlgui.core.workflows.rank_results import CandidateResult, RankResult, Recommendation


def test_strategy_is_its_plain_word_with_its_freeze_plan():
    assert [s.value for s in Strategy] == ["head", "finetune", "scratch"]
    assert {s.value: s.freeze for s in Strategy} == {"head": "backbone", "finetune": "none", "scratch": "none"}
    assert [s.uses_weights for s in Strategy] == [True, True, False]
    assert Strategy("head") is Strategy.HEAD and Strategy.HEAD == "head"
    assert f"{Strategy.FINETUNE}" == str(Strategy.FINETUNE) == "finetune"
    assert json.dumps({"s": Strategy.SCRATCH}) == '{"s": "scratch"}'
    with pytest.raises(ValueError):
        Strategy("frozen")
    assert Advice("head", "x").freeze == "backbone" and Advice("scratch", "x").freeze == "none"


def test_recommendation_reads_typed_and_by_key():
    rec = Recommendation("resnet18", "default", "finetune", "because")
    assert rec.strategy is Strategy.FINETUNE and rec.strategy.freeze == "none"
    assert (rec["model"], rec["weights"], rec["strategy"], rec["why"]) == ("resnet18", "default", "finetune", "because")
    with pytest.raises(KeyError):
        rec["freeze"]
    with pytest.raises(ValueError):
        Recommendation("m", "w", "sideways", "")


def test_rank_json_keeps_every_key_and_value():
    """What `tlgui rank --json` prints and rank_store keeps: plain words, the keys of the dict it once was."""
    candidate = CandidateResult("resnet18", "default", "library", accuracy=0.912345, accuracy_std=0.01,
                                train_accuracy=1.0, strategy=Strategy.HEAD)
    result = RankResult("completed", [candidate], Recommendation("resnet18", "default", Strategy.HEAD, "why"),
                        ["a", "b"], 40, 1.23456)
    text = json.dumps(result.to_json())
    record = json.loads(text)
    assert list(record) == ["candidates", "recommendation", "status", "classes", "images", "seconds"]
    assert record["recommendation"] == {"model": "resnet18", "weights": "default", "strategy": "head", "why": "why"}
    assert list(record["recommendation"]) == ["model", "weights", "strategy", "why"]
    assert record["candidates"][0]["strategy"] == "head" and record["candidates"][0]["accuracy"] == 0.9123
    assert type(result.to_json()["recommendation"]["strategy"]) is str
    assert type(result.to_json()["candidates"][0]["strategy"]) is str
    back = RankResult.from_json(record)
    assert back.recommendation == result.recommendation and back.candidates[0].strategy is Strategy.HEAD
    assert json.dumps(back.to_json()) == text


def test_a_stored_rank_with_an_unknown_strategy_is_not_a_rank():
    record = {"candidates": [], "status": "completed",
              "recommendation": {"model": "m", "weights": "w", "strategy": "sideways", "why": ""}}
    with pytest.raises(ValueError):
        RankResult.from_json(record)


def test_extract_takes_the_reason_and_reuse_from_the_outcome_not_from_words(monkeypatch):
    import threading

    from tlgui.core.base.errors import TlguiError
    from tlgui.core.base.events import Message
    from tlgui.core.training.feature_cache import CacheOutcome, FeatureCache, Features
    from tlgui.core.workflows import rank

    events = []
    monkeypatch.setattr(rank, "prepare", lambda config, emit, control: object())

    def refused(prepared, generator, emit, should_stop):
        emit(Message("feature cache not used: words that once were parsed; reused the stored features"))
        return CacheOutcome(None, "the head module is not called by the model's forward pass")

    monkeypatch.setattr(rank, "cache_features", refused)
    config = rank.RankConfig(data="d").train_config(rank.Candidate("smallcnn", "none", ""))
    with pytest.raises(TlguiError) as caught:
        rank.extract(config, threading.Event(), events.append)
    assert str(caught.value) == ("the frozen features cannot be read from this model: "
                                 "the head module is not called by the model's forward pass")
    assert [e.text for e in events if isinstance(e, Message)][0].startswith("feature cache not used")  # still shown
    empty = Features(torch.zeros(0, 2), torch.zeros(0, dtype=torch.long))
    monkeypatch.setattr(rank, "cache_features",
                        lambda *a: CacheOutcome(FeatureCache(empty, empty, 1, 0.0, reused=True)))
    assert rank.extract(config, threading.Event(), events.append)[2] is True
    monkeypatch.setattr(rank, "cache_features", lambda *a: CacheOutcome(FeatureCache(empty, empty, 1, 0.0)))
    assert rank.extract(config, threading.Event(), events.append)[2] is False
