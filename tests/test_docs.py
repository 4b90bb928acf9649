"""The documentation: README.md, DEVELOPERS.md and docs/*.md link only to files and headings that
exist, and the sections whose commands the slow tests run are where those tests look for them."""

import re
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
