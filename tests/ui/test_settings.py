"""User settings: round trip, migration, and tolerance of broken files."""

from __future__ import annotations

import json

import pytest

from tlgui import paths
from tlgui.settings import (
    SETTINGS_SCHEMA_VERSION,
    Settings,
    SettingsWarning,
    load_settings,
    migrate,
    save_settings,
)


def test_defaults_are_the_demo():
    s = load_settings()  # no file yet in this test's TLGUI_HOME
    assert (s.data, s.model, s.weights, s.freeze) == ("demo:target", "smallcnn", "demo:source", "none")
    assert s.schema_version == SETTINGS_SCHEMA_VERSION


def test_default_training_is_the_demo_recipe():
    from tlgui.core.workflows.demo import DEMO_BATCH_SIZE, DEMO_EPOCHS, DEMO_LR

    t = Settings().training
    assert (t["epochs"], t["batch_size"], t["lr"]) == (
        DEMO_EPOCHS, DEMO_BATCH_SIZE, DEMO_LR,
    )
    assert (t["optimizer"], t["schedule"]) == ("adam", "cosine")


def test_round_trip():
    s = Settings(model="resnet18", weights="default", data="/data/pets", val_data=None,
                 freeze="upto:layer3", bn_update_frozen=True, geometry="AAEC",
                 splitters={"mainSplitter": "AAAA"})
    s.training.update(epochs=7, lr=0.02, optimizer="sgd")
    assert save_settings(s)
    assert paths.settings_file().is_file()
    back = load_settings()
    assert back == s
    raw = json.loads(paths.settings_file().read_text())
    assert raw["schema_version"] == SETTINGS_SCHEMA_VERSION


@pytest.mark.parametrize(
    "content",
    [
        "{not json",
        "[1, 2, 3]",
        '{"model": 42}',
        '{"training": "fast"}',
        '{"schema_version": "two"}',
        b"\xff\xfe\x00garbage",
    ],
)
def test_corrupt_settings_are_ignored_with_a_warning(content):
    path = paths.settings_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)
    with pytest.warns(SettingsWarning):
        s = load_settings()
    assert s == Settings()


def test_settings_from_a_newer_version_are_ignored():
    path = paths.settings_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"schema_version": SETTINGS_SCHEMA_VERSION + 1, "model": "vgg11"}))
    with pytest.warns(SettingsWarning, match="newer"):
        assert load_settings() == Settings()


def test_migrate_from_version_1():
    old = {"schema_version": 1, "dataset": "/data/cats", "model": "resnet18", "epochs": 9, "lr": 0.1}
    new = migrate(dict(old))
    assert new["schema_version"] == SETTINGS_SCHEMA_VERSION
    assert new["data"] == "/data/cats"
    assert new["training"] == {"epochs": 9, "lr": 0.1}
    s = Settings.from_dict(old)
    assert s.data == "/data/cats" and s.training["epochs"] == 9
    assert s.training["optimizer"] == "adam"  # missing keys get defaults


def test_unknown_keys_are_dropped():
    s = Settings.from_dict({"schema_version": SETTINGS_SCHEMA_VERSION, "colour": "teal"})
    assert s == Settings()


def test_unwritable_settings_do_not_crash(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.warns(SettingsWarning):
        assert save_settings(Settings(), blocker / "sub" / "settings.json") is False


def test_image_values_round_trip_and_unknown_keys_are_dropped():
    from tlgui.settings import DEFAULT_IMAGE_VALUES, Settings

    chosen = {"channels": "1,2,4", "intensity": "fixed:100,4000", "stack": "max"}
    again = Settings.from_dict(Settings(image_values=dict(chosen)).to_dict())
    assert again.image_values == chosen
    older = Settings().to_dict()
    del older["image_values"]  # a settings file from before lab images
    assert Settings.from_dict(older).image_values == DEFAULT_IMAGE_VALUES
    odd = Settings.from_dict({**Settings().to_dict(), "image_values": {"channels": "2", "colour": "x"}})
    assert odd.image_values == {**DEFAULT_IMAGE_VALUES, "channels": "2"}
