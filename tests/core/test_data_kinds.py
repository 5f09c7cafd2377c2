"""Data sources as kinds: each spec goes to its kind, open_source only asks the registry, kinds stay
independent, no function in core/data imports tlgui, and a kind added in a temporary module with one
line is opened by open_source, ``tlgui scan`` and ``tlgui train``."""

from __future__ import annotations

import ast
import inspect
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from tests.core import kind_plugin
from tlgui.cli import main
from tlgui.core.base.errors import DataError
from tlgui.core.data import catalog
from tlgui.core.data.catalog import kind_of, open_source, register_kind, unregister_kind
from tlgui.core.data.idx import write_idx
from tlgui.core.data.kinds import csv_list, demo, idx_folder, image_folder, torchvision_set

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tlgui" / "core" / "data"


def image_folder_of(root: Path, counts: dict[str, int]) -> Path:
    rng = np.random.default_rng(1)
    for name, n in counts.items():
        (root / name).mkdir(parents=True)
        for i in range(n):
            Image.fromarray(rng.integers(0, 256, (10, 10), dtype=np.uint8)).save(root / name / f"{i}.png")
    return root


def idx_pair(folder: Path, prefix: str = "train", n: int = 12) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    write_idx(folder / f"{prefix}-images-idx3-ubyte", np.zeros((n, 8, 8), np.uint8))
    write_idx(folder / f"{prefix}-labels-idx1-ubyte", (np.arange(n) % 3).astype(np.uint8))


@pytest.fixture
def npy_kind(tmp_path):
    kind = kind_plugin.load_kind(tmp_path)
    register_kind(kind)  # the one line a new kind needs
    yield kind
    unregister_kind(kind)


def test_each_spec_goes_to_its_kind_and_says_what_it_is(tmp_path, monkeypatch):
    monkeypatch.setattr("tlgui.core.data.demo_images.make_demo",
                        lambda kind, seed=0, split="train": (np.zeros((4, 28, 28), np.uint8), np.arange(4) % 2,
                                                             ["a", "b"]))
    folder = image_folder_of(tmp_path / "pets", {"cat": 2, "dog": 2})
    (tmp_path / "list.csv").write_text("path,label\n" + "".join(
        f"{p},{p.parent.name}\n" for p in sorted(folder.rglob("*.png"))), encoding="utf-8")
    idx_pair(tmp_path / "digits")
    idx_pair(tmp_path / "tv" / "MNIST" / "raw")
    expected = {
        str(folder): image_folder, f" {folder} ": image_folder, str(tmp_path / "list.csv"): csv_list,
        f"csv:{tmp_path / 'list.csv'}": csv_list, str(tmp_path / "digits"): idx_folder,
        f"torchvision:MNIST:{tmp_path / 'tv'}": torchvision_set, "demo:target": demo,
    }
    for spec, kind in expected.items():
        assert kind_of(spec) is kind, spec
        images = open_source(spec)
        assert images.source == kind.DESCRIPTION and len(images) >= 4, spec
    assert len({kind.DESCRIPTION for kind in expected.values()}) == 5
    assert all("\n" not in kind.DESCRIPTION for kind in catalog.KINDS)
    # what no kind claims is taken for a folder, and the folder kind says what is wrong with it
    assert kind_of(str(tmp_path / "nowhere")) is image_folder
    with pytest.raises(DataError, match="data folder not found"):
        open_source(str(tmp_path / "nowhere"))


def test_open_source_only_asks_the_registry():
    lines = inspect.getsource(catalog.open_source).splitlines()
    assert len(lines) <= 15
    assert catalog.KINDS[-1] is image_folder  # the catch-all is asked last


def _imports(tree: ast.AST) -> list[tuple[ast.AST, str]]:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            found += [(node, node.module)] + [(node, f"{node.module}.{a.name}") for a in node.names]
    return found


def test_no_function_in_core_data_imports_tlgui():
    local = []
    for path in sorted(DATA.rglob("*.py")):
        for function in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef)):
                local += [f"{path.relative_to(ROOT)}:{node.lineno} {name}" for node, name in _imports(function)
                          if name.split(".")[0] == "tlgui"]
    assert local == []


def test_kinds_import_neither_each_other_nor_the_catalog():
    kinds = sorted(p.stem for p in (DATA / "kinds").glob("*.py") if p.stem != "__init__")
    assert kinds == ["csv_list", "demo", "idx_folder", "image_folder", "torchvision_set", "unlabelled_folder"]
    for kind in kinds:
        tree = ast.parse((DATA / "kinds" / f"{kind}.py").read_text(encoding="utf-8"))
        names = {name for _, name in _imports(tree)}
        assert not {n for n in names if n.startswith("tlgui.core.data.kinds.") or n == "tlgui.core.data.catalog"}, kind


lint_imports = shutil.which("lint-imports", path=str(Path(sys.executable).parent))


