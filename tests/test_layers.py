"""House rule: no upward import. The package is layered, foundations (the top-level modules) <
data < modeling < evaluation < commands, and a module imports only from its own layer or those
below it, so editing a score never reruns a stage below evaluate and no two sub-packages depend
on each other. Read from the source, lazy imports included."""

from pathlib import Path

from .imports import PACKAGE, package_imports

LAYERS = ["", "data", "modeling", "evaluation", "commands"]  # "": the top-level foundations


def _layer(module: Path) -> int:
    parts = module.relative_to(PACKAGE).parts
    return LAYERS.index(parts[0] if len(parts) > 1 else "")


def test_every_sub_package_is_a_layer():
    assert {p.name for p in PACKAGE.iterdir() if (p / "__init__.py").is_file()} == set(LAYERS[1:])


def upward(module: Path, imported: set[Path]) -> list[str]:
    """Each of `module`'s imports from a layer above its own, as "<module> imports <module>"."""
    return [
        f"{module.relative_to(PACKAGE)} imports {path.relative_to(PACKAGE)}"
        for path in sorted(imported)
        if _layer(path) > _layer(module)
    ]


def test_no_module_imports_from_a_layer_above_its_own():
    modules = sorted(PACKAGE.rglob("*.py"))
    assert len(modules) > 40
    assert [line for m in modules for line in upward(m, package_imports(m))] == []


def test_a_lazy_upward_import_is_caught(tmp_path):
    """export.py importing evaluation again, as it once did, inside a function."""
    source = tmp_path / "export.py"
    source.write_text("def f():\n    from genderface.evaluation.groups import group_scores\n")
    export = PACKAGE / "modeling" / "export.py"
    assert upward(export, package_imports(source)) == [
        "modeling/export.py imports evaluation/groups.py"
    ]
