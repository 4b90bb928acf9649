"""docs/development.md's module map names every module of the package, and nothing else."""

import re

from .conftest import REPO
from .imports import PACKAGE

DOC = REPO / "docs" / "development.md"


def _mapped() -> list[str]:
    """The first cell of every row of the module table (after its `| module | concern |`)."""
    text = DOC.read_text()
    table = text[text.index("| module | concern |") :].split("\n\n", 1)[0]
    return re.findall(r"^\| `([\w/.]+)` \|", table, re.MULTILINE)


def test_the_module_map_lists_every_module_once():
    modules = sorted(
        path.relative_to(PACKAGE).as_posix()
        for path in PACKAGE.rglob("*.py")
        if path.name != "__init__.py"
    )
    mapped = _mapped()
    assert len(mapped) == len(set(mapped)), "a module listed twice"
    assert sorted(mapped) == modules


def test_every_sub_package_says_what_it_holds():
    for init in PACKAGE.rglob("__init__.py"):
        assert init.read_text().startswith('"""'), init
