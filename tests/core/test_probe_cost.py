"""Issue 27: learning what kind of images a data set holds decodes nothing it does not need.

Every PIL decode goes through ``ImageFile.load``; the ``decodes`` fixture records the size each
image had when it was decoded (a JPEG decoded at reduced scale by libjpeg's draft reports its
reduced size), so a test can tell full-size decodes apart from the reduced ones training makes.
"""

import os

import numpy as np
import pytest
from PIL import Image, ImageFile

from tlgui.core.base.config import TrainConfig
from tlgui.core.base.events import Message
from tlgui.core.data import image_kind
from tlgui.core.data.catalog import open_source
from tlgui.core.data.image_kind import load_reduced, probe_kind
from tlgui.core.training.inputs import detect_channels
from tlgui.core.training.prepare import prepare

BIG = (1600, 1200)  # "large" for a test; 96 px inputs decode it at 1/8 scale


def _jpegs(root, per_class=6, size=BIG, mode="RGB"):
    rng = np.random.default_rng(0)
    for c in ("cats", "dogs"):
        (root / c).mkdir(parents=True)
        for i in range(per_class):
            small = rng.integers(0, 255, (size[1] // 100, size[0] // 100, 3), dtype=np.uint8)
            picture = Image.fromarray(small).resize(size, Image.Resampling.BILINEAR).convert(mode)
            picture.save(root / c / f"{i}.jpg", quality=85)
    return root


@pytest.fixture
def decodes(monkeypatch):
    """(format, size) of every image PIL decodes while the test runs."""
    seen = []
    real = ImageFile.ImageFile.load

    def counting(self):
        if self.tile:  # pixels still to decode (a second load() of the same image does nothing)
            seen.append((self.format, self.size))
        return real(self)

    monkeypatch.setattr(ImageFile.ImageFile, "load", counting)
    return seen


def test_the_probe_of_jpegs_reads_their_headers_only(tmp_path, decodes):
    images = open_source(str(_jpegs(tmp_path / "data")))
    decodes.clear()
    kind = probe_kind(images)
    assert decodes == []
    assert (kind.channels, kind.dtype, kind.value_max, kind.arrays, kind.deep) == (3, "uint8", 255.0, False, False)
    assert (kind.width, kind.height, kind.count) == (*BIG, 12)
    assert detect_channels(images) == 3 and decodes == []


def test_grayscale_jpegs_are_told_from_their_headers(tmp_path, decodes):
    images = open_source(str(_jpegs(tmp_path / "data", per_class=3, size=(400, 300), mode="L")))
    decodes.clear()
    assert probe_kind(images).channels == 1 and detect_channels(images) == 1
    assert decodes == []


@pytest.mark.parametrize("model", ["smallcnn", "mobilenet_v3_small"])
def test_prepare_decodes_no_large_jpeg_at_full_size(tmp_path, decodes, model):
    data = _jpegs(tmp_path / "data")
    config = TrainConfig(data=str(data), model=model, weights="none", epochs=1, batch_size=4,
                         image_size=None if model == "smallcnn" else 96, out=str(tmp_path / "run"))
    events = []
    prepared = prepare(config, events.append)
    assert len(prepared.train_y) + len(prepared.val_y) == 12  # every image decoded for training
    jpegs = [size for fmt, size in decodes if fmt == "JPEG"]
    assert len(jpegs) == 12 and BIG not in jpegs  # each once, at reduced scale, for the decode cache
    assert all(max(size) <= BIG[0] // 4 for size in jpegs)
    if model == "smallcnn":  # its automatic size still comes from the images' own (median) size
        assert prepared.in_channels == 3 and prepared.preprocessing.crop == 64
        assert any("the images are 1200 px" in e.text for e in events if isinstance(e, Message))
    decodes.clear()
    prepare(config, events.append)  # a second run: every image from the decode cache
    assert decodes == []


def test_statistics_for_a_channel_choice_come_from_reduced_decodes(tmp_path, decodes):
    """--channels on photos standardises the chosen channel on the training images: read as
    training reads them (reduced scale), not at full size."""
    config = TrainConfig(data=str(_jpegs(tmp_path / "data")), model="smallcnn", weights="none", epochs=1,
                         batch_size=4, image_size=32, channels="2", out=str(tmp_path / "run"))
    prepared = prepare(config, lambda e: None)
    assert prepared.preprocessing.channel_select == [1] and len(prepared.preprocessing.mean) == 1
    jpegs = [size for fmt, size in decodes if fmt == "JPEG"]
    assert len(jpegs) > 12 and BIG not in jpegs  # the statistics' reads and the decode, all reduced


def test_thumbnails_of_large_jpegs_are_decoded_at_reduced_scale(tmp_path, decodes):
    images = open_source(str(_jpegs(tmp_path / "data", per_class=1)))
    decodes.clear()
    small = load_reduced(images, 0, 64)
    assert decodes == [("JPEG", small.size)] and max(small.size) <= BIG[0] // 8 and min(small.size) >= 64


def _tiffs(root, n=4, high=4095):
    import tifffile

    rng = np.random.default_rng(1)
    for c in ("a", "b"):
        (root / c).mkdir(parents=True)
        for i in range(n):
            planes = rng.integers(0, high + 1, (4, 24, 20)).astype(np.uint16)
            tifffile.imwrite(root / c / f"{i}.tif", planes, metadata={"axes": "CYX"})
    return root


def test_lab_images_are_read_once_then_their_kind_is_kept(tmp_path, monkeypatch):
    pytest.importorskip("tifffile")
    images = open_source(str(_tiffs(tmp_path / "data")))
    reads = []
    real = image_kind.load_image_file
    monkeypatch.setattr(image_kind, "load_image_file", lambda path, stack: reads.append(path) or real(path, stack))
    first = probe_kind(images)
    assert len(reads) == 8
    assert first.describe(len(images)) == "4 channels, 16-bit (12-bit values), 8 images"
    reads.clear()
    again = probe_kind(images)
    assert reads == [] and again == first  # nothing read again, the same facts
    changed = images.paths[0]
    import tifffile

    tifffile.imwrite(changed, np.full((4, 24, 20), 65535, np.uint16), metadata={"axes": "CYX"})
    os.utime(changed, ns=(os.stat(changed).st_atime_ns, os.stat(changed).st_mtime_ns + 10**9))
    reads.clear()
    assert probe_kind(images).value_bits == 16 and reads == [changed]  # a changed file is read again


def test_the_kind_is_not_kept_when_the_cache_is_off(tmp_path, monkeypatch):
    pytest.importorskip("tifffile")
    from tlgui.core.data import decode_cache

    monkeypatch.setattr(decode_cache, "limit_bytes", lambda: 0)
    images = open_source(str(_tiffs(tmp_path / "data", n=2)))
    probe_kind(images)
    assert not (decode_cache.decode_cache_dir() / "facts").exists()
    assert probe_kind(images).describe() == "4 channels, 16-bit (12-bit values)"