@pytest.mark.skipif(lint_imports is None, reason="import-linter is not installed (pip install -e '.[dev]')")
def test_an_import_between_kinds_breaks_the_contract(tmp_path):
    shutil.copytree(ROOT / "tlgui", tmp_path / "tlgui", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    csv_module = tmp_path / "tlgui" / "core" / "data" / "kinds" / "csv_list.py"
    csv_module.write_text(csv_module.read_text(encoding="utf-8") + "\nfrom tlgui.core.data.kinds import demo  # noqa\n",
                          encoding="utf-8")
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(tmp_path)}
    result = subprocess.run([lint_imports, "--no-cache"], cwd=tmp_path, env=env, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode != 0
    assert "kinds of data source do not import each other" in result.stdout and "BROKEN" in result.stdout
    assert "- tlgui.core.data.kinds.csv_list -> tlgui.core.data.kinds.demo" in result.stdout


def test_a_kind_added_with_one_line_is_opened_everywhere(npy_kind, tmp_path, capsys):
    data = kind_plugin.make_stacks(tmp_path / "stacks", {"ring": 10, "spot": 10, "bar": 12})
    assert kind_of(str(data)) is npy_kind and catalog.KINDS[0] is npy_kind
    images = open_source(str(data))
    assert images.classes == ["bar", "ring", "spot"] and images.counts() == {"bar": 12, "ring": 10, "spot": 10}
    assert images.source == npy_kind.DESCRIPTION and images.arrays.shape == (32, 12, 12)
    # an image folder beside it is still an image folder
    assert kind_of(str(image_folder_of(tmp_path / "pets", {"cat": 2, "dog": 2}))) is image_folder

    assert main(["scan", str(data), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["classes"] == ["bar", "ring", "spot"] and report["counts"]["bar"] == 12 and report["bad"] == []
    assert main(["scan", str(data)]) == 0
    text = capsys.readouterr().out
    assert f"{data}: 32 usable image(s) in 3 class(es)" in text
    assert f"  source: {npy_kind.DESCRIPTION}" in text and "No problems found." in text

    out = tmp_path / "run"
    assert main(["train", "--data", str(data), "--model", "smallcnn", "--epochs", "1", "--device", "cpu",
                 "--out", str(out), "--quiet"]) == 0
    assert json.loads((out / "summary.json").read_text(encoding="utf-8"))["status"] == "completed"
    assert torch.load(out / "model.pt", weights_only=True)["classes"] == ["bar", "ring", "spot"]
    assert json.loads((out / "config.json").read_text(encoding="utf-8"))["data"] == str(data)

    unregister_kind(npy_kind)  # unknown again: the folder kind says why it cannot open it
    with pytest.raises(DataError, match="holds no class sub-folders with images"):
        open_source(str(data))


def test_registering_again_moves_a_kind(npy_kind):
    register_kind(npy_kind, before=image_folder)
    assert catalog.KINDS[-2:] == [npy_kind, image_folder] and catalog.KINDS.count(npy_kind) == 1


def test_the_scan_names_the_kind_of_data(tmp_path, capsys):
    folder = image_folder_of(tmp_path / "pets", {"cat": 3, "dog": 2})
    assert main(["scan", str(folder)]) == 0
    assert f"  source: {image_folder.DESCRIPTION}" in capsys.readouterr().out
    listing = tmp_path / "list.csv"
    listing.write_text("path,label\npets/cat/0.png,cat\npets/dog/0.png,dog\nmissing.png,dog\n", encoding="utf-8")
    assert main(["scan", str(listing)]) == 0
    text = capsys.readouterr().out
    assert f"  source: {csv_list.DESCRIPTION}" in text and "Unreadable files (1" in text
    assert "missing.png: file not found" in text and "checked by their header" in text
    assert main(["scan", str(listing), "--val", str(folder)]) == 2
    err = capsys.readouterr().err
    assert "--val compares two image folders" in err and csv_list.DESCRIPTION in err


def test_an_unlabelled_folder_is_a_kind_of_its_own(tmp_path):
    from tlgui.core.data.kinds import unlabelled_folder

    root = tmp_path / "scans"
    (root / "plate 1" / "well A").mkdir(parents=True)
    for i, folder in enumerate([root, root / "plate 1", root / "plate 1" / "well A"]):
        Image.fromarray(np.full((8, 8), i * 40, dtype=np.uint8)).save(folder / f"img{i}.png")
    (root / ".DS_Store").write_bytes(b"\0")
    spec = f"unlabelled:{root}"
    assert kind_of(spec) is unlabelled_folder and kind_of(str(root)) is image_folder
    images = open_source(spec)
    assert images.source == unlabelled_folder.DESCRIPTION
    assert len(images.paths) == 3 and images.classes == [unlabelled_folder.CLASS]  # any depth, no system files
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DataError, match="holds no image files"):
        open_source(f"unlabelled:{empty}")
