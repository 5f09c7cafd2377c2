"""What a pixel means: read an image file as it is, then make the model's input from it.

Two steps, both driven by a plain ``prep`` dict (a :class:`Prep`: ``Preprocessing.to_dict()``, stored in model.pt
and in an exported bundle's preprocessing.json):

1. :func:`read_any` reads a file. 8-bit pictures (JPEG, PNG, BMP...) come back as PIL images; TIFF/OME-TIFF
   stacks (tifffile), 16-bit PNGs and ``.npy`` arrays as a :class:`RawImage`, an array (C, H, W) in the file's
   own dtype with every channel. A z- or t-stack is reduced by a stated rule, listed in ``RawImage.notes``.
2. :func:`model_input` turns either into the uint8 array (C, crop, crop) the model's normalisation expects:
   channel choice, the intensity window (raw ``low`` -> 0, ``high`` -> 255, per channel), resize and centre crop.

This file imports nothing from tlgui on purpose: the export bundle ships it beside its ``predict.py``, so
tlgui, its exports and the bundle run the same code.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypedDict

import numpy as np
from PIL import Image, ImageOps

if TYPE_CHECKING:  # for type checkers only: the bundle that ships this file needs nothing but numpy and Pillow
    from typing_extensions import NotRequired

ARRAY_EXTENSIONS = frozenset({".tif", ".tiff", ".npy"})  # read as arrays, never through PIL
STACK_RULES = ("middle", "max")  # how a z- or t-stack becomes one image
INTENSITY_MODES = ("none", "dataset", "fixed", "image")
MULTI_FILE_SEPARATOR = ";"  # one sample made of one file per channel: "a_dna.tif;a_bf.tif"
RESAMPLE = {name: Image.Resampling[name.upper()] for name in ("nearest", "bilinear", "bicubic")}
_MAX_CHANNELS = 64  # more "channels" than this is a stack axis we could not tell
MAX_PIXELS = 90_000_000  # tlgui decodes at most this many pixels of one image


class Intensity(TypedDict, total=False):
    """Raw values -> 0..255: ``mode`` (one of INTENSITY_MODES); a window's ``low`` and ``high`` per channel."""
    mode: str
    low: list[float]
    high: list[float]


class Prep(TypedDict):
    """``Preprocessing.to_dict()``, its fields; only the size and channels are in every model.pt, of any age."""
    resize: int
    crop: int
    channels: int
    mean: NotRequired[list[float]]
    std: NotRequired[list[float]]
    interpolation: NotRequired[str]  # a key of RESAMPLE
    channel_select: NotRequired[list[int] | None]
    intensity: NotRequired[Intensity]
    source_dtype: NotRequired[str | None]
    source_channels: NotRequired[int | None]
    stack: NotRequired[str]  # one of STACK_RULES


class PixelError(ValueError):
    """A file that cannot become a model input; the message is the reason, in words."""


@dataclass
class RawImage:
    array: np.ndarray  # (C, H, W) in the file's own dtype
    notes: tuple[str, ...] = ()  # what reading did to fit it (a reduced stack, pages read as channels)

    @property
    def channels(self) -> int:
        return int(self.array.shape[0])

    @property
    def size(self) -> tuple[int, int]:  # (width, height), as PIL says it
        return int(self.array.shape[2]), int(self.array.shape[1])


# ---------------------------------------------------------------- reading


def is_array_file(path: str) -> bool:
    """Whether ``path`` is read as an array (TIFF, .npy, 16-bit PNG, one file per channel)."""
    if MULTI_FILE_SEPARATOR in path and not os.path.exists(path):
        return True
    ext = os.path.splitext(path)[1].lower()
    if ext in ARRAY_EXTENSIONS:
        return True
    try:
        return ext == ".png" and _png_bit_depth(path) == 16
    except OSError:
        return False


def read_any(path: str, stack: str = "middle", target: int | None = None) -> Image.Image | RawImage:
    """The file as it is: a PIL image for 8-bit pictures, a RawImage for arrays and deep images.
    ``target``: the side the caller resizes to (big JPEGs are decoded at reduced scale)."""
    if MULTI_FILE_SEPARATOR in path and not os.path.exists(path):
        return _read_channel_files(path.split(MULTI_FILE_SEPARATOR), stack)
    ext = os.path.splitext(path)[1].lower()
    if os.path.getsize(path) == 0:
        raise PixelError("empty file (0 bytes)")
    if ext in (".tif", ".tiff"):
        return _read_tiff(path, stack)
    if ext == ".npy":
        return _read_npy(path)
    if ext == ".png" and _png_bit_depth(path) == 16:
        return _read_png16(path)
    return read_picture(path, target)


