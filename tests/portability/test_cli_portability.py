"""The command line as a Windows or macOS user runs it (issue 28, A.1, A.2, A.4).

Data, run folders, exports and tlgui's home all live under ``Données/細胞 1/`` (non-ASCII, a
space); DataLoader workers start with ``spawn`` (``--num-workers 2``; the data is read on demand,
so the workers are really used); one interpreter runs with ``-X warn_default_encoding`` and
reports any EncodingWarning raised in tlgui's own code. Steps: a run stopped after its first
epoch, resumed from the CLI; evaluate; predict; the three exports; the bundle's own predict.py;
explain; a head-only run through the feature cache. Small on purpose: 24 images of 16 px.
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.core.learnable import image_folder

ROOT = Path(__file__).resolve().parents[2]
DRIVER = Path(__file__).with_name("driver.py")


def _env(home: Path) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
            "TLGUI_HOME": str(home), "TORCH_HOME": str(home / "torch"), "TLGUI_MEMORY_BUDGET_MB": "0",
            "OMP_NUM_THREADS": "1", "QT_QPA_PLATFORM": "offscreen"}


@pytest.fixture
def place(tmp_path):
    root = tmp_path / "Données" / "細胞 1"
    data = image_folder(root / "images de test", per_class=8)
    return root, data


def _drive(root: Path, commands: list, timeout: int = 600) -> subprocess.CompletedProcess:
    plan = root / "commandes.json"
    plan.write_text(json.dumps(commands, ensure_ascii=False), encoding="utf-8")
    return subprocess.run([sys.executable, "-X", "warn_default_encoding", str(DRIVER), str(plan)],
                          capture_output=True, text=True, encoding="utf-8", errors="replace",
                          env=_env(root / "maison tlgui"), cwd=root, timeout=timeout, check=False)


def _no_tlgui_encoding_warning(done: subprocess.CompletedProcess) -> None:
    found = [line for line in done.stderr.splitlines() if line.startswith("TLGUI-ENCODING-WARNING")]
    assert not found, "\n".join(found)


def test_train_resume_evaluate_predict_export_explain_under_a_non_ascii_path_with_spawned_workers(place):
    root, data = place
    run = root / "runs" / "première run"
    model = run / "model.pt"
    exports = root / "exports é"
    image = data / "horizontal" / "000.png"
    config = {"data": str(data), "model": "smallcnn", "epochs": 2, "batch_size": 8, "num_workers": 2,
              "out": str(run)}
    commands = [
        {"train_and_stop": config},
        ["train", str(run / "config.json"), "--resume", "--quiet"],
        ["evaluate", str(run), "--json"],
        ["predict", str(model), str(data / "vertical"), "--quiet", "--csv", str(root / "prédictions.csv")],
        ["export", str(model), "--format", "torchscript", "--out", str(exports / "modèle.ts"), "--quiet"],
        ["export", str(model), "--format", "onnx", "--out", str(exports / "modèle.onnx"), "--quiet"],
        ["export", str(model), "--format", "bundle", "--out", str(exports / "paquet 1"), "--quiet"],
        ["explain", str(model), str(image), "--out", str(root / "cartes de chaleur"), "--json"],
        ["train", "--data", str(data), "--model", "smallcnn", "--freeze", "backbone", "--epochs", "1",
         "--batch-size", "8", "--num-workers", "2", "--out", str(root / "runs" / "tête seule"), "--quiet"],
    ]
    done = _drive(root, commands)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    reports = [json.loads(line) for line in done.stdout.splitlines() if line.startswith('{"')]
    assert reports[0] == {"stopped_run": "stopped"}
    assert [r["rc"] for r in reports[1:] if "rc" in r] == [0] * (len(commands) - 1)
    _no_tlgui_encoding_warning(done)

    summary = json.loads((run / "summary.json").read_text(encoding="utf-8"))
    assert summary["status"] == "completed" and summary["epochs_completed"] == 2  # resumed, not restarted
    saved = json.loads((run / "config.json").read_text(encoding="utf-8"))
    assert saved["num_workers"] == 2 and saved["out"] == str(run)
    with open(run / "split.csv", newline="", encoding="utf-8") as handle:
        paths = [row["path"] for row in csv.DictReader(handle)]
    assert len(paths) == 24 and all(Path(p).is_file() for p in paths)
    with open(root / "prédictions.csv", newline="", encoding="utf-8") as handle:
        assert len(list(csv.DictReader(handle))) == 8
    assert (exports / "modèle.ts").stat().st_size > 0 and (exports / "modèle.onnx").stat().st_size > 0
    assert list((root / "cartes de chaleur").glob("*.png"))
    summary = json.loads((root / "runs" / "tête seule" / "summary.json").read_text(encoding="utf-8"))
    assert summary["status"] == "completed"

    # the bundle's own script, run from its non-ASCII folder as its README says
    bundle = subprocess.run([sys.executable, "-X", "warn_default_encoding", "predict.py", str(image)],
                            capture_output=True, text=True, encoding="utf-8", errors="replace",
                            cwd=exports / "paquet 1", env=_env(root / "maison tlgui"), timeout=300, check=False)
    assert bundle.returncode == 0, bundle.stderr[-2000:]
    assert "000.png" in bundle.stdout
    # its code names every encoding (third-party modules it imports may not: not ours to judge)
    assert not [line for line in bundle.stderr.splitlines() if "EncodingWarning" in line and "paquet 1" in line]


def test_importing_every_module_of_tlgui_opens_no_text_file_without_an_encoding(tmp_path):
    code = (
        "import importlib, pkgutil, sys, runpy\n"
        "sys.argv = ['driver', sys.argv[1]]\n"
        f"driver = runpy.run_path({str(DRIVER)!r})\n"
        "driver['_report_tlgui_encoding_warnings']()\n"
        "import tlgui\n"
        "names = [m.name for m in pkgutil.walk_packages(tlgui.__path__, 'tlgui.')]\n"
        "for name in names:\n"
        "    if '.export_bundle.' not in name:  # the bundle's scripts run on their own, elsewhere\n"
        "        importlib.import_module(name)\n"
        "print(len(names))\n"
    )
    done = subprocess.run([sys.executable, "-X", "warn_default_encoding", "-c", code, "unused"],
                          capture_output=True, text=True, encoding="utf-8", errors="replace",
                          env=_env(tmp_path), cwd=tmp_path, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    assert int(done.stdout.split()[-1]) > 100
    _no_tlgui_encoding_warning(done)
