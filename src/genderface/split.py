"""Deterministic stratified train/test/validation split, written as a manifest (images stay put).

Each file's place is decided by a key derived from its content hash and the split seed, never from
its name or from file-system order: the same data and seed give a byte-identical manifest, and
renaming a file does not move it.
"""

import hashlib
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from tqdm import tqdm

from genderface.fsutil import atomic_path
from genderface.layout import FACES
from genderface.params import SplitParams

MANIFEST_COLUMNS = ["path", "label", "sha256", "split"]


@dataclass(frozen=True)
class Record:
    path: str
    label: str
    sha256: str


def scan(raw_dir: Path) -> list[Record]:
    """Hash every file under raw_dir/faces/<class>/, in sorted order, with a progress bar."""
    files = sorted(
        p for p in (raw_dir / FACES).glob("*/*") if p.is_file() and not p.name.startswith(".")
    )
    return [
        Record(
            path=p.relative_to(raw_dir).as_posix(),
            label=p.parent.name,
            sha256=hashlib.sha256(p.read_bytes()).hexdigest(),
        )
        for p in tqdm(files, desc="hashing", unit="file", mininterval=1.0)
    ]


def _order_key(seed: int, record: Record) -> tuple[str, str]:
    return hashlib.sha256(f"{seed}:{record.sha256}".encode()).hexdigest(), record.path


def split(records: list[Record], params: SplitParams) -> pd.DataFrame:
    """Assign each record to a split, per class in the configured proportions."""
    rows = []
    for label in sorted({r.label for r in records}):
        members = sorted(
            (r for r in records if r.label == label), key=lambda r: _order_key(params.seed, r)
        )
        n = len(members)
        n_train = round(n * params.train)
        n_test = round(n * params.test)
        for i, record in enumerate(members):
            name = "train" if i < n_train else "test" if i < n_train + n_test else "validation"
            rows.append((record.path, record.label, record.sha256, name))
    manifest = pd.DataFrame(rows, columns=MANIFEST_COLUMNS)
    return manifest.sort_values("path", ignore_index=True)


def write_manifest(manifest: pd.DataFrame, path: Path) -> None:
    with atomic_path(path) as tmp:
        manifest.to_csv(tmp, index=False, lineterminator="\n")


def read_manifest(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype=str, keep_default_na=False)
