"""The package's own imports, read from the source (never by importing it): which modules a
stage script runs, for the dvc.yaml, rerun-scope and module-map tests."""

import ast
from pathlib import Path

from .conftest import REPO

SRC = REPO / "src"
PACKAGE = SRC / "genderface"


def module_file(name: str) -> Path | None:
    """genderface.data.shards -> src/genderface/data/shards.py; None for a package or other."""
    path = SRC.joinpath(*name.split(".")).with_suffix(".py")
    return path if path.is_file() else None


def package_imports(path: Path) -> set[Path]:
    """Files of the package's modules that `path` imports (at any depth of the code)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    found = {module_file(n) for n in names if n.startswith("genderface.")}
    return {f for f in found if f is not None}


def modules_used(script: Path) -> set[Path]:
    """Package module files the script imports, followed transitively. Package __init__ files
    are not followed: they hold docstrings."""
    seen: set[Path] = set()
    todo = package_imports(script)
    while todo:
        module = todo.pop()
        if module not in seen:
            seen.add(module)
            todo |= package_imports(module)
    return seen


def repo_relative(paths: set[Path]) -> set[str]:
    return {path.relative_to(REPO).as_posix() for path in paths}
