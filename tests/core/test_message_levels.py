"""A message's level is set where the message is written, never guessed from its words."""

from __future__ import annotations

import copy
import json
import pickle

from tlgui.core.base.config import TrainConfig
from tlgui.core.base.events import Message, Note, as_message, warning
from tlgui.core.training import prepare as prepare_module
from tlgui.core.training.precision import PrecisionChoice

from .learnable import image_folder


def test_a_note_is_a_str_that_keeps_its_level():
    note = warning("skipped 2 files")
    assert note == "skipped 2 files" and isinstance(note, str) and "skipped" in note
    assert json.dumps([note]) == '["skipped 2 files"]'
    for again in (pickle.loads(pickle.dumps(note)), copy.deepcopy(note)):
        assert again == note and again.level == "warning"
    assert as_message(note) == Message("skipped 2 files", "warning")
    assert type(as_message(note).text) is str
    assert as_message("image size: 32 px") == Message("image size: 32 px", "info")
    assert as_message(Note("x", "info")).level == "info"


def test_prepare_emits_each_note_at_its_own_level(tmp_path, monkeypatch):
    data = image_folder(tmp_path / "data", per_class=6, size=16)
    (data / "horizontal" / "broken.png").write_bytes(b"not an image")
    # words that once made a line a warning, in a note written as information
    guessed = PrecisionChoice("fp32", None, "a note naming the cache, skipped and ignored files")
    monkeypatch.setattr(prepare_module, "resolve_precision", lambda *a: guessed)
    events = []
    config = TrainConfig(data=str(data), model="smallcnn", out=str(tmp_path / "run"), epochs=1, image_size=16)
    prepare_module.prepare(config, events.append)
    levels = {e.text: e.level for e in events if isinstance(e, Message)}
    assert levels[guessed.note] == "info"
    skipped = [text for text in levels if text.startswith("skipped 1 unreadable")]
    assert skipped and levels[skipped[0]] == "warning"
    assert all(level == "info" for text, level in levels.items() if text.startswith("image size"))
