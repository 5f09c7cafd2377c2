"""advise(): a pure function from data facts and a model to head / finetune / scratch."""

import pytest
from torch import nn

from tlgui.core.data.catalog import open_source
from tlgui.core.workflows.advisor import (
    Advice,
    DataSummary,
    ModelSummary,
    advise,
    count_depth,
    model_summary,
    summarize_image_set,
)

DEEP_RGB = ModelSummary("resnet18", depth=21, num_params=11_200_000, input_size=224, in_channels=3)
SHALLOW_GRAY = ModelSummary("smallcnn", depth=4, num_params=94_000, input_size=28, in_channels=1)


def photos(per_class: int, size=(240, 240), channels=3, classes=5) -> DataSummary:
    return DataSummary({f"c{i}": per_class for i in range(classes)}, size, channels)


def test_no_weights_means_scratch():
    for weights in (None, "none", " none "):
        advice = advise(photos(50), DEEP_RGB, weights)
        assert advice.recommendation == "scratch"
        assert "nothing to transfer" in advice.reasons[0]


def test_small_similar_data_trains_the_head():
    advice = advise(photos(40), DEEP_RGB, "default")
    assert isinstance(advice, Advice)
    assert advice.recommendation == "head" and advice.freeze == "backbone"
    assert advice.text.startswith("Recommended: freeze the backbone")
    assert any("little data" in r and "about 40 images per class" in r for r in advice.reasons)
    assert any("resemble" in r for r in advice.reasons)


def test_plenty_of_data_fine_tunes_everything():
    advice = advise(photos(3000), DEEP_RGB, "default")
    assert advice.recommendation == "finetune" and advice.freeze == "none"
    assert any("plenty of data" in r for r in advice.reasons)
    assert advise(photos(500), DEEP_RGB, "default").recommendation == "finetune"  # medium


def test_small_but_different_data_fine_tunes():
    tiny_gray = DataSummary([30, 30, 30], (28, 28), 1)
    advice = advise(tiny_gray, DEEP_RGB, "default")
    assert advice.recommendation == "finetune"
    assert any("grayscale" in r for r in advice.reasons)
    assert any("enlarged 8x" in r for r in advice.reasons)


def test_shallow_source_model_expects_little_gain():
    plenty = DataSummary([2000] * 4, 28, 1)
    advice = advise(plenty, SHALLOW_GRAY, "demo:source")
    assert advice.recommendation == "scratch"
    assert any("shallow" in r and "cheap" in r for r in advice.reasons)
    # with very little data even a small pretrained model gives a head start
    # the demo: little data, images like the source's -> train the head (measured best on the demo too)
    assert advise(DataSummary([30] * 6, 28, 1), SHALLOW_GRAY, "demo:source").recommendation == "head"
    # little data unlike the source's (colour into a grayscale model): let every layer adapt
    assert advise(DataSummary([30] * 6, 28, 3), SHALLOW_GRAY, "demo:source").recommendation == "finetune"


def test_smallest_class_is_mentioned_and_mapping_input_accepted():
    advice = advise({"images_per_class": {"a": 100, "b": 100, "c": 7}, "image_size": 224, "channels": 3},
                    DEEP_RGB, "default")
    assert any("smallest class has 7" in r for r in advice.reasons)
    with pytest.raises(ValueError, match="needs 'images_per_class'"):
        advise({"image_size": 10}, DEEP_RGB, "default")


def test_source_input_override():
    # a tlgui model.pt trained at 64 px on grayscale: 64 px grayscale data is alike
    advice = advise(DataSummary([50] * 3, 64, 1), DEEP_RGB, "model.pt", source_input_size=64, source_channels=1)
    assert advice.recommendation == "head"


def test_model_summary_from_the_zoo_and_modules():
    small = model_summary("smallcnn")
    assert (small.depth, small.input_size, small.in_channels) == (4, 28, 1) and small.shallow
    deep = model_summary("resnet18")
    assert deep.depth == 21 and deep.num_params > 10_000_000 and not deep.shallow
    module = nn.Sequential(nn.Conv2d(3, 8, 3), nn.ReLU(), nn.Flatten(), nn.Linear(8, 2))
    assert count_depth(module) == 2
    assert advise(photos(5000), module, "x.pth").recommendation == "scratch"  # a 2-layer net


def test_summarize_image_set():
    summary = summarize_image_set(open_source("demo:target"))
    assert summary.channels == 1 and summary.side == 28
    assert len(summary.counts) == 6 and min(summary.counts) > 0


def test_multi_channel_lab_images_are_not_called_colour():
    advice = advise(DataSummary([30] * 4, 40, 4), SHALLOW_GRAY, "demo:source")
    text = " ".join(advice.reasons)
    assert "4 channels but the source model saw 1" in text and "first convolution is adapted" in text
    assert "colour" not in text
