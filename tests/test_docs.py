"""The docs stay true to the code: the generated reference is current, links resolve, the README opens with
the commands CI runs, and the code docs/cells.md quotes is still where it says.

The error catalogue (docs/errors.md) is checked by the tests that run its cases:
tests/test_error_catalogue.py and tests/test_csv_errors.py.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
import make_docs  # noqa: E402  (scripts/ is not a package)

PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


def test_reference_md_is_current():
    """docs/reference.md is every command's --help as the code prints it now.

    Compared only where typer, click and rich are the releases it was rendered with: another release may lay
    out the same help differently, which is no fault of the code (the command list is checked below anyway).
    """
    recorded, installed = make_docs.recorded_help_library_versions(), make_docs.help_library_versions()
    if recorded != installed:
        pytest.skip(f"docs/reference.md was rendered with {recorded}; this machine has {installed}")
    current = make_docs.REFERENCE.read_text(encoding="utf-8")
    assert current == make_docs.render_reference(), f"docs/reference.md is stale; run: {make_docs.COMMAND}"


def test_the_module_map_of_architecture_md_is_current():
    """docs/architecture.md lists every module with the first paragraph of its docstring."""
    assert make_docs.sync_module_map() is None


def test_reference_md_has_every_command_of_the_app():
    import typer.main

    from rnncli.cli import app

    root = typer.main.get_command(app)
    headings = set(re.findall(r"^## (.+)$", make_docs.REFERENCE.read_text(encoding="utf-8"), flags=re.M))
    for path in make_docs._command_paths(root, []):
        assert f"rnn {' '.join(path)}" in headings, f"no section for rnn {' '.join(path)}; run: {make_docs.COMMAND}"


def test_the_readme_opens_with_the_two_commands_and_the_test_command_is_what_ci_runs():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    first_block = readme.split("```bash\n", 1)[1].split("```", 1)[0]
    assert readme.index("```bash") < readme.index("\n## "), "the commands come before any section"
    commands = [line for line in first_block.splitlines() if line and not line.startswith("#")]
    assert len(commands) == 2
    assert "rnn train sample_data/tinyworld.txt" in commands[0] and "rnn sample" in commands[0]
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    ci_test_command = ci[ci.index("# The README's test command, exactly:") + 1]
    assert commands[1] == ci_test_command, "the README's test command must be the one .ci/run runs"


def test_the_readme_is_short():
    assert len((ROOT / "README.md").read_text(encoding="utf-8").splitlines()) <= 200


def _anchors(page: Path) -> set[str]:
    """GitHub's anchors for the headings of a page (outside code blocks)."""
    text = re.sub(r"```.*?```", "", page.read_text(encoding="utf-8"), flags=re.S)
    anchors = set()
    for heading in re.findall(r"^#+ (.+)$", text, flags=re.M):
        anchors.add(re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-"))
    return anchors


@pytest.mark.parametrize("page", PAGES, ids=[p.relative_to(ROOT).as_posix() for p in PAGES])
def test_links_resolve(page):
    text = re.sub(r"```.*?```", "", page.read_text(encoding="utf-8"), flags=re.S)
    for target in LINK.findall(text):
        if re.match(r"[a-z]+:", target):
            continue
        path, _, anchor = target.partition("#")
        linked = (page.parent / path).resolve() if path else page
        assert linked.exists(), f"{page.name}: {target} does not exist"
        if anchor and linked.suffix == ".md":
            assert anchor in _anchors(linked), f"{page.name}: no heading #{anchor} in {linked.name}"


def test_cells_md_quotes_the_lines_it_names():
    """docs/cells.md shows code with `# cells.py:N`: line N of rnncli/core/cells.py must be that code."""
    source = (ROOT / "rnncli" / "core" / "cells.py").read_text(encoding="utf-8").splitlines()
    quoted = re.findall(
        r"^(.*?)#\s*cells\.py:(\d+)", (ROOT / "docs" / "cells.md").read_text(encoding="utf-8"), flags=re.M
    )
    assert len(quoted) > 20
    for code, number in quoted:
        code = code.split("  # ")[0].strip()
        assert source[int(number) - 1].strip().startswith(code), (
            f"docs/cells.md quotes cells.py:{number} as {code!r}, but that line is {source[int(number) - 1]!r}"
        )
