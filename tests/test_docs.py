"""The documentation: README.md, DEVELOPERS.md and docs/*.md link only to files and headings that
exist, the sections whose commands the slow tests run are where those tests look for them, every
benchmark they quote exists and takes the flags quoted, and every figure names its command and
machine."""

import re
import subprocess
import sys
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

from . import test_branches, test_experiments, test_remote
from .conftest import MARKDOWN, REPO, doc_blocks

DOCS = [REPO / "README.md", REPO / "DEVELOPERS.md", *sorted((REPO / "docs").glob("*.md"))]


def _anchors(path: Path) -> set[str]:
    """The heading anchors GitHub gives a Markdown file: lower case, punctuation dropped, spaces
    to hyphens, a repeated heading suffixed -1, -2, ..."""
    tokens = MARKDOWN.parse(path.read_text())
    anchors: set[str] = set()
    for i, token in enumerate(tokens):
        if token.type != "heading_open":
            continue
        slug = re.sub(r"[^\w\- ]", "", tokens[i + 1].content.lower()).replace(" ", "-")
        anchor, n = slug, 0
        while anchor in anchors:
            n += 1
            anchor = f"{slug}-{n}"
        anchors.add(anchor)
    return anchors


def _links(path: Path) -> list[str]:
    """Every link and image target in a Markdown file (code spans and blocks are not links)."""
    targets = []
    for token in MARKDOWN.parse(path.read_text()):
        for child in token.children or []:
            if child.type == "link_open":
                targets.append(child.attrGet("href"))
            elif child.type == "image":
                targets.append(child.attrGet("src"))
    return targets


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.relative_to(REPO).as_posix())
def test_every_relative_link_points_to_an_existing_file_and_heading(doc):
    broken = []
    for target in _links(doc):
        parts = urlsplit(target)
        if parts.scheme or parts.netloc:
            continue
        linked = (doc.parent / unquote(parts.path)).resolve() if parts.path else doc
        if not linked.exists():
            broken.append(f"{target}: no such file")
        elif parts.fragment and parts.fragment not in _anchors(linked):
            broken.append(f"{target}: no heading #{parts.fragment} in {linked.name}")
    assert not broken, f"{doc.name}: {broken}"


def test_readme_links_every_page_of_docs():
    linked = {(REPO / urlsplit(target).path).resolve() for target in _links(REPO / "README.md")}
    assert set(DOCS[1:]) <= linked  # DEVELOPERS.md and every page of docs/


@pytest.mark.parametrize(
    ("doc", "heading"),
    [
        (test_remote.DOC, test_remote.SECTION),
        (test_experiments.DOC, test_experiments.SECTION),
        (test_branches.DOC, test_branches.SECTION),
    ],
)
def test_the_sections_the_slow_tests_run_hold_commands(doc, heading):
    blocks = doc_blocks(doc, heading)
    assert blocks and all(blocks), (doc, heading, blocks)


def test_doc_blocks_reads_one_section_as_a_user_types_it(tmp_path):
    page = tmp_path / "page.md"
    page.write_text(
        "# Page\n\n## Run\n\n```sh\n# a comment line\ndvc exp run \\\n"
        "    -S a=1   # trailing comment\n\ndvc push\n```\n\n"
        "### Sub\n\n```sh\ndvc pull\n```\n\n```\nnot sh\n```\n\n"
        "## Other\n\n```sh\ndvc status\n```\n"
    )
    assert doc_blocks(page, "Run") == [["dvc exp run -S a=1", "dvc push"], ["dvc pull"]]
    assert doc_blocks(page, "Page") == [
        ["dvc exp run -S a=1", "dvc push"],
        ["dvc pull"],
        ["dvc status"],
    ]
    with pytest.raises(AssertionError, match="0 headings titled 'Missing'"):
        doc_blocks(page, "Missing")


BENCHMARK = re.compile(r"python benchmarks/(\w+)\.py([^#`]*)")


def _code(path: Path) -> list[str]:
    """The text of every code span and code block of a Markdown file, a span's line breaks as
    spaces (a command quoted in prose may wrap)."""
    texts = []
    for token in MARKDOWN.parse(path.read_text()):
        if token.type in ("fence", "code_block"):
            texts.extend(token.content.splitlines())
        for child in token.children or []:
            if child.type == "code_inline":
                texts.append(child.content.replace("\n", " "))
    return texts


def _quoted_benchmarks() -> dict[str, set[str]]:
    """Each benchmark script a doc quotes as `python benchmarks/X.py ...`, with the flags quoted."""
    quoted: dict[str, set[str]] = {}
    for doc in DOCS:
        for text in _code(doc):
            for script, args in BENCHMARK.findall(text):
                flags = {word.partition("=")[0] for word in args.split() if word.startswith("--")}
                quoted.setdefault(script, set()).update(flags)
    return quoted


def test_the_docs_quote_benchmarks():
    assert {"pipeline", "bottleneck_cache", "cpu_precision", "predict"} <= set(_quoted_benchmarks())


@pytest.mark.parametrize("script", sorted(_quoted_benchmarks()))
def test_each_benchmark_the_docs_quote_exists_and_takes_the_flags_quoted(script):
    path = REPO / "benchmarks" / f"{script}.py"
    assert path.is_file(), f"the docs quote benchmarks/{script}.py, which does not exist"
    result = subprocess.run(
        [sys.executable, str(path), "--help"], capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr
    taken = set(re.findall(r"(?<![\w-])(--[\w-]+)", result.stdout))
    assert _quoted_benchmarks()[script] <= taken, (script, result.stdout)


# The bold names of docs/performance.md's Machines table: every figure says which one it ran on.
MACHINES = re.findall(
    r"^\| \*\*(.+?)\*\* \|", (REPO / "docs/performance.md").read_text(), re.MULTILINE
)
# A measured amount: a time, a rate, a ratio or a share ("519 s", "28.7 img/s", "64.7x", the same
# with the multiplication sign U+00D7, "99.8%").
FIGURE = re.compile(
    r"\b\d[\d,]*(?:\.\d+)? ?(?:s|ms|min|minutes|img/s|images/s|\u00d7|x|%)(?![\w/])"
)
COMMAND = re.compile(r"python benchmarks/\w+\.py|dvc exp run|dvc repro|genderface \w+")


def _sections(text: str, level: str) -> list[str]:
    return re.split(rf"^{level} ", text, flags=re.MULTILINE)[1:]


def test_the_performance_page_names_its_machines():
    assert {"Xeon bf16", "no-bf16 CPU", "bf16 CPU", "2-core CPU"} <= set(MACHINES)


@pytest.mark.parametrize(
    "section",
    _sections((REPO / "docs/performance.md").read_text(), "##"),
    ids=lambda section: section.splitlines()[0],
)
def test_each_figure_section_of_the_performance_page_has_a_command_and_a_machine(section):
    """A heuristic: a section that states a time, rate or ratio quotes the command that measures
    it and names the machine it ran on (the manual check reads each figure's own sentence)."""
    if not FIGURE.search(section):
        return
    assert COMMAND.search(section), section[:300]
    assert any(f"**{name}**" in section for name in MACHINES), section[:300]


def test_each_figure_the_readme_quotes_has_a_command_and_a_machine():
    readme = (REPO / "README.md").read_text()
    (measured,) = [s for s in _sections(readme, "##") if s.startswith("Measured here")]
    bullets = re.split(r"^- ", measured, flags=re.MULTILINE)[1:]
    assert bullets
    for bullet in bullets:
        assert FIGURE.search(bullet) and COMMAND.search(bullet), bullet
        assert any(name in bullet for name in MACHINES), bullet
