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

from genderface.errors import GenderfaceError
from genderface.fsutil import atomic_path
from genderface.layout import FACES, SPLITS
from genderface.params import SplitParams

MANIFEST_COLUMNS = ["path", "label", "sha256", "split"]


@dataclass(frozen=True)
class Record:
    """One image: path relative to data/raw, class (its folder name), SHA-256 of its bytes."""

    path: str
    label: str
    sha256: str


def scan(raw_dir: Path) -> list[Record]:
    """Hash every file under raw_dir/faces/<class>/, in sorted order, with a progress bar."""
    if not (raw_dir / FACES).is_dir():
        raise GenderfaceError(f"{raw_dir / FACES}: not found; run `dvc repro download` first")
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
    """Assign each record to a split, per class in the configured proportions.

    Every class must reach every split: a class too small for that is an error, not a model
    silently trained or judged without it.
    """
    labels = sorted({r.label for r in records})
    if len(labels) < 2:
        raise GenderfaceError(f"need images of two classes to split, found {labels or 'none'}")
    rows = []
    for label in labels:
        members = sorted(
            (r for r in records if r.label == label), key=lambda r: _order_key(params.seed, r)
        )
        n = len(members)
        bounds = (round(n * params.train), round(n * (params.train + params.test)), n)
        sizes = (bounds[0], bounds[1] - bounds[0], bounds[2] - bounds[1])
        if min(sizes) == 0:
            raise GenderfaceError(
                f"class {label!r} has {n} images: too few to give each of {', '.join(SPLITS)} at "
                "least one; add images or change the split proportions"
            )
        for i, record in enumerate(members):
            name = next(s for s, end in zip(SPLITS, bounds, strict=True) if i < end)
            rows.append((record.path, record.label, record.sha256, name))
    manifest = pd.DataFrame(rows, columns=MANIFEST_COLUMNS)
    return manifest.sort_values("path", ignore_index=True)


def write_manifest(manifest: pd.DataFrame, path: Path) -> None:
    """CSV with fixed line endings, so the same split is the same bytes on every OS."""
    with atomic_path(path) as tmp:
        manifest.to_csv(tmp, index=False, lineterminator="\n")


def read_manifest(path: Path) -> pd.DataFrame:
    """Every column as text (hashes and paths must not be parsed as numbers or NaN)."""
    if not path.is_file():
        raise GenderfaceError(f"{path}: not found; run `dvc repro split` first")
    return pd.read_csv(path, dtype=str, keep_default_na=False)
