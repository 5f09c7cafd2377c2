"""Static line charts drawn with Pillow (no Qt, no matplotlib), for files such as
``compare.png``. Drawn at twice the size and scaled down, which smooths lines and text."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont, features

# Okabe-Ito: distinguishable with the common colour-vision deficiencies
PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000")


_SS = 2  # supersampling factor


_INK = (40, 40, 40)


_AXIS = (90, 90, 90)


_GRID = (228, 228, 228)


_MUTED = (120, 120, 120)


@dataclass(frozen=True)
class Series:
    name: str
    x: Sequence[float]
    y: Sequence[float]
    color: str | None = None


Font = ImageFont.ImageFont | ImageFont.FreeTypeFont


@lru_cache(maxsize=16)
def _font(size: int) -> Font:
    if features.check("freetype2"):
        try:
            return ImageFont.load_default(size=size)
        except (OSError, TypeError, ValueError):
            pass
    return ImageFont.load_default()


def nice_ticks(lo: float, hi: float, count: int = 6, integer: bool = False) -> list[float]:
    """About ``count`` round tick values covering [lo, hi] (1, 2, 2.5 or 5 times a power of ten)."""
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return [0.0, 1.0]
    if hi <= lo:
        hi = lo + 1.0
    raw = (hi - lo) / max(1, count)
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)
    if integer:
        step = max(1.0, float(math.ceil(step)))
    start = math.ceil(lo / step - 1e-9) * step
    ticks = []
    value = start
    while value <= hi + step * 1e-9:
        ticks.append(round(value, 10))
        value += step
    return ticks


def _text_size(draw: ImageDraw.ImageDraw, text: str, font: Font) -> tuple[int, int]:
    left, top, right, bottom = draw.textbbox((0, 0), text, font=font)
    return int(right - left), int(bottom - top)  # whole pixels: PIL's box from (0, 0) is whole, typed float


def render_line_chart(
    series: Sequence[Series],
    title: str = "",
    xlabel: str = "",
    ylabel: str = "",
    size: tuple[int, int] = (900, 560),
    y_range: tuple[float, float] | None = None,
    percent: bool = False,
    reference: tuple[float, str] | None = None,
    subtitle: str = "",
) -> Image.Image:
    """A white RGB chart: title, legend row, gridlines, ticks, axis labels, one line per series.

    ``percent`` labels the y axis 0-100 % for values in 0-1; ``reference`` draws a dashed
    horizontal line with a label (e.g. chance level); x ticks are integers when all x are.
    """
    width, height = size[0] * _SS, size[1] * _SS
    image = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(image)
    fonts = _Fonts(_font(19 * _SS), _font(14 * _SS), _font(12 * _SS))
    frame = _frame(series, y_range, percent, reference)
    frame.place(draw, fonts, width, height, title, subtitle, series, reference)
    _draw_grid(draw, frame, fonts)
    _draw_axis_labels(image, draw, frame, fonts, xlabel, ylabel, height)
    if reference is not None and frame.y_lo <= reference[0] <= frame.y_hi:
        y = frame.py(reference[0])
        dash = 10 * _SS
        for x0 in range(int(frame.left), int(frame.right), 2 * dash):
            draw.line([(x0, y), (min(x0 + dash, frame.right), y)], fill=_MUTED, width=2 * _SS)
    _draw_series(draw, frame, series)
    return image.resize(size, Image.Resampling.LANCZOS)


@dataclass
class _Fonts:
    title: Font
    text: Font
    small: Font


@dataclass
class _Frame:
    """Data ranges, ticks and (once placed) the plot area in supersampled pixels."""

    x_lo: float
    x_hi: float
    y_lo: float
    y_hi: float
    integer_x: bool
    percent: bool
    x_ticks: list[float]
    y_ticks: list[float]
    left: float = 0.0
    right: float = 0.0
    top: float = 0.0
    bottom: float = 0.0
    margin: int = 24 * _SS

    @property
    def x_pad(self) -> float:
        return 0.025 * (self.x_hi - self.x_lo)  # keeps end markers off the axis line

    def px(self, x: float) -> float:
        span = self.x_hi - self.x_lo + 2 * self.x_pad
        return self.left + (x - self.x_lo + self.x_pad) / span * (self.right - self.left)

    def py(self, y: float) -> float:
        return self.bottom - (y - self.y_lo) / (self.y_hi - self.y_lo) * (self.bottom - self.top)

    def y_label_of(self, value: float) -> str:
        if self.percent:
            return f"{value * 100:.0f}%" if abs(value * 100 - round(value * 100)) < 1e-6 else f"{value * 100:.1f}%"
        return f"{value:g}"

    def place(self, draw, fonts: _Fonts, width, height, title, subtitle, series, reference) -> None:
        """Lay out title, subtitle and legend, leaving the rest to the plot area."""
        margin = self.margin
        tick_w = max((_text_size(draw, self.y_label_of(t), fonts.small)[0] for t in self.y_ticks), default=0)
        self.left = margin + _text_size(draw, "Ag", fonts.text)[1] + 14 * _SS + tick_w + 10 * _SS
        self.right = width - margin
        top = margin
        if title:
            draw.text((width // 2, top), title, font=fonts.title, fill=_INK, anchor="ma")
            top += _text_size(draw, title, fonts.title)[1] + 8 * _SS
        if subtitle:
            draw.text((width // 2, top), subtitle, font=fonts.small, fill=_MUTED, anchor="ma")
            top += _text_size(draw, subtitle, fonts.small)[1] + 8 * _SS
        self.top = _legend(draw, series, reference, fonts.text, top + 4 * _SS, width) + 14 * _SS
        self.bottom = (height - margin - _text_size(draw, "Ag", fonts.text)[1]
                       - _text_size(draw, "0", fonts.small)[1] - 22 * _SS)


def _frame(series: Sequence[Series], y_range, percent: bool, reference) -> _Frame:
    xs = [float(v) for s in series for v in s.x]
    ys = [float(v) for s in series for v in s.y if v is not None and math.isfinite(float(v))]
    if reference is not None:
        ys.append(float(reference[0]))
    integer_x = all(float(v).is_integer() for v in xs) if xs else True
    x_lo, x_hi = (min(xs), max(xs)) if xs else (0.0, 1.0)
    if x_hi == x_lo:
        x_lo, x_hi = x_lo - 1, x_hi + 1
    if y_range is not None:
        y_lo, y_hi = y_range
    elif ys:
        pad = max(0.02, 0.08 * (max(ys) - min(ys)))
        y_lo, y_hi = min(ys) - pad, max(ys) + pad
        if percent:  # accuracies start at 0 so gaps between curves are not exaggerated
            y_lo, y_hi = 0.0, min(1.0, math.ceil(y_hi * 10) / 10)
    else:
        y_lo, y_hi = 0.0, 1.0
    if y_hi <= y_lo:
        y_hi = y_lo + 1.0
    x_ticks = nice_ticks(x_lo, x_hi, 12 if integer_x else 8, integer_x)
    y_ticks = [t for t in nice_ticks(y_lo, y_hi, 8) if y_lo - 1e-9 <= t <= y_hi + 1e-9]
    return _Frame(x_lo, x_hi, y_lo, y_hi, integer_x, percent, x_ticks, y_ticks)


def _draw_grid(draw, frame: _Frame, fonts: _Fonts) -> None:
    left, right, top, bottom = frame.left, frame.right, frame.top, frame.bottom
    for t in frame.y_ticks:
        y = frame.py(t)
        draw.line([(left, y), (right, y)], fill=_GRID, width=_SS)
        draw.text((left - 8 * _SS, y), frame.y_label_of(t), font=fonts.small, fill=_AXIS, anchor="rm")
    for t in frame.x_ticks:
        x = frame.px(t)
        draw.line([(x, top), (x, bottom)], fill=_GRID, width=_SS)
        draw.line([(x, bottom), (x, bottom + 5 * _SS)], fill=_AXIS, width=_SS)
        label = f"{int(t)}" if frame.integer_x else f"{t:g}"
        draw.text((x, bottom + 8 * _SS), label, font=fonts.small, fill=_AXIS, anchor="ma")
    draw.line([(left, top), (left, bottom), (right, bottom)], fill=_AXIS, width=_SS)


def _draw_axis_labels(image, draw, frame: _Frame, fonts: _Fonts, xlabel: str, ylabel: str, height: int) -> None:
    if xlabel:
        draw.text(((frame.left + frame.right) // 2, height - frame.margin), xlabel, font=fonts.text, fill=_INK,
                  anchor="md")
    if ylabel:
        tw, th = _text_size(draw, ylabel, fonts.text)
        label = Image.new("RGBA", (tw + 4 * _SS, th + 8 * _SS), (255, 255, 255, 0))
        ImageDraw.Draw(label).text((2 * _SS, 2 * _SS), ylabel, font=fonts.text, fill=_INK)
        label = label.rotate(90, expand=True)
        image.paste(label, (frame.margin, int((frame.top + frame.bottom) / 2 - label.height / 2)), label)


def _draw_series(draw, frame: _Frame, series: Sequence[Series]) -> None:
    """Lines first, then markers on top."""
    for index, s in enumerate(series):
        color = s.color or PALETTE[index % len(PALETTE)]
        points = [
            (frame.px(float(x)), frame.py(min(max(float(y), frame.y_lo), frame.y_hi)))
            for x, y in zip(s.x, s.y, strict=False)
            if y is not None and math.isfinite(float(y))
        ]
        if len(points) > 1:
            draw.line(points, fill=color, width=3 * _SS, joint="curve")
        r = 4 * _SS
        for x, y in points:
            draw.ellipse([x - r, y - r, x + r, y + r], fill=color, outline="white", width=_SS)


def _legend(draw, series, reference, font, top: int, width: int) -> int:
    """One centred row (wrapping when needed) of colour swatches and names; returns its bottom."""
    entries = [(s.name, s.color or PALETTE[i % len(PALETTE)], False) for i, s in enumerate(series)]
    if reference is not None:
        entries.append((reference[1], "#787878", True))
    swatch, gap, pad = 26 * _SS, 22 * _SS, 8 * _SS
    line_h = _text_size(draw, "Ag", font)[1] + 6 * _SS
    widths = [swatch + pad + _text_size(draw, name, font)[0] for name, _, _ in entries]
    rows: list[tuple[list[tuple[tuple[str, str, bool], int]], int]] = []
    row: list[tuple[tuple[str, str, bool], int]] = []
    used = 0
    for entry, w in zip(entries, widths, strict=True):
        if row and used + gap + w > width * 0.9:
            rows.append((row, used))
            row, used = [], 0
        used += (gap if row else 0) + w
        row.append((entry, w))
    if row:
        rows.append((row, used))
    y = top
    for items, total in rows:
        x = (width - total) / 2
        for (name, color, dashed), w in items:
            cy = y + line_h / 2
            if dashed:
                draw.line([(x, cy), (x + swatch * 0.4, cy)], fill=color, width=2 * _SS)
                draw.line([(x + swatch * 0.6, cy), (x + swatch, cy)], fill=color, width=2 * _SS)
            else:
                draw.line([(x, cy), (x + swatch, cy)], fill=color, width=3 * _SS)
                r = 4 * _SS
                draw.ellipse([x + swatch / 2 - r, cy - r, x + swatch / 2 + r, cy + r], fill=color)
            draw.text((x + swatch + pad, cy), name, font=font, fill=_INK, anchor="lm")
            x += w + gap
        y += line_h + 4 * _SS
    return int(y)


def save_line_chart(path: str | Path, series: Sequence[Series], **kwargs) -> Path:
    """:func:`render_line_chart` written to ``path`` as PNG (atomically)."""
    from tlgui.core.base.files import atomic_write

    path = Path(path)
    image = render_line_chart(series, **kwargs)
    atomic_write(path, lambda handle: image.save(handle, format="PNG", optimize=True))
    return path
