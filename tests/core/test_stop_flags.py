"""One stop protocol: every long job reads its stop flag through core.base.cancel."""

from __future__ import annotations

import ast
import threading
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import tlgui
from tests.core import corpus
from tlgui.core.base.cancel import Control, is_cancelled, stop_check
from tlgui.core.base.preprocessing import Preprocessing
from tlgui.core.data.catalog import open_source
from tlgui.core.data.decode import decode_to_tensor
from tlgui.core.training.control import TrainControl


class _Flag:
    """A Control that is not a TrainControl: anything with a ``stopped`` property."""

    def __init__(self) -> None:
        self.stopped = False


def _flags():
    event = threading.Event()
    control = TrainControl()
    plain = _Flag()
    box = [False]
    return [
        (event, event.set),
        (control, control.stop),
        (plain, lambda: setattr(plain, "stopped", True)),
        (lambda: box[0], lambda: box.__setitem__(0, True)),
    ]


@pytest.mark.parametrize("index", range(4))
def test_every_kind_of_flag_reads_false_then_true(index):
    flag, ask_stop = _flags()[index]
    check = stop_check(flag)
    assert check() is False and is_cancelled(flag) is False
    ask_stop()
    assert check() is True and is_cancelled(flag) is True


def test_none_never_stops_and_a_wrong_flag_is_named():
    assert stop_check(None)() is False and is_cancelled(None) is False
    with pytest.raises(TypeError, match="not a stop flag: 3"):
        stop_check(3)


def test_train_control_is_a_control():
    assert isinstance(TrainControl(), Control) and isinstance(_Flag(), Control)
    assert not isinstance(threading.Event(), Control)


def test_decoding_stops_on_a_train_control(tmp_path):
    for i in range(4):
        corpus.save(tmp_path / "ab"[i % 2] / f"{i}.png", Image.new("L", (8, 8), i))
    images = open_source(str(tmp_path))
    prep = Preprocessing(resize=8, crop=8, channels=1, mean=[0.5], std=[0.5])
    control = TrainControl()
    x, _, _ = decode_to_tensor(images, np.arange(4), prep, should_stop=control, cache=None)
    assert len(x) == 4
    control.stop()
    x, y, bad = decode_to_tensor(images, np.arange(4), prep, should_stop=control, cache=None)
    assert len(x) == len(y) == 0 and bad == []


def test_there_is_one_stop_check():
    """Copies of the adapter crept into results/ once; the one in core.base.cancel is the only one."""
    package = Path(tlgui.__file__).parent
    found = []
    for path in sorted(package.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef) and "stop_check" in node.name:
                found.append(f"{path.relative_to(package).as_posix()}:{node.name}")
    assert found == ["core/base/cancel.py:stop_check"]


@pytest.mark.parametrize("index", range(4))
def test_every_kind_of_flag_stops_a_public_job(index):
    """A job's public function takes any StopFlag (a window job passes itself, a Control): the linear
    probe, whose inner steps used to call the flag directly, now reads it through stop_check."""
    import torch

    from tlgui.core.training.feature_cache import Features
    from tlgui.core.workflows.probes import linear_probe

    labels = np.repeat(np.arange(2), 10)
    features = Features(torch.randn(20, 4), torch.tensor(labels))
    flag, set_it = _flags()[index]
    assert linear_probe(features, 2, folds=2, should_stop=flag) is not None
    set_it()
    assert linear_probe(features, 2, folds=2, should_stop=flag) is None


def test_as_control_keeps_a_pausable_control_and_wraps_any_other_flag():
    from tlgui.core.base.cancel import PausableControl, as_control

    control = TrainControl()
    assert as_control(control) is control
    for flag, set_it in _flags()[:1] + _flags()[2:]:  # an Event, a plain Control, a callable
        wrapped = as_control(flag)
        assert isinstance(wrapped, PausableControl) and not wrapped.stopped and not wrapped.paused
        wrapped.wait_if_paused()  # never paused: returns at once
        set_it()
        assert wrapped.stopped
    own = as_control(None)
    own.stop()  # the wrapper's own stop works too (the training loop's Ctrl+C path)
    assert own.stopped
