"""Synthetic lab images made on the fly (issue 18): 12/16-bit multi-channel microscopy files.

Plain functions on numpy, tifffile and PIL, deterministic by seed. Tests use them to write real
files in ``tmp_path``; ``benchmarks/bench_lab.py`` uses them to make its data sets.

- :func:`cells`, :func:`make_cell_folder`: imaging-flow-cytometry-like cells, uint16
  (3, H, W) with 12-bit values: brightfield, DNA, darkfield. The cell-cycle class (G1, S, G2,
  M) is mostly in the DNA channel's *integrated* intensity (G1 1x, S 1-2x, G2 2x, M 2x but
  condensed), so stretching each image to its own range erases most of it.
- :func:`make_channel_signal_folder`: multi-channel stacks whose class is in one channel only.
- :func:`make_brightness_folder`: single-channel images whose classes differ only in absolute
  brightness (a per-image min-max stretch makes the two classes identical in distribution).
- :func:`write_tiff`, :func:`write_png16`, :func:`write_npy`, :func:`write_format_variants`:
  one array written in the file flavours a lab meets (see :data:`VARIANT_AXES`).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import tifffile
from PIL import Image

CELL_CLASSES = ("G1", "S", "G2", "M")
CELL_CHANNELS = ("brightfield", "DNA", "darkfield")
SIGNAL_CLASSES = ("negative", "positive")
BRIGHTNESS_CLASSES = ("dim", "bright")
MAX_12BIT = 4095

# What ``tifffile.TiffFile(path).series[0].axes`` reports for each of write_format_variants'
# files (tifffile 2026.3); 'png16' and 'npy' are not TIFFs. For the multi-page file 'I' is
# tifffile's "sequence of pages" axis (no metadata says they are channels); 'S' of 'yxc' is
# "samples per pixel" (a contiguous, MINISBLACK file with extra samples); 'Q' of 'zlib' is an
# unknown axis (tifffile's own shape metadata without axes).
VARIANT_AXES = {
    "cyx": "CYX",
    "yxc": "YXS",
    "ome_cyx": "CYX",
    "imagej_cyx": "CYX",
    "multipage": "IYX",
    "zlib": "QYX",
    "ome_zcyx": "ZCYX",
    "rgb_planar": "SYX",
}
Z_PLANES, Z_MIDDLE = 5, 2


# ---------------------------------------------------------------------------------------------
# writers


def write_tiff(path, array: np.ndarray, *, axes: str | None = None, ome: bool = False,
               compression: str | None = None, photometric: str | None = None, **kwargs) -> Path:
    """``tifffile.imwrite`` with the choices made explicit.

    ``axes`` is written as metadata (tifffile's shaped JSON, or OME-XML with ``ome=True``);
    without it tifffile records only the shape. ``photometric`` defaults to 'minisblack' (so a
    (3, H, W) stack is never stored as RGB by accident). ``compression``: 'zlib' needs nothing
    else, 'lzw' needs imagecodecs. Extra keyword arguments go to ``tifffile.imwrite``
    (``planarconfig``, ``imagej``, ``metadata=None`` for a file without any metadata)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if "metadata" not in kwargs:
        kwargs["metadata"] = {"axes": axes} if axes else {}
    tifffile.imwrite(path, array, ome=ome or None, compression=compression,
                     photometric=photometric or "minisblack", **kwargs)
    return path


def write_png16(path, array2d: np.ndarray) -> Path:
    """A 16-bit grayscale PNG (PIL mode 'I;16') of a 2-D uint16 array."""
    array2d = np.asarray(array2d)
    if array2d.ndim != 2:
        raise ValueError(f"a 16-bit PNG holds one 2-D channel, not shape {array2d.shape}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.ascontiguousarray(array2d, dtype="<u2")).save(path)
    return path


def write_npy(path, array: np.ndarray) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.save(path, array)
    return path


def write_multipage(path, array: np.ndarray) -> Path:
    """One TIFF page per leading index, no metadata at all (what many acquisition programs
    write): tifffile reports the pages as axis 'I'."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with tifffile.TiffWriter(path) as tif:
        for page in array:
            tif.write(page, photometric="minisblack", metadata=None)
    return path


def z_stack(array_chw: np.ndarray) -> np.ndarray:
    """(Z_PLANES, C, H, W) uint16 from a (C, H, W) array: the middle plane (``Z_MIDDLE``) is the
    array itself, the others are dimmer (out of focus: x0.8, x0.6), and plane 0 carries a marker,
    its top-left 4x4 block at 4095 in every channel. So the middle plane == array_chw, and the
    maximum over z == array_chw except that block (4095 there)."""
    array = np.asarray(array_chw, dtype=np.float64)
    planes = [np.round(array * (1 - 0.2 * abs(z - Z_MIDDLE))) for z in range(Z_PLANES)]
    planes[Z_MIDDLE] = array
    stack = np.stack(planes).astype(np.uint16)
    stack[0, :, :4, :4] = MAX_12BIT
    return stack


def write_format_variants(folder, array_chw: np.ndarray) -> dict[str, Path]:
    """The same uint16 (C, H, W) data in every file flavour; returns name -> path.

    'cyx' (shaped TIFF with axes CYX), 'yxc' ((H, W, C) contiguous MINISBLACK, no axes),
    'ome_cyx' (OME-TIFF), 'imagej_cyx' (an ImageJ hyperstack, as Fiji saves), 'multipage' (one
    page per channel, no metadata), 'zlib' (zlib-compressed, shape only), 'ome_zcyx' (OME
    Z-stack from :func:`z_stack`), 'rgb_planar' (only for C == 3: PHOTOMETRIC RGB, separate
    planes, what ``tifffile.imwrite(path, array)`` wrote by default for years), 'png16'
    (channel 0), 'npy' ((C, H, W)). :data:`VARIANT_AXES` says what tifffile reports for each."""
    array = np.asarray(array_chw)
    if array.ndim != 3 or array.dtype != np.uint16:
        raise ValueError(f"expected a uint16 (C, H, W) array, got {array.dtype} {array.shape}")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = {
        "cyx": write_tiff(folder / "cyx.tif", array, axes="CYX"),
        "yxc": write_tiff(folder / "yxc.tif", np.ascontiguousarray(array.transpose(1, 2, 0)),
                          planarconfig="contig", metadata=None),
        "ome_cyx": write_tiff(folder / "cyx.ome.tif", array, axes="CYX", ome=True),
        "imagej_cyx": write_tiff(folder / "imagej_cyx.tif", array, imagej=True, photometric="minisblack",
                                 metadata={"axes": "CYX"}),
        "multipage": write_multipage(folder / "multipage.tif", array),
        "zlib": write_tiff(folder / "zlib.tif", array, compression="zlib"),
        "ome_zcyx": write_tiff(folder / "zcyx.ome.tif", z_stack(array), axes="ZCYX", ome=True),
    }
    if array.shape[0] == 3:
        paths["rgb_planar"] = write_tiff(folder / "rgb_planar.tif", array, photometric="rgb",
                                         planarconfig="separate")
    paths["png16"] = write_png16(folder / "channel0.png", array[0])
    paths["npy"] = write_npy(folder / "cyx.npy", array)
    return paths


# ---------------------------------------------------------------------------------------------
# shapes


def _grid(size: int) -> tuple[np.ndarray, np.ndarray]:
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float64)
    return yy + 0.5, xx + 0.5


def _ellipse_distance(yy, xx, cy, cx, ratio, angle):
    """Distance from (cy, cx) in pixels along the major axis of an ellipse (axis ratio <= 1)."""
    dy, dx = yy - cy, xx - cx
    c, s = np.cos(angle), np.sin(angle)
    u, v = c * dx + s * dy, -s * dx + c * dy
    return np.sqrt(u * u + (v / ratio) ** 2)


def _soft_disc(distance, radius, edge=0.8):
    return 1.0 / (1.0 + np.exp(np.clip((distance - radius) / edge, -50, 50)))


def _sharp_disc(distance, radius, edge=0.9):
    """1 inside, a Gaussian fall-off outside: its tail, unlike a logistic one, hardly widens
    when the disc gets brighter (so the count of lit pixels does not give the brightness away)."""
    return np.exp(-(np.maximum(distance - radius, 0.0) / edge) ** 2)


def _spots(yy, xx, centres, sigma, amplitudes):
    out = np.zeros_like(yy)
    for (cy, cx), a in zip(centres, amplitudes, strict=True):
        out += a * np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * sigma * sigma))
    return out


def _points_in_disc(rng, n, cy, cx, radius):
    r = radius * np.sqrt(rng.random(n))
    t = rng.random(n) * 2 * np.pi
    return list(zip(cy + r * np.sin(t), cx + r * np.cos(t), strict=True))


def _class_index(cls, names) -> int:
    if isinstance(cls, str):
        return names.index(cls)
    return int(cls)


# ---------------------------------------------------------------------------------------------
# cells (3 channels, 12 bit)


def dna_content(rng: np.random.Generator, cls) -> float:
    """Relative DNA amount of one cell: G1 1, S uniform 1-2, G2 and M 2."""
    k = _class_index(cls, CELL_CLASSES)
    return (1.0, float(rng.uniform(1.0, 2.0)), 2.0, 2.0)[k]


def cells(rng: np.random.Generator, n: int, cls, size: int = 40) -> np.ndarray:
    """``n`` synthetic imaging-flow-cytometry cells of class ``cls`` (name or index into
    :data:`CELL_CLASSES`): uint16 (n, 3, size, size), values 0..4095.

    - channel 0, brightfield: background ~2000, the cell a slightly darker ellipse with a dark
      edge and a bright halo, the nucleus faintly visible; shot noise.
    - channel 1, DNA: camera offset 100, a nucleus whose integrated intensity is the DNA
      content x a per-cell staining factor (log-normal, sd 0.06), with chromatin texture;
      interphase nuclei are round, 50-65 % of the cell's radius, mitotic (M) chromatin is an
      elongated plate of 30-48 %, so brighter per pixel; shot noise (gain 2) and no read noise,
      saturating at 4095.
    - channel 2, darkfield (side scatter): offset ~150, diffuse scatter inside the cell plus
      10-25 granules; independent of the class.

    Cells are ~9 px in radius at size 40 (sd 9 %; G2/M cells 4 % wider than G1, their nuclei
    not), centred with a 2.5 px jitter, elliptical, randomly turned. So the DNA amount is in
    the DNA channel's brightness, not in any size or shape: a per-image min-max stretch leaves
    G1, S and G2 at chance (M stays recognisable by its shape). Tuned with bench_lab's plain
    script (80 training cells per class, 600 test cells, 60 epochs): 84.5 % with per-channel
    standardisation; 51 % on the DNA channel stretched per image."""
    k = _class_index(cls, CELL_CLASSES)
    s = size / 40.0
    yy, xx = _grid(size)
    out = np.empty((n, 3, size, size), dtype=np.uint16)
    for i in range(n):
        content = dna_content(rng, k)
        stain = rng.lognormal(0.0, 0.06)
        base = min(s * 9.0 * rng.lognormal(0.0, 0.09), size * 0.34)
        r_cell = base * (1.0 + 0.045 * (content - 1.0))  # a G2 cell ~4 % wider; its nucleus is not
        margin = size / 2 - r_cell - 2 * s
        cy = size / 2 + np.clip(rng.normal(0.0, 2.5 * s), -margin, margin)
        cx = size / 2 + np.clip(rng.normal(0.0, 2.5 * s), -margin, margin)
        ratio, angle = rng.uniform(0.8, 1.0), rng.uniform(0.0, np.pi)
        d_cell = _ellipse_distance(yy, xx, cy, cx, ratio, angle)
        inside = _soft_disc(d_cell, r_cell, 0.7 * s)

        # nucleus: interphase round, M a condensed, elongated plate
        if k == 3:
            r_nuc = base * rng.uniform(0.30, 0.48)
            n_ratio = rng.uniform(0.4, 0.75)
        else:
            r_nuc = base * rng.uniform(0.50, 0.65)
            n_ratio = rng.uniform(0.8, 1.0)
        off = r_cell - r_nuc
        ny = cy + rng.uniform(-0.25, 0.25) * off
        nx = cx + rng.uniform(-0.25, 0.25) * off
        d_nuc = _ellipse_distance(yy, xx, ny, nx, n_ratio, rng.uniform(0.0, np.pi))
        nucleus = _sharp_disc(d_nuc, r_nuc, 0.9 * s)
        texture = 1.0 + _spots(yy, xx, _points_in_disc(rng, 6, ny, nx, r_nuc), 1.2 * s, rng.uniform(0.1, 0.4, 6))
        profile = nucleus * texture * rng.lognormal(0.0, 0.12, texture.shape)  # chromatin grain
        profile /= profile.sum()
        dna = 42000.0 * s * s * content * stain * profile
        dna = 100.0 + 2.0 * rng.poisson(dna / 2.0)

        ring = np.exp(-(((d_cell - r_cell) / (1.1 * s)) ** 2))
        halo = np.exp(-(((d_cell - r_cell - 2.0 * s) / (1.1 * s)) ** 2))
        bf = (2000.0 * rng.uniform(0.97, 1.03) - rng.uniform(120, 320) * inside - 650.0 * ring + 260.0 * halo
              - rng.uniform(60, 160) * nucleus)
        bf = rng.poisson(np.maximum(bf, 1.0)).astype(np.float64)

        grains = int(rng.integers(10, 26))
        df = 150.0 + rng.uniform(80, 200) * inside + _spots(
            yy, xx, _points_in_disc(rng, grains, cy, cx, 0.9 * r_cell), 0.8 * s, rng.uniform(80, 450, grains))
        df = rng.poisson(df).astype(np.float64)

        out[i] = np.clip(np.round(np.stack([bf, dna, df])), 0, MAX_12BIT).astype(np.uint16)
    return out


def _write_layout(path: Path, cell: np.ndarray, layout: str) -> None:
    if layout == "CYX":
        write_tiff(path, cell, axes="CYX")
    elif layout == "YXC":
        write_tiff(path, np.ascontiguousarray(cell.transpose(1, 2, 0)), axes="YXC", planarconfig="contig")
    elif layout == "DNA":
        write_tiff(path, cell[1])
    else:
        raise ValueError(f"layout must be 'CYX', 'YXC' or 'DNA', not {layout!r}")


def make_cell_folder(root, per_class: int, seed: int, *, layout: str = "CYX", size: int = 40) -> Path:
    """``root/<G1|S|G2|M>/cell_XXXX.tif``, ``per_class`` uint16 cells per class from
    :func:`cells`. ``layout``: 'CYX' ((3, H, W), axes CYX), 'YXC' ((H, W, 3) contiguous,
    axes YXC) or 'DNA' (the DNA channel alone, one (H, W) page)."""
    root = Path(root)
    rng = np.random.default_rng(seed)
    for name in CELL_CLASSES:
        folder = root / name
        folder.mkdir(parents=True, exist_ok=True)
        for i, cell in enumerate(cells(rng, per_class, name, size)):
            _write_layout(folder / f"cell_{i:04d}.tif", cell, layout)
    return root


# ---------------------------------------------------------------------------------------------
# one signal channel among several


def channel_signal_stacks(rng: np.random.Generator, n: int, cls, channels: int = 4, signal_channel: int = 3,
                          size: int = 32) -> np.ndarray:
    """uint16 (n, channels, size, size): a cell (soft disc, random place and size) seen in
    every channel at channel-specific brightness, camera offset 100, shot noise. Class
    'positive' (or 1) adds 1-3 bright foci inside the cell in ``signal_channel`` only; every
    other channel has the same distribution in both classes."""
    k = _class_index(cls, SIGNAL_CLASSES)
    if not 0 <= signal_channel < channels:
        raise ValueError(f"signal_channel {signal_channel} is not one of {channels} channels")
    s = size / 32.0
    yy, xx = _grid(size)
    out = np.empty((n, channels, size, size), dtype=np.uint16)
    for i in range(n):
        r = s * rng.uniform(6.0, 9.0)
        cy, cx = rng.uniform(r + 1, size - r - 1, 2)
        disc = _soft_disc(np.hypot(yy - cy, xx - cx), r, 0.8 * s)
        for c in range(channels):
            img = 100.0 + (300.0 + 250.0 * c) * rng.uniform(0.8, 1.2) * disc
            if c == signal_channel and k == 1:
                m = int(rng.integers(1, 4))
                img += _spots(yy, xx, _points_in_disc(rng, m, cy, cx, 0.7 * r), 1.2 * s, rng.uniform(700, 1400, m))
            out[i, c] = np.clip(rng.poisson(img), 0, MAX_12BIT)
    return out


def make_channel_signal_folder(root, per_class: int, seed: int, channels: int = 4, signal_channel: int = 3,
                               size: int = 32) -> Path:
    """``root/<negative|positive>/stack_XXXX.tif``: uint16 (C, H, W) stacks (axes CYX) from
    :func:`channel_signal_stacks`; only channel ``signal_channel`` (0-based) tells the classes
    apart."""
    root = Path(root)
    rng = np.random.default_rng(seed)
    for name in SIGNAL_CLASSES:
        folder = root / name
        folder.mkdir(parents=True, exist_ok=True)
        stacks = channel_signal_stacks(rng, per_class, name, channels, signal_channel, size)
        for i, stack in enumerate(stacks):
            write_tiff(folder / f"stack_{i:04d}.tif", stack, axes="CYX")
    return root


# ---------------------------------------------------------------------------------------------
# classes that differ only in absolute brightness


BRIGHTNESS_LEVELS = {"dim": 900.0, "bright": 2900.0}
BRIGHTNESS_OFFSET = 100.0


def relative_pattern(rng: np.random.Generator, size: int = 32) -> np.ndarray:
    """A relative structure with mean 1 (background 0.4, 2-5 blobs, 8 % multiplicative noise);
    its distribution does not depend on the class."""
    yy, xx = _grid(size)
    m = int(rng.integers(2, 6))
    centres = list(zip(rng.uniform(4, size - 4, m), rng.uniform(4, size - 4, m), strict=True))
    q = 0.4 + _spots(yy, xx, centres, size / 10.0, rng.uniform(0.8, 2.0, m))
    q *= 1.0 + 0.08 * rng.standard_normal(q.shape)
    return q / q.mean()


def brightness_images(rng: np.random.Generator, n: int, cls, size: int = 32) -> np.ndarray:
    """uint16 (n, size, size): ``100 + level * pattern`` with level ~900 ('dim') or ~2900
    ('bright'), x a log-normal 10 % spread per image: image means ~1000 and ~3000. As the
    pattern (noise included) has the same distribution in both classes and a min-max stretch
    undoes any ``a + b * x``, stretched images of the two classes are indistinguishable."""
    name = BRIGHTNESS_CLASSES[_class_index(cls, BRIGHTNESS_CLASSES)]
    out = np.empty((n, size, size), dtype=np.uint16)
    for i in range(n):
        level = BRIGHTNESS_LEVELS[name] * rng.lognormal(0.0, 0.1)
        out[i] = np.clip(np.round(BRIGHTNESS_OFFSET + level * relative_pattern(rng, size)), 0, 65535)
    return out


def make_brightness_folder(root, per_class: int, seed: int, size: int = 32) -> Path:
    """``root/<dim|bright>/img_XXXX.tif``: single-channel uint16 (H, W) TIFFs from
    :func:`brightness_images`."""
    root = Path(root)
    rng = np.random.default_rng(seed)
    for name in BRIGHTNESS_CLASSES:
        folder = root / name
        folder.mkdir(parents=True, exist_ok=True)
        for i, img in enumerate(brightness_images(rng, per_class, name, size)):
            write_tiff(folder / f"img_{i:04d}.tif", img)
    return root


def read_folder(root) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Every TIFF of a class-folder tree as float32 (N, C, H, W) (a 2-D page becomes C = 1, an
    (H, W, C) file with axes ending in C or S is moved to (C, H, W)), labels, class names;
    classes in sorted order, files in sorted order."""
    root = Path(root)
    classes = sorted(d.name for d in root.iterdir() if d.is_dir())
    xs, ys = [], []
    for label, name in enumerate(classes):
        for file in sorted(os.listdir(root / name)):
            with tifffile.TiffFile(root / name / file) as tif:
                series = tif.series[0]
                array = series.asarray()
                axes = series.axes
            if array.ndim == 2:
                array = array[None]
            elif axes[-1] in "CS":
                array = np.moveaxis(array, -1, 0)
            xs.append(array.astype(np.float32))
            ys.append(label)
    return np.stack(xs), np.asarray(ys, dtype=np.int64), classes