def read_picture(path: str, target: int | None = None, check=None) -> Image.Image | RawImage:
    """A file PIL decodes; 16- and 32-bit modes come back as a RawImage with their values.
    A JPEG at least twice ``target`` is decoded at reduced scale (``Image.draft``); ``check(image,
    full_size)`` refuses an image too large to decode (default: :data:`MAX_PIXELS`)."""
    with open(path, "rb") as handle:
        image = Image.open(handle)
        full = image.size
        if target and image.format == "JPEG" and min(full) >= 2 * target:
            scale = target / min(full)
            image.draft(image.mode, (max(1, math.ceil(full[0] * scale)), max(1, math.ceil(full[1] * scale))))
        if check is None:
            check_pixels(image.size[0] * image.size[1], full)
        else:
            check(image, full)
        image.load()
    return as_raw_if_deep(image)


def as_raw_if_deep(image: Image.Image) -> Image.Image | RawImage:
    if image.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        image = ImageOps.exif_transpose(image) or image
        array = np.asarray(image)
        if image.mode.startswith("I;16"):
            array = array.astype(np.uint16)
        return RawImage(np.ascontiguousarray(array)[None])
    return image


class TooManyPixels(PixelError):
    def __init__(self, width: int, height: int):
        super().__init__(f"image too large: {width}x{height} ({width * height / 1e6:.0f} MP); tlgui decodes at "
                         f"most {MAX_PIXELS / 1e6:.0f} MP of it; reduce it first")
        self.width, self.height = width, height


def check_pixels(count: int, full_size: tuple[int, int]) -> None:
    if count > MAX_PIXELS:
        raise TooManyPixels(*full_size)


def _png_bit_depth(path: str) -> int:
    with open(path, "rb") as handle:
        head = handle.read(26)
    return head[24] if len(head) >= 26 and head[:8] == b"\x89PNG\r\n\x1a\n" else 8


def _read_png16(path: str) -> RawImage:
    try:
        import imagecodecs
    except ImportError:  # Pillow keeps 16-bit grayscale PNGs (colour ones lose their depth)
        picture = read_picture(path)
        if isinstance(picture, RawImage):
            return picture
        raise PixelError("16-bit colour PNG needs imagecodecs (pip install imagecodecs)") from None
    with open(path, "rb") as handle:
        array = imagecodecs.png_decode(handle.read())
    return RawImage(np.ascontiguousarray(array[None] if array.ndim == 2 else array.transpose(2, 0, 1)))


def _read_npy(path: str) -> RawImage:
    try:
        array = np.load(path, allow_pickle=False, mmap_mode="r")
    except ValueError as exc:
        raise PixelError(f"not a plain numeric .npy array ({exc})") from None
    if array.dtype.kind not in "uif" or array.dtype.itemsize > 8:
        raise PixelError(f".npy array of {array.dtype} values; expected integers or floats")
    return RawImage(*_guess_chw(np.asarray(array)))


def _guess_chw(array: np.ndarray) -> tuple[np.ndarray, tuple[str, ...]]:
    """(H,W), (C,H,W) or (H,W,C) told apart by which axis is short."""
    array = np.squeeze(array) if array.ndim > 3 else array
    if array.ndim == 2:
        return np.ascontiguousarray(array[None]), ()
    if array.ndim == 3:
        first, last = array.shape[0], array.shape[-1]
        if first <= _MAX_CHANNELS and first < min(array.shape[1:]):
            return np.ascontiguousarray(array), ()
        if last <= _MAX_CHANNELS and last < min(array.shape[:2]):
            return np.ascontiguousarray(array.transpose(2, 0, 1)), ()
    raise PixelError(f"cannot tell which axis of its shape {tuple(array.shape)} holds channels "
                     "(expected (H, W), (C, H, W) or (H, W, C))")


def _read_tiff(path: str, stack: str) -> RawImage:
    try:
        import tifffile
    except ImportError:
        raise PixelError("reading TIFF files needs tifffile (pip install tifffile imagecodecs)") from None
    try:
        with tifffile.TiffFile(path) as tif:
            series = tif.series[0]
            width_height = (int(series.shape[series.axes.index("X")]) if "X" in series.axes else 0,
                            int(series.shape[series.axes.index("Y")]) if "Y" in series.axes else 0)
            check_pixels(int(np.prod(series.shape)), width_height)
            data = series.asarray()
            axes = series.axes
    except PixelError:
        raise
    except Exception as exc:  # noqa: BLE001 - tifffile and its codecs raise many types
        first = str(exc).strip().splitlines()[0][:120] if str(exc).strip() else type(exc).__name__
        raise PixelError(f"unreadable TIFF ({first})") from None
    return RawImage(*tiff_to_chw(data, axes, stack))


