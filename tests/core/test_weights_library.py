"""The weights library: listing published entries, recognising and importing weight files."""

from __future__ import annotations

import json
import os
import shutil
import threading
from pathlib import Path

import pytest
import torch
import torchvision

from tlgui.cli import main
from tlgui.core.base.cancel import Cancelled
from tlgui.core.base.checksums import sha256_of
from tlgui.core.base.errors import WeightsError
from tlgui.core.library.catalog import find_entry, library_dirs, list_custom_weights, list_weights
from tlgui.core.library.importing import import_weights
from tlgui.core.library.local import default_weights_path
from tlgui.core.library.recognise import (
    compare_with,
    name_candidates,
    recognise_file,
    recognise_state,
)
from tlgui.core.models.safe_load import safe_load
from tlgui.core.models.state_dicts import extract_state_dict, load_into_model, normalise_keys
from tlgui.core.models.zoo import SmallCNN, build_model, list_architectures, weight_entries
from tlgui.paths import weights_dir

ARCH = "mobilenet_v3_small"  # the smallest torchvision model with published weights (10 MB)
ENTRY = torchvision.models.MobileNet_V3_Small_Weights.IMAGENET1K_V1


@pytest.fixture(scope="session")
def mobilenet_file(tmp_path_factory):
    """A random-weights mobilenet_v3_small state dict on disk, and its sha256."""
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("weights") / "mobilenet.pth"
    torch.save(build_model(ARCH, 1000).state_dict(), path)
    return path, sha256_of(path)


def copy_as(src, folder, name):
    folder.mkdir(parents=True, exist_ok=True)
    return shutil.copyfile(src, folder / name)


@pytest.fixture
def published(monkeypatch, mobilenet_file):
    """Make our random file *the* published mobilenet_v3_small file (its URL carries our hash)."""
    _, sha = mobilenet_file
    name = f"mobilenet_v3_small-{sha[:8]}.pth"
    monkeypatch.setattr(ENTRY.value, "url", f"https://download.pytorch.org/models/{name}")
    return name


def library_files():
    root = weights_dir()
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()) if root.exists() else []


# ------------------------------------------------------------------ listing


def test_list_covers_every_published_entry_without_files():
    rows = list_weights()
    archs_with_weights = {a for a in list_architectures() if weight_entries(a)}
    assert {r.architecture for r in rows} == archs_with_weights
    assert len(archs_with_weights) > 70
    r18 = next(r for r in rows if r.architecture == "resnet18" and r.entry == "IMAGENET1K_V1")
    assert r18.file_name == "resnet18-f37072fd.pth"
    assert not r18.present and r18.path is None
    assert r18.acc1 == pytest.approx(69.758)
    assert r18.num_params == 11689512
    assert r18.is_default
    assert 44 * 2**20 < r18.size_bytes < 46 * 2**20  # torchvision's published _file_size
    assert r18.to_dict()["present"] is False
    r50 = [r for r in rows if r.architecture == "resnet50"]
    assert {r.entry for r in r50} == {"IMAGENET1K_V1", "IMAGENET1K_V2"}
    assert [r.entry for r in r50 if r.is_default] == ["IMAGENET1K_V2"]


def test_list_sees_files_in_hub_cache_and_library():
    hub = library_dirs()[1]
    hub.mkdir(parents=True)
    (hub / "resnet18-f37072fd.pth").write_bytes(b"x" * 1234)
    weights_dir().mkdir(parents=True)
    (weights_dir() / "alexnet-owt-7be5be79.pth").write_bytes(b"y" * 99)
    rows = {(r.architecture, r.entry): r for r in list_weights(["resnet18", "alexnet", "smallcnn"])}
    assert set(rows) == {("resnet18", "IMAGENET1K_V1"), ("alexnet", "IMAGENET1K_V1")}
    assert rows["resnet18", "IMAGENET1K_V1"].path == str(hub / "resnet18-f37072fd.pth")
    assert rows["resnet18", "IMAGENET1K_V1"].size_bytes == 1234  # the file's own size
    assert rows["alexnet", "IMAGENET1K_V1"].size_bytes == 99


def test_library_dirs_import_target_first():
    dirs = library_dirs()
    assert dirs[0] == weights_dir()
    assert dirs[1] == Path(torch.hub.get_dir()) / "checkpoints"
    assert str(dirs[1]).startswith(os.environ["TORCH_HOME"])  # the test's temp dir


