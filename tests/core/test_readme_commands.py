"""``.ci/run`` runs the README's test command after installing only what the README tells a user
to install, so a green CI proves the README on a clean machine (issue 21)."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _readme_test_block() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text[text.index("Install and run the test suite"):]
    start = section.index("```bash\n") + len("```bash\n")
    block = section[start:section.index("```\n", section.index("```bash\n") + 7)]
    return [line for line in block.splitlines() if line.strip()]


def _apt_packages(line: str) -> list[str]:
    """The package names after "install" (options, redirections and the like left out)."""
    words = (w.strip("();&") for w in line.split("install", 1)[1].split())
    return [w for w in words if re.fullmatch(r"[a-z0-9][a-z0-9.+-]+", w)]


def _ci_before_the_suite() -> tuple[str, str]:
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    test_command = _readme_test_block()[-1]
    assert test_command in ci, "the README's test command is not what .ci/run runs"
    return ci[:ci.index(test_command)], ci


def test_ci_runs_the_readmes_test_command_after_installing_only_what_the_readme_names():
    install, command = _readme_test_block()
    assert install.startswith("sudo apt-get install ") and command.startswith("python3 -m venv .venv")
    before, _ = _ci_before_the_suite()
    ci_packages = [p for line in before.splitlines() if "apt_get install" in line for p in _apt_packages(line)]
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    optional = _apt_packages(
        "install " + re.search(r"`sudo apt-get install ([^`]+)` adds the tests on real images", readme)[1])
    assert sorted(ci_packages) == sorted(_apt_packages(install) + optional)


def test_the_readme_names_what_the_window_needs():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "## If the window does not open" in readme
    window = readme[readme.index("## If the window does not open"):]
    window = window[:window.index("\n## ")]
    for package in ("libxcb-icccm4", "libxcb-keysyms1", "libxcb-cursor0", "xcb-util-wm", "xcb-util-keysyms"):
        assert package in window
    assert "tlgui doctor" in window
