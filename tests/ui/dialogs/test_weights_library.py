"""What the weights dialog reads and says (dialogs/weights_library): the reason an import could
not tell a file's architecture, the sentences it shows, and a row's identity across refreshes."""

from __future__ import annotations

from types import SimpleNamespace

from tlgui.core.library.importing import WeightsError
from tlgui.ui.dialogs.weights_library import row_key, sentence, unknown_architecture


def test_the_reason_is_read_from_the_cores_own_message():
    error = WeightsError("w.pth: cannot tell which architecture these weights are for (no known layout matches); "
                         "name it with --arch NAME")
    assert unknown_architecture(str(error)) == "no known layout matches"
    assert unknown_architecture("w.pth is not a weight file") is None


def test_sentences_speak_of_the_button_and_end_with_a_full_stop():
    assert sentence("  the file is too small") == "The file is too small."
    assert sentence("no luck; use 'tlgui weights import FILE'") == "No luck; use “Import file…” here."
    assert sentence("Done!") == "Done!"


def test_a_row_is_known_by_its_entry_or_else_its_file():
    entry = SimpleNamespace(architecture="resnet18", entry="IMAGENET1K_V1", path=None)
    custom = SimpleNamespace(architecture="resnet18", path="/lib/custom.pth")
    assert row_key(entry) == ("resnet18", "IMAGENET1K_V1")
    assert row_key(SimpleNamespace(**{**vars(entry), "path": "/lib/r18.pth"})) == row_key(entry)  # file appeared
    assert row_key(custom) == ("resnet18", "/lib/custom.pth")
    assert row_key(None) is None
