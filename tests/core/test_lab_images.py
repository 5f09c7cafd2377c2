"""The lab image makers write what they claim (read back with tifffile and PIL)."""

from __future__ import annotations

import numpy as np
import pytest
import tifffile
from PIL import Image

from tests.core.lab_images import (
    BRIGHTNESS_CLASSES,
    CELL_CLASSES,
    SIGNAL_CLASSES,
    VARIANT_AXES,
    Z_MIDDLE,
    Z_PLANES,
    cells,
    make_brightness_folder,
    make_cell_folder,
    make_channel_signal_folder,
    read_folder,
    write_format_variants,
    write_png16,
    write_tiff,
)


def series(path):
    with tifffile.TiffFile(path) as tif:
        return tif.series[0].asarray(), tif.series[0].axes


def stretch(a: np.ndarray) -> np.ndarray:
    a = a.astype(np.float64)
    lo = a.min(axis=(-2, -1), keepdims=True)
    hi = a.max(axis=(-2, -1), keepdims=True)
    return (a - lo) / (hi - lo)


def test_cells_are_deterministic_12_bit_and_carry_dna_amount_in_the_dna_channel():
    a = cells(np.random.default_rng(3), 4, "G1")
    assert a.shape == (4, 3, 40, 40) and a.dtype == np.uint16
    assert a.max() <= 4095
    np.testing.assert_array_equal(a, cells(np.random.default_rng(3), 4, "G1"))
    assert cells(np.random.default_rng(3), 2, "S", size=24).shape == (2, 3, 24, 24)

    rng = np.random.default_rng(0)
    total = {c: (cells(rng, 30, c)[:, 1].astype(np.float64) - 100).sum(axis=(1, 2)) for c in CELL_CLASSES}
    ratio = np.median(total["G2"]) / np.median(total["G1"])
    assert 1.8 < ratio < 2.2
    assert np.median(total["G1"]) < np.median(total["S"]) < np.median(total["G2"])
    assert abs(np.median(total["M"]) / np.median(total["G2"]) - 1) < 0.15
    # M chromatin is condensed: brighter per pixel than G2's nucleus
    peak = {c: cells(rng, 20, c)[:, 1].max(axis=(1, 2)) for c in ("G2", "M")}
    assert np.median(peak["M"]) > 1.5 * np.median(peak["G2"])
    # brightfield is bright (~2000) around the cell, DNA dark (offset 100) around the nucleus
    g1 = cells(rng, 10, "G1")
    assert 1800 < np.median(g1[:, 0, 0, :]) < 2200
    assert np.median(g1[:, 1, 0, :]) == 100


def test_stretching_each_image_erases_the_dna_amount():
    rng = np.random.default_rng(1)
    g1, g2 = (cells(rng, 60, c)[:, 1] for c in ("G1", "G2"))
    raw = [(x.astype(np.float64) - 100).sum(axis=(1, 2)) for x in (g1, g2)]
    flat = [stretch(x).sum(axis=(1, 2)) for x in (g1, g2)]

    def separation(a, b):
        return abs(a.mean() - b.mean()) / np.sqrt((a.var() + b.var()) / 2)

    assert separation(*raw) > 5
    assert separation(*flat) < 0.5


@pytest.mark.parametrize("layout, shape, axes", [("CYX", (3, 40, 40), "CYX"), ("YXC", (40, 40, 3), "YXC"),
                                                 ("DNA", (40, 40), "YX")])
def test_cell_folder_layouts(tmp_path, layout, shape, axes):
    root = make_cell_folder(tmp_path / layout, 2, seed=5, layout=layout)
    assert sorted(p.name for p in root.iterdir()) == sorted(CELL_CLASSES)
    files = sorted((root / "G2").glob("*.tif"))
    assert [p.name for p in files] == ["cell_0000.tif", "cell_0001.tif"]
    array, found = series(files[0])
    assert array.dtype == np.uint16 and array.shape == shape and found == axes
    assert array.max() <= 4095
    reference = make_cell_folder(tmp_path / "again", 2, seed=5)
    cyx, _ = series(reference / "G2" / "cell_0000.tif")
    expected = {"CYX": cyx, "YXC": cyx.transpose(1, 2, 0), "DNA": cyx[1]}[layout]
    np.testing.assert_array_equal(array, expected)


