"""The user guide cannot drift from the app: every command line in it parses with the real
argument parser, every link and picture resolves, every picture is one the screenshot script
makes, and the README stays a short front page (issue 29)."""

from __future__ import annotations

import ast
import re
import shlex
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
PAGES = sorted(DOCS.glob("*.md"))
MARKDOWN = [ROOT / "README.md", ROOT / "benchmarks" / "README.md", *PAGES]
LINK = re.compile(r"(!?)\[[^\]]*\]\(([^)\s]+)\)")
EXPECTED_PAGES = {
    "index.md", "getting-started.md", "your-data.md", "lab-images.md", "choosing-a-model.md", "training.md",
    "did-transfer-help.md", "results-and-labels.md", "predict-and-export.md", "command-line.md",
    "install-and-troubleshoot.md", "developers.md", "labelling.md",
}


def _code_blocks(text: str) -> list[str]:
    return re.findall(r"```(?:bash|sh)\n(.*?)```", text, flags=re.S)


def tlgui_command_lines(text: str) -> list[str]:
    """Every `tlgui ...` line in code blocks and inline code (comments and shell glue cut off)."""
    lines = []
    for block in _code_blocks(text):
        lines += [line.split("  #")[0].strip() for line in block.splitlines()]
    lines += re.findall(r"`(tlgui [^`]+)`", text)
    commands = []
    for line in lines:
        match = re.search(r"(?:^|\s|/)(tlgui|-m tlgui) (.*)$", line)
        if not match or line.startswith("#"):
            continue
        rest = re.split(r"\s(?:&&|\||;)\s", match.group(2))[0]
        commands.append(rest)
    return commands


def _is_synopsis(args: list[str]) -> bool:
    """A line that shows a choice (`a|b`, `[--x]`, `...`, `FILE`) rather than a real command."""
    return any("|" in a or a.startswith("[") or a.endswith("]") or "..." in a or "…" in a
               or (a.isupper() and len(a) > 1) or re.fullmatch(r"[A-Z_]+(\.\w+)?", a) for a in args)


def test_the_guide_has_its_pages_and_the_readme_is_short():
    assert EXPECTED_PAGES <= {p.name for p in PAGES}
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert len(readme.splitlines()) <= 150
    for page in EXPECTED_PAGES - {"index.md"}:
        assert f"docs/{page}" in readme, f"the README does not point to {page}"


@pytest.mark.parametrize("path", MARKDOWN, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_link_and_picture_resolves(path):
    text = path.read_text(encoding="utf-8")
    for is_image, target in LINK.findall(text):
        if re.match(r"[a-z]+:", target) or target.startswith("#"):
            continue
        file = (path.parent / target.split("#")[0]).resolve()
        assert file.exists(), f"{path.name} links to {target}, which does not exist"
        if is_image:
            assert file.suffix == ".png"


def test_every_picture_the_guide_uses_is_made_by_the_screenshot_script():
    script = ROOT / "tlgui" / "ui" / "shell" / "guide_screenshots.py"
    tree = ast.parse(script.read_text(encoding="utf-8"))
    shots = next(ast.literal_eval(node.value) for node in ast.walk(tree)
                 if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "SHOTS")
    used = {Path(target).name for page in PAGES for image, target in LINK.findall(page.read_text(encoding="utf-8"))
            if image and "images/" in target}
    assert used, "the guide shows no screenshots"
    assert used <= set(shots), f"pictures the script does not make: {sorted(used - set(shots))}"


def test_every_command_line_in_the_guide_parses():
    from tlgui.cli import build_parser

    parser = build_parser()
    checked = 0
    for path in MARKDOWN:
        for command in tlgui_command_lines(path.read_text(encoding="utf-8")):
            args = shlex.split(command)
            if not args or _is_synopsis(args):
                continue
            if len(args) <= 2 and not any(a.startswith("-") for a in args):
                args.append("--help")  # a command named in the text (`tlgui label next`): it must exist
            try:
                parser.parse_args(args)
            except SystemExit as exc:
                if exc.code == 0:  # --help and --version print and exit 0: they parsed
                    continue
                pytest.fail(f"{path.name}: 'tlgui {command}' does not parse (exit {exc.code})")
            checked += 1
    assert checked >= 20


def test_a_removed_option_would_fail_the_check():
    from tlgui.cli import build_parser

    with pytest.raises(SystemExit):
        build_parser().parse_args(shlex.split("train --data x --no-such-option 1 --out y"))
    assert tlgui_command_lines("```bash\ntlgui scan photos/ --json   # comment\n```") == ["scan photos/ --json"]
