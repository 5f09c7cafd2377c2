"""The on-disk decode cache, reduced-size JPEG decoding and the pixel limit."""

import numpy as np
import pytest
from PIL import Image

from tlgui.core.base.preprocessing import Preprocessing
from tlgui.core.data import sources
from tlgui.core.data.decode import decode_to_tensor
from tlgui.core.data.decode_cache import DecodeCache, cache_key
from tlgui.core.data.sources import ImageTooLarge, image_error_reason, read_image

PREP = Preprocessing(resize=32, crop=32, channels=3)


def _folder(tmp_path, n=4):
    paths = []
    for i in range(n):
        p = tmp_path / f"{i}.png"
        Image.fromarray(np.full((40, 40, 3), i * 40, np.uint8)).save(p)
        paths.append(str(p))
    return paths


class _Set:
    def __init__(self, paths):
        self.paths, self.arrays, self.name = paths, None, "t"
        self.labels = np.zeros(len(paths), np.int64)

    def describe(self, i):
        return self.paths[i]


def test_key_changes_with_the_file_and_the_preprocessing(tmp_path):
    path = _folder(tmp_path, 1)[0]
    key = cache_key(path, PREP)
    assert cache_key(path, Preprocessing(resize=64, crop=64, channels=3)) != key
    Image.fromarray(np.full((41, 40, 3), 7, np.uint8)).save(path)
    assert cache_key(path, PREP) != key


def test_second_decode_comes_from_the_cache_and_a_corrupt_entry_is_decoded_again(tmp_path):
    paths = _folder(tmp_path)
    cache = DecodeCache(tmp_path / "cache", limit=10**9)
    first, _, _ = decode_to_tensor(_Set(paths), np.arange(4), PREP, cache=cache)
    assert cache.writes == 4
    again = DecodeCache(tmp_path / "cache", limit=10**9)
    second, _, _ = decode_to_tensor(_Set(paths), np.arange(4), PREP, cache=again)
    assert again.hits == 4 and np.array_equal(first, second)
    entry = again._file(cache_key(paths[0], PREP))
    entry.write_bytes(b"garbage")
    third = DecodeCache(tmp_path / "cache", limit=10**9)
    out, _, _ = decode_to_tensor(_Set(paths), np.arange(4), PREP, cache=third)
    assert third.redecoded == 1 and third.hits == 3 and np.array_equal(out, first)


def test_unwritable_cache_is_reported_once_and_decoding_goes_on(tmp_path):
    paths = _folder(tmp_path)
    blocker = tmp_path / "cache"
    blocker.write_text("a file where the folder should be")
    cache = DecodeCache(blocker, limit=10**9)
    out, labels, bad = decode_to_tensor(_Set(paths), np.arange(4), PREP, cache=cache)
    assert len(out) == 4 and not bad and cache.problem and "cannot write" in cache.problem


def test_cache_is_trimmed_to_its_limit(tmp_path):
    paths = _folder(tmp_path)
    cache = DecodeCache(tmp_path / "cache", limit=1)
    decode_to_tensor(_Set(paths), np.arange(4), PREP, cache=cache)
    assert not list((tmp_path / "cache").glob("*/*.npy"))


def test_large_jpeg_is_decoded_at_reduced_size(tmp_path):
    path = tmp_path / "big.jpg"
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (1200, 1600, 3), np.uint8)).save(path, quality=90)
    image = read_image(str(path), target=100)
    assert 100 <= min(image.size) < 300
    assert read_image(str(path)).size == (1600, 1200)


def test_huge_png_is_skipped_with_a_reason_before_decoding(tmp_path, monkeypatch):
    path = tmp_path / "huge.png"
    Image.new("RGB", (400, 300)).save(path)
    monkeypatch.setattr(sources, "MAX_DECODED_PIXELS", 100_000)
    with pytest.raises(ImageTooLarge) as info:
        read_image(str(path))
    assert "400x300" in image_error_reason(info.value)
    _, _, bad = decode_to_tensor(_Set([str(path)]), np.arange(1), PREP, cache=None)
    assert bad and "too large" in bad[0][1]


def test_cli_cache_clear(tmp_path, capsys):
    from tlgui.cli import main

    paths = _folder(tmp_path)
    decode_to_tensor(_Set(paths), np.arange(4), PREP)  # the default cache under TLGUI_HOME
    assert main(["cache", "info"]) == 0 and "4 decoded" in capsys.readouterr().out
    assert main(["cache", "clear"]) == 0 and "removed 4" in capsys.readouterr().out


def test_the_limit_comes_from_the_settings_and_the_cli_sets_it(tmp_path, capsys):
    from tlgui.cli import main
    from tlgui.core.data.decode_cache import DEFAULT_LIMIT_GB, limit_bytes
    from tlgui.settings import load_settings

    assert limit_bytes() == int(DEFAULT_LIMIT_GB * 1024**3)  # nothing saved yet: the default
    assert main(["cache", "limit", "0.5"]) == 0 and "image cache limit: 0.5 GB" in capsys.readouterr().out
    assert load_settings().image_cache_limit_gb == 0.5 and limit_bytes() == 512 * 1024**2
    assert main(["cache", "info"]) == 0 and "limit 0.5 GB" in capsys.readouterr().out
    assert main(["cache", "limit", "-1"]) == 2 and "give a size of 0 or more" in capsys.readouterr().err
    assert main(["cache", "limit", "0"]) == 0 and "the cache is off" in capsys.readouterr().out
    paths = _folder(tmp_path)
    cache = DecodeCache()  # what a run makes: the limit from the settings
    decode_to_tensor(_Set(paths), np.arange(4), PREP, cache=cache)
    assert not cache.enabled and cache.writes == 0


def test_a_run_goes_on_without_a_broken_cache_and_says_so_once(tmp_path):
    from tlgui.core.base.config import TrainConfig
    from tlgui.core.base.events import Message
    from tlgui.core.data.decode_cache import decode_cache_dir
    from tlgui.core.training.loop import train

    from .learnable import image_folder

    blocker = decode_cache_dir()
    blocker.parent.mkdir(parents=True, exist_ok=True)
    blocker.write_text("a file where the cache folder should be")  # as a full or broken disk would
    data = image_folder(tmp_path / "data", per_class=8)
    events = []
    result = train(TrainConfig(data=str(data), model="smallcnn", epochs=1, batch_size=8, out=str(tmp_path / "run")),
                   events.append)
    assert result.status == "completed" and (tmp_path / "run" / "model.pt").is_file()
    notes = [e.text for e in events if isinstance(e, Message) and "image cache not used" in e.text]
    assert len(notes) == 1 and "cannot write to the image cache" in notes[0] and str(blocker) in notes[0]
    assert blocker.read_text() == "a file where the cache folder should be"  # nothing of the user's lost
