"""What core really emits and stores matches its types: every event a run sends is one of the
Event union's kinds, and the preprocessing dict model.pt carries has the Prep TypedDict's keys."""

import typing

import torch

from tlgui.core.base.config import TrainConfig
from tlgui.core.base.events import (
    BatchStats,
    EpochStats,
    Event,
    Message,
    RunStarted,
    Stage,
    as_message,
    as_run_status,
    warning,
)
from tlgui.core.base.pixels import Prep
from tlgui.core.base.preprocessing import Preprocessing
from tlgui.core.training.loop import train

from .learnable import image_folder

EVENT_KINDS = typing.get_args(Event)


def test_every_event_of_a_run_is_a_kind_of_the_event_union(tmp_path):
    data = image_folder(tmp_path / "data", per_class=6)
    seen = []
    result = train(TrainConfig(data=str(data), model="smallcnn", out=str(tmp_path / "run"), epochs=2,
                               batch_size=4, lr="auto"), seen.append)
    assert result.status == "completed"
    strays = [type(event).__name__ for event in seen if not isinstance(event, EVENT_KINDS)]
    assert strays == []
    kinds = {type(event) for event in seen}
    assert {Stage, Message, RunStarted, BatchStats, EpochStats} <= kinds
    levels = {event.level for event in seen if isinstance(event, Message)}
    assert levels <= set(typing.get_args(typing.get_type_hints(Message)["level"]))


def test_a_note_keeps_its_level_as_a_message():
    assert as_message(warning("careful")) == Message("careful", "warning")
    assert as_message("plain") == Message("plain", "info")


def test_statuses_read_back_are_checked():
    assert as_run_status("stopped") == "stopped"
    try:
        as_run_status("finished")
    except ValueError as exc:
        assert "finished" in str(exc)
    else:
        raise AssertionError("an unknown status was accepted")


def test_the_stored_preprocessing_has_the_keys_of_prep(tmp_path):
    keys = set(Prep.__annotations__)
    assert {"resize", "crop", "channels"} <= keys
    assert set(Preprocessing(resize=36, crop=32, channels=3).to_dict()) == keys  # a new model: every key
    data = image_folder(tmp_path / "data", per_class=4)
    train(TrainConfig(data=str(data), model="smallcnn", out=str(tmp_path / "run"), epochs=1, batch_size=4))
    stored = torch.load(tmp_path / "run" / "model.pt", weights_only=True)["preprocessing"]
    assert set(stored) == keys
    assert set(stored["intensity"]) <= {"mode", "low", "high"}
    old = {"resize": 36, "crop": 32, "channels": 1}  # a model.pt from before deep images
    assert Preprocessing.from_dict(old).to_dict()["intensity"] == {"mode": "none"}


def test_preprocessing_round_trips_through_its_dict():
    prep = Preprocessing(resize=40, crop=32, channels=2, mean=[0.1, 0.2], std=[0.3, 0.4], channel_select=[0, 2],
                         intensity={"mode": "fixed", "low": [10.0], "high": [200.0]}, source_dtype="uint16",
                         source_channels=3, stack="max")
    again = Preprocessing.from_dict(prep.to_dict())
    assert again == prep
    copy = prep.to_dict()
    copy["intensity"]["low"].append(5.0)  # a copy: changing it leaves the preprocessing alone
    assert prep.intensity["low"] == [10.0]