def test_find_entry():
    assert find_entry("resnet50").name == "IMAGENET1K_V2"
    assert find_entry("resnet50", "imagenet1k_v1").name == "IMAGENET1K_V1"
    with pytest.raises(WeightsError, match="has no weights entry 'V9'; it has IMAGENET1K_V1"):
        find_entry("resnet18", "V9")
    with pytest.raises(WeightsError, match="no pretrained weights for smallcnn"):
        find_entry("smallcnn")


# ------------------------------------------------------------------ recognising


def test_name_candidates():
    assert name_candidates("resnet18-f37072fd.pth")[0] == "resnet18"
    assert name_candidates("mnasnet0.5_top1_67.823-3ffadce67e.pth")[0] == "mnasnet0_5"
    assert name_candidates("shufflenetv2_x1-5666bf0f80.pth")[0] == "shufflenet_v2_x1_0"
    assert name_candidates("resnet50_finetuned_cells.pth")[0] == "resnet50"
    assert name_candidates("weights.pth") == []


@pytest.mark.parametrize(
    ("arch", "classes"),
    [("resnet18", 1000), ("resnet34", 1000), ("mobilenet_v3_small", 10), ("vit_b_32", 1000), ("squeezenet1_1", 3),
     ("smallcnn", 4)],
)
def test_recognise_by_content_on_meta(arch, classes):
    state = build_model(arch, classes, device="meta").state_dict()
    found = recognise_state(state, "anything.pth")
    assert (found.architecture, found.num_classes) == (arch, classes)


def test_recognise_aux_heads_and_legacy_densenet_keys():
    googlenet = torchvision.models.googlenet(weights=None, aux_logits=True, init_weights=False).to("meta")
    assert recognise_state(googlenet.state_dict(), "googlenet-1378be20.pth").architecture == "googlenet"
    # torchvision's published DenseNet files use the old "norm.1" layer names
    state = build_model("densenet121", 1000, device="meta").state_dict()
    legacy = {k.replace("norm1", "norm.1").replace("conv2", "conv.2"): v for k, v in state.items()}
    assert legacy != state
    assert normalise_keys(legacy).keys() == state.keys()
    assert recognise_state(legacy, "densenet121-a639ec97.pth").architecture == "densenet121"


def test_unrecognised_state_dict_explains():
    state = {f"net.{k}": v for k, v in build_model("squeezenet1_1", 1000, device="meta").state_dict().items()}
    found = recognise_state(state, "weights.pth")
    assert found.architecture is None
    assert "match no known architecture" in found.reason and "'net'" in found.reason


def test_compare_with_explains_in_plain_words():
    narrow = SmallCNN(num_classes=3, in_channels=1, width=16).state_dict()
    fit = compare_with("smallcnn", narrow, "narrow.pth")
    assert not fit.ok
    assert ("weights in narrow.pth do not fit smallcnn: "
            "features.0.0.weight (16, 1, 3, 3) vs model (32, 1, 3, 3)") in fit.problem
    r18 = build_model("resnet18", 1000, device="meta").state_dict()
    assert "lack layers resnet34 needs: layer1.2.conv1.weight" in compare_with("resnet34", r18).problem
    r34 = build_model("resnet34", 1000, device="meta").state_dict()
    assert "have layers resnet18 does not" in compare_with("resnet18", r34).problem


# ------------------------------------------------------------------ importing


def test_import_published_file_then_default_finds_it(tmp_path, mobilenet_file, published):
    src = copy_as(mobilenet_file[0], tmp_path, published)
    result = import_weights(src)
    assert result.kind == "torchvision" and result.entry == "IMAGENET1K_V1"
    assert result.path == weights_dir() / published and result.path.is_file()
    assert not result.already_present
    assert "--weights default" in result.message
    assert default_weights_path(ARCH)[0] == result.path
    row = next(r for r in list_weights([ARCH]) if r.entry == "IMAGENET1K_V1")
    assert row.present and row.size_bytes == src.stat().st_size
    again = import_weights(src)
    assert again.already_present and again.path == result.path
    assert library_files() == [published]


