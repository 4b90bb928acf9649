"""Deterministic, leak-free stratified train/test/validation split, written as a manifest.

The unit of assignment is a picture (a content hash), not a file: every copy of one image lands
in the same split, so no test image is also a training image. Per class, pictures are ordered by
a key derived from the split seed and their hash (never from names or file-system order), and
the order is cut where the file counts reach the configured proportions. Hence:

- the same input and seed give a byte-identical manifest, and renaming a file moves nothing;
- adding or removing pictures moves only them, plus the few old pictures that sit next to a cut
  (as many as the newcomers fall off proportion on each side of it; see docs/data.md);
- per class, each split's file count is within 1 of the exact proportion when no group of
  copies straddles a cut (a straddling group of k copies can add up to k/2 to that).
"""

import hashlib
from collections import defaultdict
from dataclasses import dataclass
from fractions import Fraction

import pandas as pd

from genderface.data.manifests import MANIFEST_COLUMNS, FileCheck
from genderface.errors import GenderfaceError
from genderface.layout import SPLITS
from genderface.params import SplitParams


@dataclass(frozen=True)
class UsableFile:
    """One usable image: path under data/raw, class (its folder name), SHA-256 of its bytes."""

    path: str
    label: str
    sha256: str


def usable_files(checks: list[FileCheck]) -> list[UsableFile]:
    """The files validation kept (readable, not filed under both classes)."""
    return [UsableFile(c.path, c.label, c.sha256) for c in checks if not c.problem]


def order_key(seed: int, sha256: str) -> str:
    """Where a picture sits in its class's order: a keyed hash, uniform and name-independent."""
    return hashlib.sha256(f"{seed}:{sha256}".encode()).hexdigest()


def _cuts(n: int, params: SplitParams) -> list[Fraction]:
    """Exact cumulative file counts at the end of each split, e.g. 0.7n and 0.9n and n."""
    fractions = [Fraction(repr(getattr(params, name))) for name in SPLITS]
    return [n * sum(fractions[: i + 1]) for i in range(len(SPLITS) - 1)] + [Fraction(n)]


def split(records: list[UsableFile], params: SplitParams) -> pd.DataFrame:
    """Assign each record to a split, per class in the configured proportions.

    A group of copies goes where its middle falls: walking the class's pictures in key order,
    a picture of w files starting at file c belongs to the first split whose cut lies beyond
    c + w/2. Every class must reach every split: a class too small for that is an error, not a
    model silently trained or judged without it.
    """
    labels = sorted({r.label for r in records})
    if len(labels) < 2:
        raise GenderfaceError(f"need images of two classes to split, found {labels or 'none'}")
    by_hash: dict[str, list[UsableFile]] = defaultdict(list)
    for record in records:
        by_hash[record.sha256].append(record)
    for digest, group in by_hash.items():
        if len({r.label for r in group}) > 1:
            raise GenderfaceError(
                f"{group[0].path}: the same picture is filed under {len(group)} classes; "
                f"validation excludes such files, run `dvc repro validate` ({digest[:12]})"
            )
    rows = []
    for label in labels:
        pictures = sorted(
            (order_key(params.seed, digest), digest, sorted(r.path for r in group))
            for digest, group in by_hash.items()
            if group[0].label == label
        )
        cuts = _cuts(sum(len(paths) for _, _, paths in pictures), params)
        start, sizes = 0, dict.fromkeys(SPLITS, 0)
        for _, digest, paths in pictures:
            middle = start + Fraction(len(paths), 2)
            name = next(s for s, cut in zip(SPLITS, cuts, strict=True) if middle < cut)
            sizes[name] += len(paths)
            rows += [(path, label, digest, name) for path in paths]
            start += len(paths)
        if min(sizes.values()) == 0:
            raise GenderfaceError(
                f"class {label!r} has {start} images: too few to give each of {', '.join(SPLITS)} "
                "at least one; add images or change the split proportions"
            )
    manifest = pd.DataFrame(rows, columns=MANIFEST_COLUMNS)
    return manifest.sort_values("path", ignore_index=True)
