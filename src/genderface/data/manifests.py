"""The file lists the data stages hand on, as CSV tables: each source's per-file verdicts
(data/validate/<source>.csv) and split's assignment (data/split/manifest.csv).

Kept apart from the stages that compute them, so reading a list never imports image decoding or
the split rule: a stage depends only on the code it runs.

Both tables have fixed columns, then one text column per attribute (age, race, ...) that some
source gives; a source without an attribute leaves it "".
"""

import re
from dataclasses import dataclass, field, fields
from pathlib import Path

import pandas as pd

from genderface.fsutil import read_csv, write_csv

MANIFEST_COLUMNS = ["path", "source", "label", "sha256", "split"]
"""path is under data/raw and starts with its source's name: <source>/<file in the source>."""


@dataclass(frozen=True)
class FileCheck:
    """One raw file: where it is, its source and class, content hash, real format and size, its
    attributes, and any problem.

    problem is "" for a usable file, else why it is excluded (unreadable: ..., unlabelled: ...,
    in both classes); label is "" when no label could be read.
    """

    path: str
    source: str
    label: str
    sha256: str
    format: str
    width: int
    height: int
    problem: str
    attributes: dict[str, str] = field(default_factory=dict)


UNREADABLE = "unreadable"
UNLABELLED = "unlabelled"
CONFLICT = "in both classes"
"""How a FileCheck's problem begins: why the file is in no split."""

CHECK_COLUMNS = [f.name for f in fields(FileCheck) if f.name != "attributes"]
ATTRIBUTE_NAME = re.compile(r"[A-Za-z0-9_.-]+")  # each names a metrics key and a plot file
TAKEN = frozenset(CHECK_COLUMNS) | frozenset(MANIFEST_COLUMNS)
"""Column names the tables use themselves: an attribute cannot be called so."""


def is_attribute_name(name: str) -> bool:
    """Whether `name` can be an attribute column of the checks and the manifest."""
    return bool(ATTRIBUTE_NAME.fullmatch(name)) and name not in TAKEN


def attribute_names(checks: list[FileCheck]) -> list[str]:
    """Every attribute some check has, in order of first appearance."""
    return list(dict.fromkeys(name for check in checks for name in check.attributes))


def write_checks(checks: list[FileCheck], path: Path) -> None:
    """A source's data/validate/<name>.csv, one row per raw file in path order, attributes last."""
    names = attribute_names(checks)
    rows = [
        [getattr(c, column) for column in CHECK_COLUMNS] + [c.attributes.get(n, "") for n in names]
        for c in checks
    ]
    write_csv(path, pd.DataFrame(rows, columns=[*CHECK_COLUMNS, *names]))


def read_checks(path: Path) -> list[FileCheck]:
    frame = read_csv(path, f"validate@{path.stem}")
    names = [c for c in frame.columns if c not in CHECK_COLUMNS]
    return [
        FileCheck(
            r["path"],
            r["source"],
            r["label"],
            r["sha256"],
            r["format"],
            int(r["width"]),
            int(r["height"]),
            r["problem"],
            {n: r[n] for n in names if r[n]},
        )
        for r in frame.to_dict("records")
    ]


def attribute_columns(manifest: pd.DataFrame) -> list[str]:
    """The manifest's attribute columns (age, race, ...), after its fixed ones."""
    return [c for c in manifest.columns if c not in MANIFEST_COLUMNS]


def write_manifest(manifest: pd.DataFrame, path: Path) -> None:
    write_csv(path, manifest[MANIFEST_COLUMNS + attribute_columns(manifest)])


def read_manifest(path: Path) -> pd.DataFrame:
    """data/split/manifest.csv: every column text, "" where a source lacks an attribute."""
    return read_csv(path, "split")
