"""Which transfer strategy to try first, from a few facts about the data and the model.

:func:`advise` is a pure function of plain values (the GUI and tests call it directly);
:func:`model_summary` and :func:`summarize_image_set` gather those values.

The rules of thumb (Yosinski et al. 2014; the CS231n transfer-learning notes):

* no pretrained weights: there is nothing to transfer, train from scratch;
* little data and a problem like the source's: freeze the backbone, train the head;
* plenty of data, or a different problem: fine-tune everything (with a modest rate);
* a shallow source model has few reusable features and trains fast: from scratch is cheap,
  so unless the data set is small, expect little gain from transfer.
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from tlgui.core.training.strategy import Strategy

SMALL_PER_CLASS = 200  # fewer typical images per class than this: "little data"


PLENTY_PER_CLASS = 1000  # at least this many: "plenty"


SHALLOW_DEPTH = 8  # conv/linear layers at or below this: a shallow model


SHALLOW_PARAMS = 2_000_000


SIZE_RATIO_RANGE = (0.5, 4.0)  # data image side / source input side that still counts as alike


RECOMMENDATIONS = ("head", "finetune", "scratch")


_ACTIONS = {
    "head": "freeze the backbone and train only the head",
    "finetune": "fine-tune the whole network from the pretrained weights",
    "scratch": "train from scratch (no pretrained weights)",
}


@dataclass(frozen=True)
class DataSummary:
    images_per_class: Mapping[str, int] | Sequence[int] | int
    image_size: tuple[int, int] | int | None = None  # typical (width, height) or side
    channels: int | None = None  # 1 grayscale, 3 colour

    @property
    def counts(self) -> list[int]:
        raw = self.images_per_class
        if isinstance(raw, Mapping):
            return [int(v) for v in raw.values()]
        if isinstance(raw, int):
            return [raw]
        return [int(v) for v in raw]

    @property
    def side(self) -> int | None:
        """Shorter side of a typical image."""
        if self.image_size is None:
            return None
        if isinstance(self.image_size, int):
            return self.image_size
        return min(int(v) for v in self.image_size)


@dataclass(frozen=True)
class ModelSummary:
    name: str
    depth: int  # number of convolution and linear layers
    num_params: int
    input_size: int  # side of the square input the weights were trained on
    in_channels: int

    @property
    def shallow(self) -> bool:
        return self.depth <= SHALLOW_DEPTH or self.num_params < SHALLOW_PARAMS


@dataclass(frozen=True)
class Advice:
    recommendation: str  # "head" | "finetune" | "scratch"
    text: str
    reasons: list[str] = field(default_factory=list)

    @property
    def freeze(self) -> str:
        """The matching --freeze value."""
        return Strategy(self.recommendation).freeze


def count_depth(model) -> int:
    """Convolution and linear layers in a module tree (works on meta-device models)."""
    from torch import nn

    kinds = (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.Linear)
    return sum(isinstance(m, kinds) for m in model.modules())


def model_summary(architecture: str) -> ModelSummary:
    """Depth, size and input of a zoo architecture (built on the meta device: no memory).

    The input is what the architecture's default weights were trained on (smallcnn: the
    demo source model's 28 px grayscale)."""
    from tlgui.core.models.zoo import architecture_info, build_model

    info = architecture_info(architecture)
    model = build_model(architecture, 10, info.in_channels, device="meta")
    return ModelSummary(architecture, count_depth(model), sum(p.numel() for p in model.parameters()),
                        info.input_size, info.in_channels)


