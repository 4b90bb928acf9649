"""Validate: read every raw file once, say what the data really is, and decide what may be used.

The real archive is not clean: thousands of PNGs named .jpg, byte-identical copies, some of them
filed under both classes (one picture labelled man AND woman), crops from 40 px to 250 px and
more. Each file is hashed and fully decoded here; unreadable files and every copy of a picture
found in both classes are excluded from all splits. files.csv records the verdict per file (so
split never reads the images again); data.json and data.md summarise it.
"""

import hashlib
import os
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict
from pathlib import Path

from tabulate import tabulate
from tqdm import tqdm

from genderface.data.folders import class_files
from genderface.data.images import ImageError, inspect
from genderface.data.manifests import FileCheck, write_checks
from genderface.decision import majority_class
from genderface.errors import GenderfaceError
from genderface.fsutil import write_json, write_text
from genderface.layout import FACES

UNREADABLE = "unreadable"
CONFLICT = "in both classes"
SIZE_BUCKETS = ((64, "000-063"), (150, "064-149"), (250, "150-249"), (251, "250"))
"""Shorter side in pixels, upper bound exclusive (larger: "251+"); names sort in size order."""
_EXTENSION_FORMATS = {".jpg": "JPEG", ".jpeg": "JPEG", ".png": "PNG"}


def _check(raw_dir: Path, label: str, path: Path) -> FileCheck:
    relative = path.relative_to(raw_dir).as_posix()
    try:
        data = path.read_bytes()
    except OSError as err:
        return FileCheck(relative, label, "", "", 0, 0, f"{UNREADABLE}: cannot read ({err})")
    digest = hashlib.sha256(data).hexdigest()
    try:
        facts = inspect(data, relative)
    except ImageError as err:
        reason = str(err).removeprefix(f"{relative}: ")
        return FileCheck(relative, label, digest, "", 0, 0, f"{UNREADABLE}: {reason}")
    return FileCheck(relative, label, digest, facts.format, facts.width, facts.height, "")


def check_files(raw_dir: Path) -> list[FileCheck]:
    """Hash and decode every file under raw_dir/faces/<class>/ on every core, in sorted order.

    A file seen in two classes (same bytes) is marked as a conflict in all its copies.
    """
    if not (raw_dir / FACES).is_dir():
        raise GenderfaceError(f"{raw_dir / FACES}: not found; run `dvc repro download` first")
    files = [(label, p) for label, paths in class_files(raw_dir / FACES).items() for p in paths]
    with (
        ThreadPoolExecutor(max_workers=os.cpu_count()) as pool,
        tqdm(total=len(files), desc="validating", unit="file", mininterval=1.0) as progress,
    ):

        def check(item: tuple[str, Path]) -> FileCheck:
            result = _check(raw_dir, *item)
            progress.update()
            return result

        checks = list(pool.map(check, files))
    labels_of: dict[str, set[str]] = defaultdict(set)
    for check in checks:
        if not check.problem:
            labels_of[check.sha256].add(check.label)
    return [
        FileCheck(**{**asdict(c), "problem": CONFLICT})
        if not c.problem and len(labels_of[c.sha256]) > 1
        else c
        for c in checks
    ]


def _size_bucket(check: FileCheck) -> str:
    side = min(check.width, check.height)
    return next((name for bound, name in SIZE_BUCKETS if side < bound), "251+")


def summarize(checks: list[FileCheck]) -> dict:
    """The numbers of metrics/data.json; excluded files listed by name, everything sorted."""
    classes = sorted({c.label for c in checks})
    readable = [c for c in checks if not c.problem.startswith(UNREADABLE)]
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

    return {
        "files": len(checks),
        "usable": len(usable),
        "classes": {label: sum(c.label == label for c in checks) for label in classes},
        "usable_classes": {label: counts[label] for label in classes},
        "formats": per_class(lambda c: c.format),
        "misnamed": per_class(_misnamed_key),
        "sizes": per_class(_size_bucket),
        "duplicates": {
            "groups": len(groups),
            "files": sum(len(g) for g in groups),
            "groups_within_one_class": len(groups) - len(conflicts),
        },
        "conflicts": {
            "groups": len(conflicts),
            "files": sum(len(g) for g in conflicts),
            "members": conflicts,
        },
        "unreadable": {
            "files": sum(c.problem.startswith(UNREADABLE) for c in checks),
            "reasons": {c.path: c.problem for c in checks if c.problem.startswith(UNREADABLE)},
        },
        "class_ratio": counts[majority] / minority if minority else None,
        "majority_class": majority,
        "majority_baseline": counts[majority] / len(usable) if usable else None,
    }


def _misnamed_key(check: FileCheck) -> str:
    """ "PNG as .jpg" style key for a file whose content is not what its extension says."""
    suffix = Path(check.path).suffix.lower()
    if _EXTENSION_FORMATS.get(suffix) == check.format:
        return "as named"
    return f"{check.format} as {suffix or 'no extension'}"


def report(summary: dict) -> str:
    """A short human-readable account of data.json (metrics/data.md)."""
    rows = [
        [
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
    headers = ["class", "files", "usable", "formats", "misnamed", "shorter side"]
    lines = [
        "# Data validation",
        "",
        f"{summary['files']} files; {summary['usable']} usable, used for the split.",
        "",
        tabulate(rows, headers, tablefmt="github"),
    ]
    dup, conflicts, unreadable = summary["duplicates"], summary["conflicts"], summary["unreadable"]
    baseline = summary["majority_baseline"]
    lines += [
        "",
        f"- Majority baseline: {baseline:.3f} (always answering {summary['majority_class']})."
        if baseline is not None
        else "- No usable files.",
        f"- Byte-identical groups: {dup['groups']} ({dup['files']} files); a group always "
        "lands in one split.",
        f"- Excluded, same picture in both classes: {conflicts['groups']} groups "
        f"({conflicts['files']} files).",
        f"- Excluded, unreadable: {unreadable['files']} files.",
    ]
    if conflicts["members"]:
        lines += ["", "## In both classes (excluded)", ""]
        lines += [f"- {', '.join(group)}" for group in conflicts["members"]]
    if unreadable["reasons"]:
        lines += ["", "## Unreadable (excluded)", ""]
        lines += [f"- {path}: {reason}" for path, reason in unreadable["reasons"].items()]
    return "\n".join(lines) + "\n"


def validate(raw_dir: Path, checks_path: Path, metrics_path: Path, report_path: Path) -> dict:
    """Check every raw file and write files.csv, data.json and data.md; return the summary."""
    checks = check_files(raw_dir)
    summary = summarize(checks)
    write_checks(checks, checks_path)
    write_json(metrics_path, summary)
    write_text(report_path, report(summary))
    return summary
