"""Tiny image corpora built on the fly (PIL + numpy), with every odd case a user's folder
can hold. Each builder returns the paths it made so tests can assert on them."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np
from PIL import Image

_rng = np.random.default_rng(1234)


def noise(size=(24, 24), channels: int = 3) -> np.ndarray:
    """Random uint8 pixels: distinct content every call (no accidental duplicates)."""
    shape = (size[1], size[0]) if channels == 1 else (size[1], size[0], channels)
    return _rng.integers(0, 256, shape, dtype=np.uint8)


def save(path: Path, image: Image.Image, **kwargs) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path, **kwargs)
    return path


def rgb(path: Path, size=(24, 24)) -> Path:
    return save(path, Image.fromarray(noise(size, 3), "RGB"))


def gray(path: Path, size=(24, 24)) -> Path:
    return save(path, Image.fromarray(noise(size, 1), "L"))


def rgba(path: Path, size=(24, 24)) -> Path:
    return save(path, Image.fromarray(noise(size, 4), "RGBA"))


def palette(path: Path, size=(24, 24)) -> Path:
    image = Image.fromarray(noise(size, 3), "RGB").convert("P", palette=Image.Palette.ADAPTIVE)
    return save(path, image)


def cmyk_jpeg(path: Path, size=(24, 24)) -> Path:
    return save(path, Image.fromarray(noise(size, 4), "CMYK"), format="JPEG")


def gray16(path: Path, size=(24, 24)) -> Path:
    array = _rng.integers(0, 65535, (size[1], size[0]), dtype=np.uint16)
    image = Image.fromarray(array)  # mode I;16, saved as a 16-bit PNG
    return save(path, image)


def bilevel(path: Path, size=(24, 24)) -> Path:
    return save(path, Image.fromarray(noise(size, 1) > 127))  # mode "1"


def exif_rotated_jpeg(path: Path, size=(40, 20)) -> Path:
    """Stored landscape (40x20) with EXIF orientation 6: shown portrait (20x40)."""
    exif = Image.Exif()
    exif[0x0112] = 6
    return save(path, Image.fromarray(noise(size, 3), "RGB"), format="JPEG", exif=exif)


def zero_bytes(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"")
    return path


def not_an_image(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("this is a text file wearing an image extension\n")
    return path


def truncated_png(path: Path, size=(64, 64)) -> Path:
    """A PNG whose header is intact but whose pixel data stops halfway."""
    rgb(path, size)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path


def bomb_png(path: Path, width: int = 100_000, height: int = 100_000) -> Path:
    """A few hundred bytes whose header claims width x height pixels."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        )

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit grayscale
    idat = zlib.compress(b"\x00" * 64)
    data = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def copy(src: Path, dst: Path) -> Path:
    dst.parent.mkdir(parents=True, exist_ok=True)
    dst.write_bytes(src.read_bytes())
    return dst


def odd_folder(root: Path) -> dict[str, Path]:
    """Two usable classes full of odd-but-valid modes, plus every kind of junk.

    cats: L, RGB, RGBA, P (4 usable) + zero-byte .png + .DS_Store + notes.txt
    dogs: CMYK JPEG, 16-bit PNG, 1-bit PNG, EXIF-rotated JPEG (4 usable)
          + a text file named .jpg + a truncated PNG (header fine, data cut)
    empty/: only a .txt file; .hidden/: images that must never be seen; Thumbs.db at top
    """
    f = {
        "cat_l": gray(root / "cats" / "l.png"),
        "cat_rgb": rgb(root / "cats" / "rgb.png"),
        "cat_rgba": rgba(root / "cats" / "rgba.png"),
        "cat_p": palette(root / "cats" / "p.gif"),
        "zero": zero_bytes(root / "cats" / "zero.png"),
        "dog_cmyk": cmyk_jpeg(root / "dogs" / "cmyk.jpg"),
        "dog_16": gray16(root / "dogs" / "sixteen.png"),
        "dog_1": bilevel(root / "dogs" / "bilevel.png"),
        "dog_exif": exif_rotated_jpeg(root / "dogs" / "rotated.jpg"),
        "fake": not_an_image(root / "dogs" / "fake.jpg"),
        "truncated": truncated_png(root / "dogs" / "truncated.png"),
    }
    (root / "cats" / ".DS_Store").write_bytes(b"\x00\x00\x00\x01Bud1")
    (root / "cats" / "notes.txt").write_text("not an image")
    (root / "Thumbs.db").write_bytes(b"junk")
    not_an_image(root / "empty" / "readme.txt")
    rgb(root / ".hidden" / "secret.png")
    rgb(root / "cats" / ".cache" / "thumb.png")
    return f
