"""The two file lists the data stages hand on, as CSV tables: validate's per-file verdicts
(data/validate/files.csv) and split's assignment (data/split/manifest.csv).

Kept apart from the stages that compute them, so reading a list never imports image decoding or
the split rule: a stage depends only on the code it runs.
"""

from dataclasses import asdict, dataclass, fields
from pathlib import Path

import pandas as pd

from genderface.fsutil import read_csv, write_csv

MANIFEST_COLUMNS = ["path", "label", "sha256", "split"]


@dataclass(frozen=True)
class FileCheck:
    """One raw file: where it is, its class, content hash, real format and size, and any problem.

    problem is "" for a usable file, else why it is excluded (unreadable: ..., in both classes).
    """

    path: str
    label: str
    sha256: str
    format: str
    width: int
    height: int
    problem: str


CHECK_COLUMNS = [f.name for f in fields(FileCheck)]


def write_checks(checks: list[FileCheck], path: Path) -> None:
    """files.csv, one row per raw file in path order."""
    write_csv(path, pd.DataFrame([asdict(c) for c in checks], columns=CHECK_COLUMNS))


def read_checks(path: Path) -> list[FileCheck]:
    frame = read_csv(path, "validate")
    return [
        FileCheck(r.path, r.label, r.sha256, r.format, int(r.width), int(r.height), r.problem)
        for r in frame.itertuples()
    ]


def write_manifest(manifest: pd.DataFrame, path: Path) -> None:
    write_csv(path, manifest[MANIFEST_COLUMNS])


def read_manifest(path: Path) -> pd.DataFrame:
    return read_csv(path, "split")
