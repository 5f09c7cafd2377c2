"""The CI workflow that builds the installers on Linux, Windows and macOS (issue 28, B).

It cannot run here; this checks what can be checked without GitHub's runners: it parses, its
matrix names the three systems, every script a step runs exists in the repository, and the Linux
job runs the same build and smoke test as .ci/run."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

yaml = pytest.importorskip("yaml")

ROOT = Path(__file__).resolve().parents[2]
WORKFLOW = ROOT / ".github" / "workflows" / "installers.yml"
SCRIPT = re.compile(r"(?<![\w/])((?:packaging|\.ci|tlgui|tests)/[\w./-]+\.(?:py|sh|iss|spec)|\.ci/run)\b")


@pytest.fixture(scope="module")
def workflow() -> dict:
    return yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def steps(workflow) -> list[dict]:
    (job,) = workflow["jobs"].values()
    return job["steps"]


def _runs_on(steps: list[dict], system: str) -> list[str]:
    """The run scripts of the steps a job on ``system`` (Linux, Windows, macOS) executes."""
    return [s["run"] for s in steps if "run" in s and (system in s.get("if", system) or "if" not in s)]


def test_the_workflow_builds_on_the_three_systems(workflow):
    triggers = workflow.get("on", workflow.get(True))  # YAML 1.1 reads a bare `on` as true
    assert "workflow_dispatch" in triggers
    (job,) = workflow["jobs"].values()
    matrix = job["strategy"]["matrix"]["include"]
    assert {m["name"]: m["os"].split("-")[0] for m in matrix} == {
        "linux": "ubuntu", "windows": "windows", "macos": "macos"}
    assert job["runs-on"] == "${{ matrix.os }}" and job["strategy"]["fail-fast"] is False


def test_every_script_a_step_runs_is_in_the_repository(steps):
    named = set()
    for step in steps:
        for path in SCRIPT.findall(step.get("run", "")):
            named.add(path)
            assert (ROOT / path).is_file(), f"step {step.get('name')!r} runs {path}, which is not in the repository"
    assert {"packaging/build.py", "packaging/smoke_test.py"} <= named
    for step in steps:
        if "uses" in step:
            assert re.fullmatch(r"actions/[\w-]+@v\d+", step["uses"]), step["uses"]


def _ci_command(script: str) -> str:
    text = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    found = re.findall(rf"(python3 {re.escape(script)}[^&|\n;]*)", text)
    assert found, f".ci/run does not run {script}"
    return " ".join(shlex.split(found[0].rstrip(" \\")))  # a line may go on after a backslash


def test_the_linux_job_runs_what_ci_runs(steps):
    linux = [" ".join(shlex.split(run)) for run in _runs_on(steps, "Linux")]
    for script in ("packaging/build.py", "packaging/smoke_test.py"):
        assert _ci_command(script) in linux, f"the Linux job does not run .ci/run's {_ci_command(script)!r}"
    # and its --installed app is made as .ci/run makes it
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert ".venv/bin/pip install -q -e '.[test,export,timm]'" in ci
    assert any(".venv/bin/pip install -q -e '.[test,export,timm]'" in run for run in _runs_on(steps, "Linux"))


def test_windows_and_macos_build_their_installers_and_smoke_test_them(steps):
    windows = "\n".join(_runs_on(steps, "Windows"))
    assert "packaging/build.py --inno" in windows and "choco install innosetup" in windows
    assert "packaging/smoke_test.py dist" in windows and "--check-python .venv/Scripts/python.exe" in windows
    assert "-setup.exe" in windows and "/VERYSILENT" in windows  # the installer itself installs and starts
    mac = "\n".join(_runs_on(steps, "macOS"))
    assert "packaging/build.py" in mac and "packaging/smoke_test.py dist" in mac
    assert "codesign --verify" in mac
    assert (ROOT / "packaging" / "windows" / "tlgui.iss").is_file()


def test_nothing_claims_the_windows_and_macos_jobs_were_run_here():
    header = WORKFLOW.read_text(encoding="utf-8").split("name: installers")[0]
    assert "have not been run" in header
