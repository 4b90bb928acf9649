"""What every benchmark starts from: the machine line, the sample archive argument and a fresh
clone of HEAD."""

import argparse
import importlib.util
import os
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

import yaml

if TYPE_CHECKING:
    from genderface.machine import Machine

REPO = Path(__file__).resolve().parents[1]


def module_at(path: Path, name: str) -> ModuleType:
    """The Python file at path, imported as a module of that name (no package imported)."""
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def print_machine() -> "Machine":
    """Print the machine line, a benchmark's first line of output (a figure means little without
    it); returns the machine.

    machine.py is loaded by its file: importing the genderface package here would pin this
    working tree's package before import_from_clone puts the clone's first."""
    machine = module_at(REPO / "src/genderface/machine.py", "machine").this_machine()
    print(machine.line(), flush=True)
    return machine


def print_parameters(parameters: dict[str, object]) -> None:
    """One line naming every parameter the figures depend on, as the run took them."""
    print("parameters: " + ", ".join(f"{key} {value}" for key, value in parameters.items()))
    sys.stdout.flush()  # before the output of any command the benchmark runs


def sample_parser(description: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument(
        "--sample", type=Path, default=REPO.parent / "shared/data/genderface-sample.zip"
    )
    return parser


def add_fairface(parser: argparse.ArgumentParser) -> None:
    """--fairface: the folder scored as evaluate.external, fairface-540 by default."""
    parser.add_argument(
        "--fairface",
        type=Path,
        default=REPO.parent / "shared/data/fairface-540.zip",
        help="scored as evaluate.external: fairface-540's zip or a folder laid out as it",
    )


def add_overrides(parser: argparse.ArgumentParser) -> None:
    """--set KEY=VALUE, repeatable: params.yaml keys (dotted) replaced for a smaller run."""
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="replace a params.yaml key (dotted, value in YAML), e.g. data.image_size=32",
    )


def overridden(raw: dict, overrides: list[str]) -> dict:
    """raw (params.yaml as parsed) with each KEY=VALUE of --set applied, in place."""
    for item in overrides:
        dotted, separator, value = item.partition("=")
        if not separator:
            sys.exit(f"error: --set {item}: expected KEY=VALUE, e.g. data.image_size=32")
        *parents, leaf = dotted.split(".")
        node = raw
        for key in parents:
            node = node.setdefault(key, {})
        node[leaf] = yaml.safe_load(value)
    return raw


def first_source(raw: dict) -> str:
    """The name of params.yaml's first data source (raw: params.yaml as parsed): the Kaggle
    archive's place, where a benchmark puts the sample archive."""
    return next(iter(raw["data"]["sources"]))


def reading(clone: Path, sample: Path) -> list[str]:
    """`dvc exp run` options that make the clone's first source read the sample archive."""
    key = f"data.sources.{first_source(yaml.safe_load((clone / 'params.yaml').read_text()))}"
    return ["-S", f"{key}.source=path", "-S", f"{key}.path={sample}"]


def sample_path(args: argparse.Namespace, folders: bool = False) -> Path:
    """The --sample archive (or, with `folders`, a folder such as the full archive's), or exit
    with one line saying how to point at it."""
    sample = args.sample.resolve()
    if not (sample.is_file() or (folders and sample.is_dir())):
        sys.exit(f"error: {sample}: sample archive not found; pass --sample PATH")
    return sample


def unpacked(fairface: Path, tmp: Path) -> Path:
    """fairface-540: the folder itself, or the one folder its zip holds, extracted to tmp."""
    if fairface.is_dir():
        return fairface
    with zipfile.ZipFile(fairface) as zf:
        zf.extractall(tmp)
    (folder,) = (path for path in tmp.iterdir() if path.is_dir())
    return folder


def project_env(clone: Path) -> dict[str, str]:
    """This venv's dvc and python first on PATH, analytics off, and the clone's own package first
    on the import path: the venv's editable install points at this working tree, not at HEAD."""
    return {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "PYTHONPATH": str(clone / "src"),
        "DVC_NO_ANALYTICS": "1",
    }


@contextmanager
def fresh_clone() -> Iterator[Path]:
    """A clone of HEAD in a temporary folder, as a user gets it."""
    with tempfile.TemporaryDirectory() as tmp:
        clone = Path(tmp) / "genderface"
        subprocess.run(["git", "clone", "--quiet", str(REPO), str(clone)], check=True)
        yield clone


def import_from_clone(clone: Path) -> None:
    """The clone's package first on the import path, as project_env gives dvc, and this folder
    off it, so no script here can shadow a package that Keras or pandas imports."""
    here = Path(__file__).resolve().parent
    sys.path[:] = [str(clone / "src"), *(p for p in sys.path if Path(p or ".").resolve() != here)]


def plain_vgg16(size: int) -> dict[str, dict]:
    """params.yaml changes for timing the transfer recipe's model: `size` px, VGG16 without batch
    normalisation (as ImageNet's) with random weights (a step costs the same whatever their
    values), whole pictures (the face finder would only lengthen the untimed preprocessing)."""
    return {
        "data": {"image_size": size, "framing": "whole"},
        "model": {"weights": "none", "batch_norm": False},
    }


@contextmanager
def preprocessed_clone(
    sample: Path, changes: dict[str, dict], overrides: list[str]
) -> Iterator[tuple[Path, dict]]:
    """A fresh clone whose params.yaml reads the sample archive, with `changes` (section: keys)
    then --set's overrides applied, after `dvc repro preprocess`; yields (clone, params as
    written). The clone's package is first on the import path."""
    with fresh_clone() as clone:
        raw = yaml.safe_load((clone / "params.yaml").read_text())
        raw["data"]["sources"][first_source(raw)].update(source="path", path=str(sample))
        for section, values in changes.items():
            raw[section].update(values)
        overridden(raw, overrides)
        (clone / "params.yaml").write_text(yaml.safe_dump(raw, sort_keys=False))
        subprocess.run(
            ["dvc", "repro", "preprocess"], cwd=clone, env=project_env(clone), check=True
        )
        import_from_clone(clone)
        yield clone, raw