def test_import_renamed_published_file_is_recognised_by_content(tmp_path, mobilenet_file, published):
    src = copy_as(mobilenet_file[0], tmp_path, "download (1).pth")
    result = import_weights(src)
    assert (result.kind, result.architecture, result.entry) == ("torchvision", ARCH, "IMAGENET1K_V1")
    assert result.path.name == published  # stored under torchvision's name


def test_import_right_layout_but_not_the_published_file_is_custom(tmp_path, mobilenet_file):
    sha = mobilenet_file[1]
    name = f"mobilenet_v3_small-{sha[:8]}.pth"  # verified name, but not torchvision's hash
    result = import_weights(copy_as(mobilenet_file[0], tmp_path, name))
    assert result.kind == "custom" and result.architecture == ARCH and result.num_classes == 1000
    assert result.path == weights_dir() / "custom" / name
    assert "is not torchvision's published file (mobilenet_v3_small-047dcff4.pth)" in result.message
    sidecar = json.loads(result.path.with_suffix(".json").read_text())
    assert sidecar["architecture"] == ARCH and sidecar["sha256"] == sha
    assert [c.architecture for c in list_custom_weights()] == [ARCH]
    # usable as --weights FILE for a new task
    model = build_model(ARCH, 5)
    report = load_into_model(model, extract_state_dict(safe_load(result.path), result.path), "classifier.3", False, "x")
    assert "fresh classifier head" in report.message


def test_import_wrong_hash_is_refused(tmp_path, mobilenet_file):
    src = copy_as(mobilenet_file[0], tmp_path, "mobilenet_v3_small-00000000.pth")
    with pytest.raises(WeightsError, match="the checksum does not match"):
        import_weights(src)
    assert library_files() == []  # no temp file left either


def test_import_canonical_name_with_other_content_is_refused(tmp_path, mobilenet_file):
    # a file named exactly like torchvision's, whose content does not carry that hash
    src = copy_as(mobilenet_file[0], tmp_path, "resnet18-f37072fd.pth")
    with pytest.raises(WeightsError, match="checksum does not match"):
        import_weights(src)
    assert library_files() == []


def test_import_custom_named_architecture_and_unrecognised(tmp_path):
    torch.manual_seed(1)
    src = tmp_path / "mnist model.pth"
    torch.save({"state_dict": SmallCNN(num_classes=10, in_channels=1).state_dict()}, src)
    result = import_weights(src, "smallcnn")
    assert result.kind == "custom" and result.num_classes == 10
    sha = sha256_of(src)
    assert result.path.name == f"mnist_model-{sha[:8]}.pth"  # verifiable name, no collisions
    assert json.loads(result.path.with_suffix(".json").read_text())["in_channels"] == 1
    # recognised without --arch too (same file, so already present)
    assert import_weights(src).already_present
    junk = tmp_path / "junk.pth"
    torch.save({"encoder.weight": torch.zeros(4, 4)}, junk)
    with pytest.raises(WeightsError, match="cannot tell which architecture.*--arch NAME"):
        import_weights(junk)


def test_import_wrong_architecture_is_explained(tmp_path, mobilenet_file):
    src = copy_as(mobilenet_file[0], tmp_path, "x.pth")
    with pytest.raises(WeightsError, match="lack layers resnet18 needs: conv1.weight"):
        import_weights(src, "resnet18")
    assert library_files() == []


@pytest.mark.parametrize("kind", ["missing", "folder", "empty", "text", "list"])
def test_import_refuses_non_weight_files(tmp_path, kind):
    path = tmp_path / "w.pth"
    if kind == "folder":
        path.mkdir()
    elif kind == "empty":
        path.write_bytes(b"")
    elif kind == "text":
        path.write_text("hello, not weights")
    elif kind == "list":
        torch.save([1, 2, 3], path)
    with pytest.raises(WeightsError) as info:
        import_weights(path)
    assert str(info.value).count("\n") == 0
    assert library_files() == []


def test_import_never_overwrites_a_different_file(tmp_path, mobilenet_file, published):
    target = weights_dir() / published
    target.parent.mkdir(parents=True)
    target.write_bytes(b"someone else's file")
    with pytest.raises(WeightsError, match="a different file named .* is already in"):
        import_weights(copy_as(mobilenet_file[0], tmp_path, published))
    assert target.read_bytes() == b"someone else's file"
    assert library_files() == [published]


