"""A truncated or damaged file named like torchvision's (NAME-HASH8.pth) is told by its checksum
and its size first, in import as in training, before unpickling fails in its own words."""

from __future__ import annotations

import io

import pytest
import torch

from tlgui.cli import main as cli
from tlgui.core.base.errors import WeightsError
from tlgui.core.library.importing import import_weights
from tlgui.core.library.integrity import checksum_problem, published_size

from .learnable import image_folder

NAME = "resnet18-f37072fd.pth"  # torchvision's published file: 44.7 MB


def truncated(path):
    buffer = io.BytesIO()
    torch.save({"conv1.weight": torch.zeros(64, 3, 7, 7)}, buffer)
    path.write_bytes(buffer.getvalue()[: len(buffer.getvalue()) // 2])  # a download cut short
    return path


def test_published_size_is_known():
    assert 40 * 2**20 < published_size(NAME) < 50 * 2**20


def test_import_tells_checksum_and_size_before_unpickling(tmp_path):
    src = truncated(tmp_path / NAME)
    with pytest.raises(WeightsError) as info:
        import_weights(src)
    text = str(info.value)
    assert text.startswith(f"{NAME}: the checksum does not match")
    assert "44.7 MB" in text and "incomplete download?" in text and "not imported" in text
    assert "zip" not in text.lower()


def test_training_tells_the_same(tmp_path, capsys):
    src = truncated(tmp_path / NAME)
    data = image_folder(tmp_path / "rgb", per_class=4, size=24, mode="RGB")
    args = ["train", "--data", str(data), "--model", "resnet18", "--out", str(tmp_path / "r")]
    assert cli([*args, "--weights", str(src)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "checksum does not match" in err and "incomplete download?" in err
    from tlgui.core.library.local import hub_checkpoints_dir

    hub_checkpoints_dir().mkdir(parents=True)
    truncated(hub_checkpoints_dir() / NAME)
    assert cli([*args, "--weights", "default"]) == 2
    err = capsys.readouterr().err
    assert "checksum does not match" in err and "incomplete download?" in err and "delete it" in err
    assert not (tmp_path / "r").exists()


def test_a_file_without_a_hash_in_its_name_is_not_judged(tmp_path):
    assert checksum_problem(truncated(tmp_path / "resnet18.pth")) is None