def summarize_image_set(images, sample: int = 16) -> DataSummary:
    """Counts per class, median image size of up to ``sample`` images, and channels."""
    from tlgui.core.data.image_kind import sample_kind

    sizes = []
    step = max(1, len(images) // sample)
    for index in range(0, len(images), step):
        try:
            sizes.append(sample_kind(images, index)[5])  # pictures: their headers, no decode
        except Exception:  # noqa: BLE001 - an unreadable file says nothing about size
            continue
        if len(sizes) >= sample:
            break
    size = None
    if sizes:
        size = (int(statistics.median(w for w, _ in sizes)), int(statistics.median(h for _, h in sizes)))
    return DataSummary(images.counts(), size, images.channels())


def _as_data(data: DataSummary | Mapping[str, Any]) -> DataSummary:
    if isinstance(data, DataSummary):
        return data
    counts = data.get("images_per_class", data.get("counts"))
    if counts is None:
        raise ValueError("data summary needs 'images_per_class' (a mapping, list or number)")
    return DataSummary(counts, data.get("image_size"), data.get("channels"))


def _as_model(architecture) -> ModelSummary:
    if isinstance(architecture, ModelSummary):
        return architecture
    if isinstance(architecture, str):
        return model_summary(architecture)
    # an nn.Module: depth and size from the module itself, input defaults to 224 RGB
    return ModelSummary(type(architecture).__name__, count_depth(architecture),
                        sum(p.numel() for p in architecture.parameters()), 224, 3)


def advise(
    data_summary: DataSummary | Mapping[str, Any],
    architecture: str | ModelSummary | Any,
    weights: str | None,
    source_input_size: int | None = None,
    source_channels: int | None = None,
) -> Advice:
    """Recommend "head", "finetune" or "scratch", with the reasons in plain words.

    ``architecture`` is a zoo name, a :class:`ModelSummary` or an ``nn.Module``;
    ``weights`` is a --weights value (``none``/``None`` means no pretrained weights).
    ``source_input_size``/``source_channels`` override what the weights were trained on
    (e.g. for a tlgui model.pt whose preprocessing differs from the architecture's default).
    """
    data = _as_data(data_summary)
    model = _as_model(architecture)
    src_size = int(source_input_size or model.input_size)
    src_channels = int(source_channels or model.in_channels)
    reasons: list[str] = []

    def done(choice: str, why: str) -> Advice:
        return Advice(choice, f"Recommended: {_ACTIONS[choice]}. {why}", reasons)

    if not weights or str(weights).strip() == "none":
        reasons.append("no pretrained weights were chosen, so there is nothing to transfer")
        return done("scratch", "Without pretrained weights every strategy starts from random features.")
    size_word = _data_amount(data, reasons)
    similar = _resembles_source(data, src_size, src_channels, reasons)
    choice, why = _shallow_choice(model, size_word, similar, reasons) if model.shallow else \
        _deep_choice(model, size_word, similar, reasons)
    return done(choice, why)


def _data_amount(data: DataSummary, reasons: list[str]) -> str:
    """'small', 'medium' or 'plenty' images per class, with the reason in words."""
    counts = [c for c in data.counts if c > 0]
    typical = int(statistics.median(counts)) if counts else 0
    smallest = min(counts) if counts else 0
    amount = f"about {typical} images per class"
    if smallest < typical:
        amount += f" (the smallest class has {smallest})"
    if typical < SMALL_PER_CLASS:
        reasons.append(f"little data: {amount}; under {SMALL_PER_CLASS} per class a network overfits easily")
        return "small"
    if typical >= PLENTY_PER_CLASS:
        reasons.append(f"plenty of data: {amount}, enough to adjust every layer")
        return "plenty"
    reasons.append(f"a medium amount of data: {amount}")
    return "medium"


def _resembles_source(data: DataSummary, src_size: int, src_channels: int, reasons: list[str]) -> bool:
    """Whether the images look like what the source model saw (channels, size)."""
    similar = True
    if data.channels is not None and data.channels != src_channels:
        similar = False
        if data.channels not in (1, 3):
            reasons.append(
                f"the images have {data.channels} channels but the source model saw {src_channels}: its first "
                "convolution is adapted to take them all (the pretrained filters repeated and scaled), so the first "
                "layer fits the new images less well than the rest")
        elif data.channels == 1:
            reasons.append("the images are grayscale but the source model saw colour images "
                           "(they are copied into 3 channels)")
        else:
            reasons.append("the images are in colour but the source model saw grayscale (colour is lost)")
    side = data.side
    if side is not None and src_size:
        ratio = side / src_size
        if ratio < SIZE_RATIO_RANGE[0]:
            similar = False
            reasons.append(
                f"the images ({side} px) are much smaller than the source model's input ({src_size} px): "
                f"they are enlarged {src_size / side:.0f}x, so the pretrained filters see unfamiliar, blurry shapes"
            )
        elif ratio > SIZE_RATIO_RANGE[1]:
            reasons.append(f"the images ({side} px) are shrunk to the model's {src_size} px input; fine detail is lost")
    if similar:
        known = side is not None or data.channels is not None
        reasons.append(
            f"the images resemble the source's input ({'grayscale' if src_channels == 1 else 'colour'}, "
            f"{src_size} px)" if known else "nothing suggests the images differ from the source's"
        )
    return similar


def _params_text(model: ModelSummary) -> str:
    return f"{model.num_params / 1e6:.1f} M" if model.num_params >= 1e5 else f"{model.num_params:,}"


def _shallow_choice(model: ModelSummary, size_word: str, similar: bool, reasons: list[str]) -> tuple[str, str]:
    reasons.append(
        f"{model.name} is shallow ({model.depth} conv/linear layers, {_params_text(model)} parameters): it has few "
        "reusable features and trains fast, so training from scratch is cheap and transfer gains are usually small"
    )
    if size_word == "small" and similar:
        # the mission's first rule holds for shallow models too; only the expected gain is smaller
        return (
            "head",
            "With little data and images like the source's, train only the head: the frozen features carry "
            "over and cannot overfit. A shallow source model transfers less than a deep one, so expect a "
            "modest gain; 'tlgui compare' shows how much.",
        )
    if size_word == "small":
        return (
            "finetune",
            "With so little data even a small pretrained model gives a head start, but its features were "
            "learned on different images, so let every layer adapt; 'tlgui compare' shows whether it pays off.",
        )
    return "scratch", "A shallow model trained on this much data rarely gains from transfer; compare to be sure."


def _deep_choice(model: ModelSummary, size_word: str, similar: bool, reasons: list[str]) -> tuple[str, str]:
    reasons.append(f"{model.name} is deep ({model.depth} conv/linear layers, {_params_text(model)} parameters)")
    if size_word == "small" and similar:
        return (
            "head",
            "With little data and images like the source's, the pretrained features should carry over, and a "
            "frozen backbone cannot overfit; fine-tune later if accuracy plateaus.",
        )
    if size_word == "small":
        return (
            "finetune",
            "The data differ from the source's, so frozen features may not fit; fine-tune everything with a "
            "low learning rate (and few epochs) to adapt them without overfitting.",
        )
    if size_word == "plenty":
        return "finetune", "With plenty of data every layer can adapt to the new task without overfitting."
    return (
        "finetune",
        "There is enough data to adapt the pretrained layers; training only the head is a quicker first try.",
    )
