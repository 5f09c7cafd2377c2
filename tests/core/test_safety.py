"""Every load is weights-only: a pickle that carries code is refused and nothing in it runs."""

from __future__ import annotations

import pickle
import re

import numpy as np
import pytest
import torch
from PIL import Image

from tlgui.cli import main
from tlgui.core.base.errors import WeightsError
from tlgui.core.library.importing import import_weights
from tlgui.core.library.my_models import read_model_info
from tlgui.core.library.recognise import load_for_inspection, recognise_file
from tlgui.core.models.zoo import SmallCNN
from tlgui.paths import weights_dir


class Payload:
    """Unpickling this calls open(marker, "w"): the marker file appears if code ran."""

    def __init__(self, marker: str):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def evil_file(folder, marker, style: str, name: str = "evil.pth"):
    """A weight-looking file whose pickle would run code: real tensors plus the payload."""
    path = folder / name
    content = {
        "format": "tlgui.model", "architecture": "smallcnn", "classes": ["a", "b"],
        "state_dict": SmallCNN(2, 1).state_dict(), "preprocessing": {}, "hook": Payload(str(marker)),
    }
    if style == "zip":
        torch.save(content, path)
    elif style == "legacy":
        torch.save(content, path, _use_new_zipfile_serialization=False)
    else:
        with open(path, "wb") as handle:
            pickle.dump(content, handle, protocol=2)
    return path


STYLES = ["zip", "legacy", "pickle"]


def refusal_pattern(style: str) -> str:
    # weights.safe_load names the code it found for zip files and plain pickles; in the
    # legacy format (several pickles in a row) it may only say "not a PyTorch weight file".
    # Either way it is refused before anything runs, which is what the marker checks.
    if style == "legacy":
        return r"refused to load .*nothing in it was run|is not a PyTorch weight file"
    return r"refused to load .*nothing in it was run"


@pytest.fixture
def marker(tmp_path):
    path = tmp_path / "code-ran.txt"
    yield path
    assert not path.exists(), "code inside a weight file was run"


def test_the_payload_is_really_dangerous(tmp_path):
    """Guard for the tests below: an unsafe load does run the payload."""
    other = tmp_path / "proof.txt"
    torch.load(evil_file(tmp_path, other, "zip"), weights_only=False)
    assert other.exists()


@pytest.mark.parametrize("style", STYLES)
def test_core_loads_refuse_code(tmp_path, marker, style):
    path = evil_file(tmp_path, marker, style)
    for load in (load_for_inspection, import_weights, recognise_file):
        with pytest.raises(WeightsError, match=refusal_pattern(style)):
            load(path)
    info = read_model_info(path)
    assert not info.ok and re.search(refusal_pattern(style), info.problem)
    assert not weights_dir().exists() or not any(weights_dir().rglob("*"))


def image_folder(root):
    rng = np.random.default_rng(0)
    for name in ("a", "b"):
        (root / name).mkdir(parents=True)
        for i in range(4):
            Image.fromarray(rng.integers(0, 255, (28, 28), dtype=np.uint8), "L").save(root / name / f"{i}.png")
    return root


@pytest.mark.parametrize("style", STYLES)
def test_cli_commands_refuse_code_with_exit_2(tmp_path, marker, capsys, style):
    path = evil_file(tmp_path, marker, style, "model.pt")
    data = image_folder(tmp_path / "data")
    commands = [
        ["weights", "import", str(path)],
        ["weights", "import", str(path), "--arch", "smallcnn"],
        ["train", "--data", str(data), "--model", "smallcnn", "--weights", str(path),
         "--epochs", "1", "--device", "cpu", "--out", str(tmp_path / "run")],
        ["evaluate", str(path), "--data", str(data), "--device", "cpu"],
        ["layers", str(path)],
    ]
    for argv in commands:
        assert main(argv) == 2, argv
        err = capsys.readouterr().err
        assert re.search(refusal_pattern(style), err), (argv, err)
        assert err.strip().count("\n") == 0, err  # one line
    assert not (tmp_path / "run" / "model.pt").exists()


def test_key_and_shape_mismatches_are_plain_words(tmp_path, capsys):
    path = tmp_path / "w.pth"
    torch.save(SmallCNN(4, 3).state_dict(), path)
    assert main(["weights", "import", str(path), "--arch", "resnet18"]) == 2
    err = capsys.readouterr().err
    assert "weights in w.pth lack layers resnet18 needs: conv1.weight" in err
    assert "is it a file for a different architecture?" in err
    torch.save(SmallCNN(4, 3, width=8).state_dict(), path)
    assert main(["weights", "import", str(path), "--arch", "smallcnn"]) == 2
    assert "do not fit smallcnn: features.0.0.weight (8, 3, 3, 3) vs model (32, 3, 3, 3)" in capsys.readouterr().err
