"""Training augmentation: flip-rotate (the 8 orientations of a square, per image) and the
automatic choice (flip-rotate for microscopy-like images, none for pictures)."""

import json
from collections import Counter

import numpy as np
import pytest
import torch
from PIL import Image

from tlgui.core.base.config import TrainConfig
from tlgui.core.base.errors import ConfigError
from tlgui.core.data.image_kind import ImageKind
from tlgui.core.training.augment import augment_batch
from tlgui.core.training.inputs import choose_augmentation


def orientations(image: torch.Tensor) -> list[torch.Tensor]:
    """The 8 flips and quarter turns of a square (C, H, W) image."""
    turns = [torch.rot90(image, k, dims=(-2, -1)) for k in range(4)]
    return turns + [t.flip(-1) for t in turns]


def test_flip_rotate_draws_every_orientation_per_image_about_equally():
    image = torch.arange(2 * 5 * 5, dtype=torch.uint8).view(2, 5, 5)  # no symmetry: 8 distinct views
    views = orientations(image)
    assert len({tuple(v.flatten().tolist()) for v in views}) == 8
    batch = image.expand(4000, -1, -1, -1).clone()
    before = batch.clone()
    out = augment_batch(batch, "flip-rotate", torch.Generator().manual_seed(0))
    assert torch.equal(batch, before)  # the input is not modified
    seen = Counter()
    for x in out:
        matches = [i for i, v in enumerate(views) if torch.equal(x, v)]
        assert len(matches) == 1  # every output is one orientation of the input, pixels intact
        seen[matches[0]] += 1
    assert len(seen) == 8
    assert all(400 < n < 600 for n in seen.values()), seen  # 500 expected each
    again = augment_batch(batch, "flip-rotate", torch.Generator().manual_seed(0))
    assert torch.equal(out, again)  # the run's generator decides: same seed, same views


def test_flip_rotate_on_non_square_images_only_flips():
    image = torch.arange(3 * 4, dtype=torch.uint8).view(1, 3, 4)
    out = augment_batch(image.expand(200, -1, -1, -1), "flip-rotate", torch.Generator().manual_seed(1))
    assert out.shape == (200, 1, 3, 4)
    flips = [image, image.flip(-1), image.flip(-2), image.flip(-1).flip(-2)]
    assert all(any(torch.equal(x, f) for f in flips) for x in out)
    assert augment_batch(out[:0], "flip-rotate", torch.Generator()).shape == (0, 1, 3, 4)


@pytest.mark.parametrize(("kind", "expected"), [
    (ImageKind(channels=3, dtype="uint16", value_max=4095), "flip-rotate"),
    (ImageKind(channels=1, dtype="float32", value_max=1.0), "flip-rotate"),
    (ImageKind(channels=4, dtype="uint8", value_max=255), "flip-rotate"),
    (ImageKind(channels=2, dtype="uint8", value_max=255), "flip-rotate"),
    (ImageKind(channels=3, dtype="uint8", value_max=255), "none"),
    (ImageKind(channels=1, dtype="uint8", value_max=255), "none"),
])
def test_auto_chooses_flip_rotate_for_microscopy_like_images_only(kind, expected):
    messages = []
    assert choose_augmentation("auto", kind, messages) == expected
    assert bool(messages) == (expected != "none")  # the run log says when it turned augmentation on
    assert choose_augmentation("flip", kind, []) == "flip"  # an explicit choice is kept as it is
    assert choose_augmentation("none", kind, []) == "none"
    # head-only: the head trains on features stored once (and shared with tlgui rank), unaugmented
    assert choose_augmentation("auto", kind, [], freeze="backbone") == "none"
    assert choose_augmentation("flip-rotate", kind, [], freeze="backbone") == "flip-rotate"


def test_an_unknown_augmentation_is_refused_in_words(tmp_path):
    with pytest.raises(ConfigError, match="--augment.*'rotate'.*flip-rotate"):
        TrainConfig(data=str(tmp_path), model="smallcnn", augment="rotate").validate()


def test_a_picture_run_records_none_and_a_tiff_run_flip_rotate(tmp_path):
    tifffile = pytest.importorskip("tifffile")
    from tlgui.cli import main

    rng = np.random.default_rng(0)
    for cls in ("a", "b"):
        (tmp_path / "png" / cls).mkdir(parents=True)
        (tmp_path / "tif" / cls).mkdir(parents=True)
        for i in range(4):
            Image.fromarray(rng.integers(0, 255, (16, 16, 3), dtype=np.uint8)).save(tmp_path / "png" / cls / f"{i}.png")
            tifffile.imwrite(tmp_path / "tif" / cls / f"{i}.tif", rng.integers(0, 4000, (2, 16, 16), dtype=np.uint16))
    for data, expected in (("png", "none"), ("tif", "flip-rotate")):
        out = tmp_path / f"run-{data}"
        assert main(["train", "--data", str(tmp_path / data), "--model", "smallcnn", "--epochs", "1",
                     "--device", "cpu", "--out", str(out), "--quiet"]) == 0
        assert json.loads((out / "config.json").read_text())["augment"] == expected
        # rerunning the saved config.json gives the same choice, now written out
        assert main(["train", str(out / "config.json"), "--out", str(tmp_path / f"again-{data}"), "--quiet"]) == 0
        assert json.loads((tmp_path / f"again-{data}" / "config.json").read_text())["augment"] == expected