def test_import_progress_and_cancel(tmp_path, mobilenet_file):
    src = copy_as(mobilenet_file[0], tmp_path, "m.pth")
    calls = []
    result = import_weights(src, progress=lambda d, t: calls.append((d, t)))
    size = src.stat().st_size
    assert calls[-1] == (size, size) and all(t == size for _, t in calls)
    cancel = threading.Event()

    def stop_soon(done, total):
        cancel.set()

    result.path.unlink()
    result.path.with_suffix(".json").unlink()
    with pytest.raises(Cancelled):
        import_weights(src, progress=stop_soon, cancel=cancel)
    assert library_files() == []


def test_import_tlgui_model_goes_to_my_models(tmp_path):
    from tlgui.core.base.files import atomic_save
    from tlgui.core.library.my_models import list_my_models
    from tlgui.core.models.checkpoint import make_checkpoint
    from tlgui.paths import models_dir

    ckpt = make_checkpoint(SmallCNN(3, 1), "smallcnn", ["a", "b", "c"], 1, "fc", {"resize": 28}, {"data": "x"})
    atomic_save(ckpt, tmp_path / "cells" / "model.pt")
    result = import_weights(tmp_path / "cells" / "model.pt")
    assert result.kind == "model" and result.path == models_dir() / "cells" / "model.pt"
    assert [(m.name, m.classes) for m in list_my_models()] == [("cells", ("a", "b", "c"))]


def test_recognise_file(tmp_path, mobilenet_file):
    found = recognise_file(copy_as(mobilenet_file[0], tmp_path, "mobilenet_v3_small-12345678.pth"))
    assert found.architecture == ARCH and found.by_name


# ------------------------------------------------------------------ CLI


def test_cli_import_list_path(tmp_path, capsys, mobilenet_file, published):
    assert main(["weights", "list"]) == 0
    out = capsys.readouterr().out
    assert "none of torchvision's published weight files" in out and "more have published weights" in out
    src = copy_as(mobilenet_file[0], tmp_path, published)
    assert main(["weights", "import", str(src)]) == 0
    assert "torchvision's mobilenet_v3_small IMAGENET1K_V1" in capsys.readouterr().out
    assert main(["weights", "list"]) == 0
    out = capsys.readouterr().out
    assert ARCH in out and str(weights_dir() / published) in out and "1 architecture(s) with local weights" in out
    assert main(["weights", "list", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [e["file_name"] for e in data["entries"]] == [published]
    assert data["architectures_with_local_weights"] == [ARCH]
    assert main(["weights", "list", "--all", "--json"]) == 0
    assert len(json.loads(capsys.readouterr().out)["entries"]) == len(list_weights())
    assert main(["weights", "path"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines == [str(d) for d in library_dirs()] and lines[0] == str(weights_dir())


def test_cli_import_refusals_exit_2_with_one_line(tmp_path, capsys, mobilenet_file):
    src = copy_as(mobilenet_file[0], tmp_path, "mobilenet_v3_small-00000000.pth")
    assert main(["weights", "import", str(src)]) == 2
    err = capsys.readouterr().err
    assert "checksum does not match" in err and err.count("\n") == 1
    assert main(["weights", "import", str(src.with_name("nope.pth"))]) == 2
    assert "not found" in capsys.readouterr().err
    narrow = tmp_path / "narrow.pth"
    torch.save(SmallCNN(3, 1, width=16).state_dict(), narrow)
    assert main(["weights", "import", str(narrow), "--arch", "smallcnn"]) == 2
    err = capsys.readouterr().err
    assert "do not fit smallcnn: features.0.0.weight (16, 1, 3, 3) vs model (32, 1, 3, 3)" in err
    assert main(["weights", "import", str(narrow), "--arch", "resnet99"]) == 2
    assert "unknown model 'resnet99'" in capsys.readouterr().err


def test_import_of_a_file_already_in_the_hub_cache(tmp_path, mobilenet_file, published):
    copy_as(mobilenet_file[0], library_dirs()[1], published)
    result = import_weights(copy_as(mobilenet_file[0], tmp_path, published))
    assert result.already_present and result.path == library_dirs()[1] / published
    assert library_files() == []  # no second copy
