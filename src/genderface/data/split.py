"""Deterministic, leak-free train/test/validation split over every source, stratified by
source and class, written as a manifest.

The unit of assignment is a picture (a content hash), not a file: every copy of one image lands
in the same split, in whichever sources it appears, so no test image is also a training image.
A picture belongs to the stratum (source, class) of the first source in data.sources that holds
it. Per stratum, pictures are ordered by a key derived from the split seed and their hash (never
from names or file-system order), and the order is cut where that source's file counts reach the
configured proportions; copies in later sources follow their picture. Hence:

- the same input and seed give a byte-identical manifest, and renaming a file moves nothing;
- adding a source moves none of the earlier sources' images (unless it labels one of their
  pictures the other way: split then excludes the conflict everywhere);
- adding or removing pictures in a source moves only them, plus the few old pictures of that
  stratum that sit next to a cut (see docs/data.md);
- per stratum, each split's file count is within 1 of the exact proportion when no group of
  copies straddles a cut (a straddling group of k copies can add up to k/2 to that).
"""

import hashlib
import json
from collections import defaultdict
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import pandas as pd

from genderface.data.manifests import (
    MANIFEST_COLUMNS,
    FileCheck,
    attribute_names,
    read_checks,
    write_manifest,
)
from genderface.data.summary import mark_conflicts, report, summarize_sources
from genderface.errors import GenderfaceError
from genderface.fsutil import write_json, write_text
from genderface.layout import SPLITS, checks_file, source_metrics
from genderface.params import SourceParams, SplitParams


@dataclass(frozen=True)
class UsableFile:
    """One usable image: path under data/raw, source, class, SHA-256 of its bytes, attributes."""

    path: str
    source: str
    label: str
    sha256: str
    attributes: dict[str, str] = field(default_factory=dict)


def usable_files(checks: list[FileCheck]) -> list[UsableFile]:
    """The usable files: readable, labelled, and not filed under both classes (once
    summary.mark_conflicts has marked those)."""
    return [
        UsableFile(c.path, c.source, c.label, c.sha256, c.attributes)
        for c in checks
        if not c.problem
    ]


def order_key(seed: int, sha256: str) -> str:
    """Where a picture sits in its class's order: a keyed hash, uniform and name-independent."""
    return hashlib.sha256(f"{seed}:{sha256}".encode()).hexdigest()


def _cuts(n: int, params: SplitParams) -> list[Fraction]:
    """Exact cumulative file counts at the end of each split, e.g. 0.7n and 0.9n and n."""
    fractions = [Fraction(repr(getattr(params, name))) for name in SPLITS]
    return [n * sum(fractions[: i + 1]) for i in range(len(SPLITS) - 1)] + [Fraction(n)]


def split(records: list[UsableFile], params: SplitParams, sources: list[str]) -> pd.DataFrame:
    """Assign each record to a split, per stratum (source, class) in the configured proportions.

    `sources` is data.sources' order: a picture's stratum is that of the first source holding it.
    A group of copies goes where its middle falls: walking the stratum's pictures in key order, a
    picture of w files of that source starting at file c belongs to the first split whose cut
    lies beyond c + w/2. Every stratum must reach every split: one too small for that is an
    error, not a model silently trained or judged without it.
    """
    labels = sorted({r.label for r in records})
    if len(labels) != 2:
        raise GenderfaceError(_two_classes(records, labels))
    by_hash: dict[str, list[UsableFile]] = defaultdict(list)
    for record in records:
        by_hash[record.sha256].append(record)
    strata: dict[tuple[str, str], list[tuple[str, str, int]]] = defaultdict(list)
    for digest, group in by_hash.items():
        if len({r.label for r in group}) > 1:
            raise GenderfaceError(
                f"{group[0].path}: the same picture is filed under both classes "
                f"({digest[:12]}); exclude every copy (summary.mark_conflicts) before splitting"
            )
        first = min(sources.index(r.source) for r in group)
        own = sum(r.source == sources[first] for r in group)
        strata[sources[first], group[0].label].append((order_key(params.seed, digest), digest, own))
    assigned: dict[str, str] = {}
    for (source, label), pictures in sorted(
        strata.items(), key=lambda s: (sources.index(s[0][0]), s[0][1])
    ):
        cuts = _cuts(sum(own for _, _, own in pictures), params)
        start, sizes = 0, dict.fromkeys(SPLITS, 0)
        for _, digest, own in sorted(pictures):
            middle = start + Fraction(own, 2)
            name = next(s for s, cut in zip(SPLITS, cuts, strict=True) if middle < cut)
            sizes[name] += own
            assigned[digest] = name
            start += own
        if min(sizes.values()) == 0:
            raise GenderfaceError(
                f"source {source!r}, class {label!r} has {start} images: too few to give each of "
                f"{', '.join(SPLITS)} at least one; add images or change the split proportions"
            )
    names = attribute_names(records)
    rows = [
        [r.path, r.source, r.label, r.sha256, assigned[r.sha256]]
        + [r.attributes.get(n, "") for n in names]
        for r in records
    ]
    manifest = pd.DataFrame(rows, columns=MANIFEST_COLUMNS + names)
    return manifest.sort_values("path", ignore_index=True)


def _two_classes(records: list[UsableFile], labels: list[str]) -> str:
    """Why the records do not make a binary task: which source brings which classes."""
    if len(labels) < 2:
        return f"need images of two classes to split, found {labels or 'none'}"
    by_source: dict[str, set[str]] = defaultdict(set)
    for record in records:
        by_source[record.source].add(record.label)
    named = "; ".join(f"{name}: {', '.join(sorted(found))}" for name, found in by_source.items())
    return (
        f"the sources name {len(labels)} classes ({named}); the model is binary: label every "
        "source with the same two class names"
    )


def split_counts(manifest: pd.DataFrame, sources: list[str]) -> dict[str, dict]:
    """{source: {split: {class: images}}} for data.json."""
    classes = sorted(manifest["label"].unique())
    return {
        name: {
            split_name: {
                label: int(((rows["split"] == split_name) & (rows["label"] == label)).sum())
                for label in classes
            }
            for split_name in SPLITS
        }
        for name in sources
        for rows in [manifest[manifest["source"] == name]]
    }


@dataclass(frozen=True)
class SplitFiles:
    """Where the split stage writes: the manifest, metrics/data.json and metrics/data.md."""

    manifest: Path
    metrics: Path
    report: Path


def split_sources(sources: dict[str, SourceParams], params: SplitParams, out: SplitFiles) -> dict:
    """Every source's checks (data/validate/<name>.csv), download (metrics/sources/<name>.json)
    and licence -> the manifest, data.json and data.md; returns data.json's content."""
    downloads = {}
    for name, source in sources.items():
        path = source_metrics(name)
        if not path.is_file():
            raise GenderfaceError(f"{path}: not found; run `dvc repro download@{name}` first")
        downloads[name] = json.loads(path.read_text()) | {"licence": source.licence}
    checks = mark_conflicts([c for name in sources for c in read_checks(checks_file(name))])
    manifest = split(usable_files(checks), params, list(sources))
    summary = summarize_sources(checks, downloads, split_counts(manifest, list(sources)))
    write_manifest(manifest, out.manifest)
    write_json(out.metrics, summary)
    write_text(out.report, report(summary))
    return summary