def test_channel_signal_folder_differs_only_in_the_signal_channel(tmp_path):
    root = make_channel_signal_folder(tmp_path / "sig", 40, seed=2, channels=4, signal_channel=3)
    x, y, classes = read_folder(root)
    assert classes == sorted(SIGNAL_CLASSES) and x.shape == (80, 4, 32, 32)
    array, axes = series(next((root / "positive").glob("*.tif")))
    assert array.dtype == np.uint16 and axes == "CYX"
    neg, pos = x[y == classes.index("negative")], x[y == classes.index("positive")]
    for c in range(4):
        a, b = neg[:, c].max(axis=(1, 2)), pos[:, c].max(axis=(1, 2))
        gap = (b.mean() - a.mean()) / np.sqrt((a.var() + b.var()) / 2)
        if c == 3:
            assert gap > 2.5, gap
        else:
            assert abs(gap) < 0.8, (c, gap)
    other = make_channel_signal_folder(tmp_path / "sig2", 3, seed=2, channels=3, signal_channel=0, size=24)
    assert series(next((other / "negative").glob("*.tif")))[0].shape == (3, 24, 24)


def test_brightness_classes_differ_only_in_absolute_brightness(tmp_path):
    root = make_brightness_folder(tmp_path / "bright", 60, seed=4)
    array, axes = series(next((root / "dim").glob("*.tif")))
    assert array.dtype == np.uint16 and array.shape == (32, 32) and axes == "YX"
    x, y, classes = read_folder(root)
    assert classes == sorted(BRIGHTNESS_CLASSES)
    dim, bright = x[y == classes.index("dim"), 0], x[y == classes.index("bright"), 0]
    assert 800 < dim.mean() < 1200 and 2600 < bright.mean() < 3400
    assert dim.mean(axis=(1, 2)).max() < bright.mean(axis=(1, 2)).min()
    for stat in (np.mean, np.std, np.median):
        a, b = (stat(stretch(v), axis=(1, 2)) for v in (dim, bright))
        se = np.sqrt(a.var() / len(a) + b.var() / len(b))
        assert abs(a.mean() - b.mean()) < 3 * se, stat.__name__
    hist = [np.histogram(stretch(v), bins=10, range=(0, 1))[0] / v.size for v in (dim, bright)]
    assert np.abs(hist[0] - hist[1]).max() < 0.03  # sampling noise of 60 images: ~0.017


def test_format_variants_hold_the_same_data(tmp_path):
    data = cells(np.random.default_rng(7), 1, "M")[0]
    paths = write_format_variants(tmp_path / "v", data)
    assert set(paths) == set(VARIANT_AXES) | {"png16", "npy"}
    for name, axes in VARIANT_AXES.items():
        array, found = series(paths[name])
        assert array.dtype == np.uint16 and found == axes, (name, found)
        if name == "ome_zcyx":
            assert array.shape == (Z_PLANES, 3, 40, 40)
            np.testing.assert_array_equal(array[Z_MIDDLE], data)
            top = array.max(axis=0)
            assert (top[:, :4, :4] == 4095).all()
            np.testing.assert_array_equal(top[:, 4:, :], data[:, 4:, :])
        elif name == "yxc":
            np.testing.assert_array_equal(array, data.transpose(1, 2, 0))
        else:
            np.testing.assert_array_equal(array, data)
    with tifffile.TiffFile(paths["zlib"]) as tif:
        assert tif.pages[0].compression == tifffile.COMPRESSION.ADOBE_DEFLATE
    with tifffile.TiffFile(paths["multipage"]) as tif:
        assert len(tif.pages) == 3 and not tif.is_shaped and not tif.is_ome
    with tifffile.TiffFile(paths["ome_cyx"]) as tif:
        assert tif.is_ome
    with tifffile.TiffFile(paths["imagej_cyx"]) as tif:
        assert tif.is_imagej
    with Image.open(paths["png16"]) as img:
        assert img.mode == "I;16"
        np.testing.assert_array_equal(np.asarray(img), data[0])
    np.testing.assert_array_equal(np.load(paths["npy"]), data)
    # only 3-channel data can be written as planar RGB
    assert "rgb_planar" not in write_format_variants(tmp_path / "four", np.concatenate([data, data[:1]]))


def test_writers_compress_and_take_full_16_bit(tmp_path):
    array = np.array([[0, 65535], [1234, 40000]], dtype=np.uint16)
    png = write_png16(tmp_path / "a" / "x.png", array)
    with Image.open(png) as img:
        np.testing.assert_array_equal(np.asarray(img), array)
    stack = np.stack([array, array[::-1]])
    path = write_tiff(tmp_path / "zlib.tif", stack, axes="CYX", compression="zlib")
    got, axes = series(path)
    np.testing.assert_array_equal(got, stack)
    assert axes == "CYX"
    with pytest.raises(ValueError):
        write_png16(tmp_path / "bad.png", stack)
    with pytest.raises(ValueError):
        write_format_variants(tmp_path / "bad", stack.astype(np.float32))
