"""What the data really is, over every source: copies and conflicts across sources, and the
numbers of metrics/data.json and metrics/data.md, in total and per source.

The same picture (same bytes) labelled man in one place and woman in another, in one source or
across two, is a conflict: every copy is excluded from all splits. Copies with one label are a
duplicate group, which split keeps in one split.
"""

from collections import Counter, defaultdict
from dataclasses import replace
from pathlib import Path

from tabulate import tabulate

from genderface.data.manifests import CONFLICT, UNLABELLED, UNREADABLE, FileCheck
from genderface.decision import majority_class

SIZE_BUCKETS = ((64, "000-063"), (150, "064-149"), (250, "150-249"), (251, "250"))
"""Shorter side in pixels, upper bound exclusive (larger: "251+"); names sort in size order."""
_EXTENSION_FORMATS = {".jpg": "JPEG", ".jpeg": "JPEG", ".png": "PNG"}


def mark_conflicts(checks: list[FileCheck]) -> list[FileCheck]:
    """Every usable copy of a picture found under two classes, marked as a conflict."""
    labels_of: dict[str, set[str]] = defaultdict(set)
    for check in checks:
        if not check.problem:
            labels_of[check.sha256].add(check.label)
    return [
        replace(c, problem=CONFLICT) if not c.problem and len(labels_of[c.sha256]) > 1 else c
        for c in checks
    ]


def _size_bucket(check: FileCheck) -> str:
    side = min(check.width, check.height)
    return next((name for bound, name in SIZE_BUCKETS if side < bound), "251+")


def _misnamed_key(check: FileCheck) -> str:
    """ "PNG as .jpg" style key for a file whose content is not what its extension says."""
    suffix = Path(check.path).suffix.lower()
    if _EXTENSION_FORMATS.get(suffix) == check.format:
        return "as named"
    return f"{check.format} as {suffix or 'no extension'}"


def summarize(checks: list[FileCheck]) -> dict:
    """The numbers of a set of checks (all sources, or one); excluded files listed by name."""
    labelled = [c for c in checks if not c.problem.startswith(UNLABELLED)]
    classes = sorted({c.label for c in labelled})
    readable = [c for c in labelled if not c.problem.startswith(UNREADABLE)]
    usable = [c for c in checks if not c.problem]
    by_hash: dict[str, list[FileCheck]] = defaultdict(list)
    for check in readable:
        by_hash[check.sha256].append(check)
    groups = sorted(
        (sorted(group, key=lambda c: c.path) for group in by_hash.values() if len(group) > 1),
        key=lambda group: group[0].path,
    )
    conflicts = [[c.path for c in g] for g in groups if len({c.label for c in g}) > 1]
    counts = Counter(c.label for c in usable)
    minority = min(counts[label] for label in classes) if classes else 0
    majority = majority_class({label: counts[label] for label in classes}) if usable else None

    def per_class(key: object) -> dict:
        return {
            label: dict(sorted(Counter(key(c) for c in readable if c.label == label).items()))
            for label in classes
        }

    def excluded(kind: str) -> dict:
        reasons = {c.path: c.problem for c in checks if c.problem.startswith(kind)}
        return {"files": len(reasons), "reasons": reasons}

    return {
        "files": len(checks),
        "usable": len(usable),
        "classes": {label: sum(c.label == label for c in labelled) for label in classes},
        "usable_classes": {label: counts[label] for label in classes},
        "formats": per_class(lambda c: c.format),
        "misnamed": per_class(_misnamed_key),
        "sizes": per_class(_size_bucket),
        "duplicates": {
            "groups": len(groups),
            "files": sum(len(g) for g in groups),
            "groups_within_one_class": len(groups) - len(conflicts),
            "groups_across_sources": sum(len({c.source for c in g}) > 1 for g in groups),
        },
        "conflicts": {
            "groups": len(conflicts),
            "files": sum(len(g) for g in conflicts),
            "members": conflicts,
        },
        "unreadable": excluded(UNREADABLE),
        "unlabelled": excluded(UNLABELLED),
        "class_ratio": counts[majority] / minority if minority else None,
        "majority_class": majority,
        "majority_baseline": counts[majority] / len(usable) if usable else None,
    }


def summarize_sources(
    checks: list[FileCheck], downloads: dict[str, dict], splits: dict[str, dict]
) -> dict:
    """metrics/data.json: the totals, and per source (in params order) what its download was,
    its own totals and its images per split and class."""
    return summarize(checks) | {
        "sources": {
            name: download
            | summarize([c for c in checks if c.source == name])
            | {"splits": splits[name]}
            for name, download in downloads.items()
        }
    }


def _class_rows(summary: dict, name: str | None) -> list[list]:
    return [
        [
            *([name] if name else []),
            label,
            files,
            summary["usable_classes"][label],
            *(
                ", ".join(f"{key} {n}" for key, n in summary[part][label].items())
                for part in ("formats", "misnamed", "sizes")
            ),
        ]
        for label, files in summary["classes"].items()
    ]


def report(summary: dict) -> str:
    """A short human-readable account of data.json (metrics/data.md)."""
    sources = summary["sources"]
    rows = [row for name, part in sources.items() for row in _class_rows(part, name)]
    headers = ["source", "class", "files", "usable", "formats", "misnamed", "shorter side"]
    split_rows = [
        [name, split, *(counts.get(label, 0) for label in summary["classes"])]
        for name, part in sources.items()
        for split, counts in part["splits"].items()
    ]
    lines = [
        "# Data validation",
        "",
        f"{summary['files']} files from {len(sources)} source(s); {summary['usable']} usable, "
        "used for the split.",
        "",
        tabulate(rows, headers, tablefmt="github"),
        "",
        "## Sources",
        "",
        tabulate(
            [
                [name, part["resolved"], part["labels"], part["licence"]]
                + (["SYNTHETIC"] if part["synthetic"] else [""])
                for name, part in sources.items()
            ],
            ["source", "from", "labels", "licence", ""],
            tablefmt="github",
        ),
        "",
        "## Split",
        "",
        tabulate(split_rows, ["source", "split", *summary["classes"]], tablefmt="github"),
    ]
    dup, conflicts = summary["duplicates"], summary["conflicts"]
    baseline = summary["majority_baseline"]
    lines += [
        "",
        f"- Majority baseline: {baseline:.3f} (always answering {summary['majority_class']})."
        if baseline is not None
        else "- No usable files.",
        f"- Byte-identical groups: {dup['groups']} ({dup['files']} files, "
        f"{dup['groups_across_sources']} across sources); a group always lands in one split.",
        f"- Excluded, same picture in both classes: {conflicts['groups']} groups "
        f"({conflicts['files']} files).",
        f"- Excluded, unreadable: {summary['unreadable']['files']} files.",
        f"- Excluded, unlabelled: {summary['unlabelled']['files']} files.",
    ]
    if conflicts["members"]:
        lines += ["", "## In both classes (excluded)", ""]
        lines += [f"- {', '.join(group)}" for group in conflicts["members"]]
    for kind, title in ((UNREADABLE, "Unreadable"), (UNLABELLED, "Unlabelled")):
        if reasons := summary[kind]["reasons"]:
            lines += ["", f"## {title} (excluded)", ""]
            lines += [f"- {path}: {reason}" for path, reason in reasons.items()]
    return "\n".join(lines) + "\n"