def tiff_to_chw(data: np.ndarray, axes: str, stack: str = "middle") -> tuple[np.ndarray, tuple[str, ...]]:
    """An array with tifffile's axes letters -> (C, H, W) and notes. Z/T stacks are reduced by
    ``stack``; one unnamed page axis (Q, I) is read as channels; anything else is refused."""
    if stack not in STACK_RULES:
        raise PixelError(f"unknown stack rule {stack!r} (choose {', '.join(STACK_RULES)})")
    axes = axes.upper()
    notes: list[str] = []
    keep = [i for i, n in enumerate(data.shape) if n > 1 or axes[i] in "YX"]
    data = data.reshape([data.shape[i] for i in keep])
    axes = "".join(axes[i] for i in keep)
    for letter, what in (("T", "time points"), ("Z", "z-slices")):
        if letter in axes:
            i = axes.index(letter)
            count = data.shape[i]
            if stack == "max":
                data = data.max(axis=i)
                notes.append(f"{what} ({count}) reduced to their maximum projection")
            else:
                data = np.take(data, count // 2, axis=i)
                notes.append(f"{what} ({count}) reduced to the middle one (#{count // 2 + 1})")
            axes = axes[:i] + axes[i + 1:]
    channel_axes = [i for i, a in enumerate(axes) if a in "CS"]
    unnamed = [i for i, a in enumerate(axes) if a not in "CSYX"]
    if not channel_axes and len(unnamed) == 1 and data.shape[unnamed[0]] <= _MAX_CHANNELS:
        notes.append(f"{data.shape[unnamed[0]]} pages read as {data.shape[unnamed[0]]} channels")
        channel_axes, unnamed = unnamed, []
    if unnamed or len(channel_axes) > 1 or "Y" not in axes or "X" not in axes:
        raise PixelError(f"cannot tell which axis of its shape {tuple(data.shape)} (axes {axes}) holds channels")
    order = channel_axes + [axes.index("Y"), axes.index("X")]
    data = data.transpose(order) if channel_axes else data[None].transpose(0, 1 + axes.index("Y"), 1 + axes.index("X"))
    return np.ascontiguousarray(data), tuple(notes)


def _read_channel_files(paths: list[str], stack: str) -> RawImage:
    """One sample stored as one file per channel (a CSV row listing several files)."""
    parts: list[np.ndarray] = []
    notes: list[str] = []
    for path in paths:
        try:
            item = read_any(path.strip(), stack)
        except (OSError, PixelError) as exc:
            raise PixelError(f"{path.strip()}: {exc}") from None
        raw = item if isinstance(item, RawImage) else RawImage(picture_array(item, "L"))
        parts.append(raw.array)
        notes.extend(raw.notes)
    shapes = {p.shape[1:] for p in parts}
    if len(shapes) > 1:
        raise PixelError(f"its channel files differ in size ({', '.join(f'{w}x{h}' for h, w in sorted(shapes))})")
    if len({p.dtype for p in parts}) > 1:
        raise PixelError(f"its channel files differ in type ({', '.join(sorted({str(p.dtype) for p in parts}))})")
    return RawImage(np.ascontiguousarray(np.concatenate(parts)), tuple(dict.fromkeys(notes)))


# ---------------------------------------------------------------- pictures (8-bit, PIL)


def to_mode(image: Image.Image, mode: str) -> Image.Image:
    """Convert an 8-bit PIL picture (L, RGB, RGBA, P, CMYK, LA...) to L or RGB; deeper modes
    are stretched to their own range (only for displays and models that predate intensity)."""
    image = ImageOps.exif_transpose(image) or image
    if image.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        array = np.asarray(image, dtype=np.float64)
        image = Image.fromarray(_stretch(array, float(array.min()), float(array.max())), mode="L")
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        # composite on white rather than letting transparent pixels turn black
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        image = Image.alpha_composite(background, rgba)
    if image.mode != mode:
        image = image.convert(mode)
    return image


def picture_array(image: Image.Image, mode: str) -> np.ndarray:
    array = np.array(to_mode(image, mode), dtype=np.uint8)
    return array[None] if array.ndim == 2 else array.transpose(2, 0, 1)


# ---------------------------------------------------------------- model input


def model_input(source: Image.Image | RawImage | np.ndarray, prep: Prep) -> np.ndarray:
    """A picture or raw image -> uint8 (C, crop, crop) by ``prep``'s rules (see the module doc)."""
    if isinstance(source, np.ndarray):
        source = RawImage(*_guess_chw(source))
    if isinstance(source, Image.Image):
        source = as_raw_if_deep(source)
    if isinstance(source, Image.Image) and prep.get("source_dtype") not in (None, "uint8"):
        raise PixelError(f"it is an 8-bit picture; the model was trained on {prep['source_dtype']} images")
    if isinstance(source, Image.Image) and not prep.get("channel_select"):
        # 8-bit pictures: PIL converts and resizes all channels at once (the path photos take)
        mode = "L" if int(prep["channels"]) == 1 else "RGB"
        return _to_array(_fit(to_mode(source, mode), prep))
    raw = source if isinstance(source, RawImage) else RawImage(picture_array(source, "RGB"))
    array = scale_intensity(select_channels(raw.array, prep), prep)
    array = match_channels(array, int(prep["channels"]))
    planes = [_to_array(_fit(Image.fromarray(plane, mode="L"), prep))[0] for plane in array]
    return np.ascontiguousarray(np.stack(planes))


def select_channels(array: np.ndarray, prep: Prep) -> np.ndarray:
    chosen = prep.get("channel_select")
    source_channels = prep.get("source_channels")
    if source_channels and array.shape[0] != int(source_channels) and not (
            array.shape[0] == 1 and int(source_channels) == 3 and not chosen):
        raise PixelError(f"it has {_n(array.shape[0], 'channel')}; the model was trained on images with "
                         f"{_n(int(source_channels), 'channel')}")
    if not chosen:
        return array
    if max(chosen) >= array.shape[0]:
        raise PixelError(f"it has {_n(array.shape[0], 'channel')}; the model uses channel(s) "
                         f"{','.join(str(c + 1) for c in chosen)}")
    return array[list(chosen)]


def scale_intensity(array: np.ndarray, prep: Prep) -> np.ndarray:
    """Raw values -> uint8 by the intensity window (per channel); 8-bit data passes as it is."""
    intensity = prep.get("intensity") or {}
    mode = intensity.get("mode", "none")
    dtype = prep.get("source_dtype")
    if dtype and array.dtype != np.dtype(dtype) and not (array.dtype == np.uint8 and mode == "none"):
        raise PixelError(f"its values are {array.dtype}; the model was trained on {dtype} images")
    if mode == "none":
        if array.dtype == np.uint8:
            return array
        if dtype is None and array.dtype != np.uint8:  # a model from before intensity policies
            mode = "image"
        else:
            return np.clip(array, 0, 255).astype(np.uint8)
    if mode == "image":
        flat = array.reshape(array.shape[0], -1).astype(np.float64)
        low, high = flat.min(axis=1), flat.max(axis=1)
    else:
        low = np.asarray(intensity["low"], dtype=np.float64)
        high = np.asarray(intensity["high"], dtype=np.float64)
        if len(low) == 1 and array.shape[0] > 1:
            low, high = np.repeat(low, array.shape[0]), np.repeat(high, array.shape[0])
        if len(low) != array.shape[0]:
            raise PixelError(f"it has {_n(array.shape[0], 'channel')}; the intensity window has {len(low)}")
    return np.stack([_stretch(array[c], float(low[c]), float(high[c])) for c in range(array.shape[0])])


def _stretch(plane: np.ndarray, low: float, high: float) -> np.ndarray:
    if high <= low:
        return np.zeros(plane.shape, dtype=np.uint8)
    scaled = (plane.astype(np.float32) - np.float32(low)) * np.float32(255.0 / (high - low))
    return np.clip(scaled + np.float32(0.5), 0, 255).astype(np.uint8)


def match_channels(array: np.ndarray, channels: int) -> np.ndarray:
    """uint8 (C, H, W) -> the model's channel count: gray repeated to RGB, RGB to luma, else refused."""
    have = array.shape[0]
    if have == channels:
        return array
    if have == 1 and channels == 3:
        return np.repeat(array, 3, axis=0)
    if have == 3 and channels == 1:  # PIL's own RGB -> L formula (ITU-R 601-2 luma, fixed point)
        weights = np.array([19595, 38470, 7471], dtype=np.uint32)
        luma = (np.tensordot(weights, array.astype(np.uint32), axes=1) + 0x8000) >> 16
        return luma.astype(np.uint8)[None]
    raise PixelError(f"it has {_n(have, 'channel')}; the model takes {_n(channels, 'channel')}")


def _fit(image: Image.Image, prep: Prep) -> Image.Image:
    """Resize the shorter side to ``resize``, then a centred ``crop`` square."""
    crop, resize = int(prep["crop"]), int(prep["resize"])
    w, h = image.size
    if (w, h) != (crop, crop) or resize != crop:
        scale = resize / min(w, h)
        new = (max(1, round(w * scale)), max(1, round(h * scale)))
        if new != (w, h):
            image = image.resize(new, RESAMPLE[prep.get("interpolation", "bilinear")])
        w, h = image.size
        left, top = (w - crop) // 2, (h - crop) // 2
        image = image.crop((left, top, left + crop, top + crop))
    return image


def _to_array(image: Image.Image) -> np.ndarray:
    array = np.array(image, dtype=np.uint8)  # a writable copy (torch.from_numpy needs one)
    return np.ascontiguousarray(array[None] if array.ndim == 2 else array.transpose(2, 0, 1))


def _n(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"
