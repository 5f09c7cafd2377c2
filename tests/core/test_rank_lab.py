"""tlgui rank on lab images: 16-bit multi-channel TIFFs with the Train page's channel, intensity
and stack choices; the head-only run made with the same choices reuses the rank's features."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tlgui.core.base.config import TrainConfig
from tlgui.core.base.errors import ConfigError
from tlgui.core.models.zoo import SmallCNN
from tlgui.core.training.loop import train
from tlgui.core.workflows.rank import RankConfig, rank

tifffile = pytest.importorskip("tifffile")


@pytest.fixture
def tiffs(tmp_path):
    """Two classes of uint16 (3, 16, 16) TIFFs, 12-bit values: the class is told by a bright
    square in channel 2, left or right; channels 1 and 3 are noise."""
    rng = np.random.default_rng(0)
    for label, column in (("left", slice(1, 7)), ("right", slice(9, 15))):
        folder = tmp_path / "data" / label
        folder.mkdir(parents=True)
        for i in range(14):
            image = rng.integers(0, 600, (3, 16, 16)).astype(np.uint16)
            image[1, 4:12, column] += 3000
            tifffile.imwrite(folder / f"{i}.tif", image, photometric="minisblack")
    torch.manual_seed(0)
    weights = tmp_path / "two_channel.pt"
    torch.save(SmallCNN(2, 1).state_dict(), weights)
    return str(tmp_path / "data"), str(weights)


def test_rank_scores_16_bit_tiffs_and_the_head_only_run_reuses_its_features(tiffs, extractions, tmp_path):
    data, weights = tiffs
    choices = {"channels": "2,3", "intensity": "dataset", "stack": "max"}
    result = rank(RankConfig(data=data, models=f"smallcnn={weights}", folds=3, device="cpu", **choices))
    first = result.candidates[0]
    assert first.ok, first.problem
    assert first.accuracy > 0.8  # the square in channel 2 tells the classes
    assert len(extractions) == 2 and not first.features_reused
    run = train(TrainConfig(data=data, model="smallcnn", weights=weights, freeze="backbone", epochs=1,
                            device="cpu", out=str(tmp_path / "run"), **choices))
    assert len(extractions) == 2 and run.summary["feature_cache"]["used"]  # no second backbone pass
    ckpt = torch.load(tmp_path / "run" / "model.pt", weights_only=True)
    assert ckpt["in_channels"] == 2 and ckpt["preprocessing"]["channel_select"] == [1, 2]
    # other choices are other features: read afresh, not mixed up with these
    again = rank(RankConfig(data=data, models=f"smallcnn={weights}", folds=3, device="cpu", channels="2,3",
                            intensity="image"))
    assert len(extractions) == 4 and not again.candidates[0].features_reused


def test_a_channel_the_images_lack_is_one_error_naming_it(tiffs, capsys):
    from tlgui.cli import main

    data, weights = tiffs
    with pytest.raises(ConfigError, match="--channels 5: the images have 3 channels"):
        rank(RankConfig(data=data, models=f"smallcnn={weights}", channels="5", device="cpu"))
    assert main(["rank", "--data", data, "--models", f"smallcnn={weights}", "--intensity", "brightest"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--intensity" in err[0] and "brightest" in err[0]
