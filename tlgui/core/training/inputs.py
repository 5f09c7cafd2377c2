"""How this run's images become model inputs: channels, intensity policy, image size.

Decided from the data (:func:`probe_kind`) and the settings, stated in the run log, and stored
in model.pt's preprocessing so that evaluate, predict, the window and the exports repeat it.
"""

from __future__ import annotations

from tlgui.core.base.config import TrainConfig, parse_channels, parse_intensity
from tlgui.core.base.errors import DataError
from tlgui.core.base.pixels import Intensity, is_array_file
from tlgui.core.base.preprocessing import Preprocessing
from tlgui.core.data.image_kind import (
    ImageKind,
    fit_intensity,
    fit_normalisation,
    picture_header,
    probe_kind,
)
from tlgui.core.data.sources import ImageSet
from tlgui.core.models.registry import family_for
from tlgui.core.models.zoo import default_preprocessing

_GRAY_MODES = {"1", "L", "LA", "I", "I;16", "I;16B", "I;16L", "I;16N", "F"}


def detect_channels(images: ImageSet, sample: int = 24) -> int:
    """1 or 3 for 8-bit pictures (3 as soon as one sampled picture has colour)."""
    if images.arrays is not None:
        return 3 if images.arrays.ndim == 4 and images.arrays.shape[-1] >= 3 else 1
    step = max(1, len(images) // sample)
    for index in range(0, len(images), step):
        try:
            mode = _picture_mode(images, index)
        except DataError:
            continue
        if mode not in _GRAY_MODES:
            return 3
    return 1


def _picture_mode(images: ImageSet, index: int) -> str:
    """A sample's PIL mode, from the file's header alone (no decode); "L" for arrays."""
    if images.paths is None:
        return getattr(images.load(index), "mode", "L")
    path = images.paths[index]
    return "L" if is_array_file(path) else picture_header(path)[0]


def choose_inputs(config: TrainConfig, weights, train_set: ImageSet, messages: list[str]) -> tuple[int, Preprocessing]:
    """(model input channels, preprocessing) for this data and these weights; what was chosen
    is added to ``messages`` in words. Statistics of the training images are filled in later
    by :func:`fit_statistics`, once the split is known."""
    kind = probe_kind(train_set, stack=config.stack)
    config.augment = choose_augmentation(config.augment, kind, messages, config.freeze)
    select = parse_channels(config.channels, kind.channels)
    channels = len(select) if select else kind.channels
    ckpt = weights.checkpoint
    if ckpt is not None and config.image_size is None:
        prep = Preprocessing.from_dict(ckpt["preprocessing"])
        if _fits(prep, kind, select, config):
            return int(ckpt.get("in_channels", 3)), prep
        messages.append("the source model's input rules do not fit these images; choosing them afresh")
    arrays = kind.arrays or select is not None
    family = family_for(config.model)
    if family.FOLLOWS_DATA_CHANNELS:
        in_channels = channels if arrays or kind.deep else detect_channels(train_set)
    else:
        in_channels = 3 if channels in (1, 3) else channels
    if ckpt is not None:
        in_channels = int(ckpt.get("in_channels", in_channels)) if channels in (1, 3) else channels
    prep = _base_preprocessing(config, weights, kind, messages)
    prep.channels, prep.channel_select, prep.stack = in_channels, select, config.stack
    if arrays:
        prep.source_dtype, prep.source_channels = kind.dtype, kind.channels
    prep.intensity = _intensity(config, kind)
    if family.FOLLOWS_DATA_CHANNELS and not (prep.deep or arrays):
        # pictures keep the family's own normalisation, one value per channel taken
        prep.mean, prep.std = prep.mean[:1] * in_channels, prep.std[:1] * in_channels
    elif prep.deep or in_channels != 3 or select is not None:
        prep.mean, prep.std = [], []  # standardised on the training images (fit_statistics)
    _describe(prep, kind, select, train_set, messages)
    return in_channels, prep


def fit_statistics(prep: Preprocessing, train_set: ImageSet, train_idx, seed: int, messages: list[str]) -> None:
    """Fill in what depends on the training images: the "dataset" intensity window and the
    per-channel mean/std; a resumed run computes the same numbers from the same split."""
    if prep.intensity.get("mode") == "dataset" and "low" not in prep.intensity:
        low, high = fit_intensity(train_set, train_idx, prep.to_dict(), seed)
        prep.intensity = {"mode": "dataset", "low": [round(v, 4) for v in low], "high": [round(v, 4) for v in high]}
        shown = "; ".join(f"channel {c}: {lo:g}..{hi:g}" for c, lo, hi in zip(_numbers(prep), low, high, strict=True))
        messages.append(f"intensity: raw values scaled by a window measured on the training images ({shown}), "
                        "the same for every image, so brightness keeps its meaning")
    if not prep.mean:
        prep.mean, prep.std = fit_normalisation(train_set, train_idx, prep.to_dict(), seed)
        if len(prep.mean) != prep.channels:  # gray data into an RGB model: the same statistics per channel
            prep.mean, prep.std = prep.mean[:1] * prep.channels, prep.std[:1] * prep.channels


def _numbers(prep: Preprocessing) -> list[int]:
    if prep.channel_select:
        return [c + 1 for c in prep.channel_select]
    return list(range(1, 1 + (prep.source_channels or prep.channels)))


def _fits(prep: Preprocessing, kind: ImageKind, select, config: TrainConfig) -> bool:
    """Whether a source model's own input rules can take this data as they are."""
    if prep.source_dtype is None:
        return not (kind.deep or kind.arrays) and config.intensity in ("auto", "none")
    return (prep.source_dtype == kind.dtype and prep.source_channels == kind.channels
            and prep.channel_select == select and config.stack == prep.stack)


def _base_preprocessing(config: TrainConfig, weights, kind: ImageKind, messages: list[str]) -> Preprocessing:
    """The family's preprocessing for these weights, at --image-size, else the family's automatic
    size (the images' own, within bounds), else the weights' own size."""
    bounds = family_for(config.model).AUTO_SIZE
    size = config.image_size
    if size is None and bounds is not None:
        size = _automatic_size(config.model, bounds, kind, messages)
    return default_preprocessing(config.model, weights.entry, size, weights.pretrained_cfg)


def _automatic_size(model: str, bounds: tuple[int, int], kind: ImageKind, messages: list[str]) -> int:
    low, high = bounds
    side = min(kind.width, kind.height) or low
    size = min(max(side, low), high)
    if side > high:
        messages.append(f"image size: {size} px (the images are {side} px; {model}'s automatic size is at most "
                        f"{high} px; --image-size changes it)")
    elif side > low:
        messages.append(f"image size: {size} px, the images' own size")
    return size


def choose_augmentation(augment: str, kind: ImageKind, messages: list[str], freeze: str = "none") -> str:
    """``auto``: the 8 flips and quarter turns for microscopy-like images (deeper than 8 bits,
    or a channel count no photo has), where orientation means nothing; none for pictures,
    whose up and down may matter, and for head-only runs (``--freeze backbone``), whose head
    trains on the backbone's features stored once, shared with ``tlgui rank``. The chosen mode
    is what config.json records."""
    if augment != "auto":
        return augment
    if (kind.deep or kind.channels not in (1, 3)) and (freeze or "none").strip() != "backbone":
        messages.append("augmentation: each training image flipped and turned by quarter turns at random "
                        "(automatic for microscopy-like images, which have no up or down; --augment none turns it off)")
        return "flip-rotate"
    return "none"


def _intensity(config: TrainConfig, kind: ImageKind) -> Intensity:
    mode, window = parse_intensity(config.intensity)
    if mode == "auto":
        mode = "dataset" if kind.deep else "none"
    if mode == "fixed" and window is not None:
        return {"mode": "fixed", "low": [window[0]], "high": [window[1]]}
    return {"mode": mode}


def _describe(prep: Preprocessing, kind: ImageKind, select, train_set: ImageSet, messages: list[str]) -> None:
    if kind.arrays or kind.deep:
        messages.append(f"images: {kind.describe(len(train_set))}")
    for note in kind.notes:
        messages.append(f"reading: {note} (--stack {prep.stack})" if "reduced" in note else f"reading: {note}")
    if select is not None:
        messages.append(f"channels: using {', '.join(str(c + 1) for c in select)} of the images' {kind.channels}")
    mode = prep.intensity["mode"]
    if mode == "image":
        messages.append("intensity: each image stretched to its own range (absolute brightness is lost)")
    elif mode == "fixed":
        messages.append(f"intensity: raw values {prep.intensity['low'][0]:g}..{prep.intensity['high'][0]:g} "
                        "scaled to the model's range, the same for every image")
    elif mode == "none" and kind.deep:
        messages.append("intensity: raw values used as 8-bit (values above 255 are clipped)")
