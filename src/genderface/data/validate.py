"""Validate one source: read every file once, label it, and say what it really is.

The real archive is not clean: thousands of PNGs named .jpg, byte-identical copies, crops from
40 px to 250 px and more; UTKFace has a few names that carry no label. Each file is labelled by
its source's layout (data/labels.py), hashed and fully decoded here; unreadable and unlabelled
files are excluded from all splits. data/validate/<source>.csv records the verdict per file, so
split never reads the images again. Copies across classes or sources are split's business: it is
the one stage that sees every source (data/summary.py).
"""

import hashlib
import os
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

from tqdm import tqdm

from genderface.data.images import ImageError, inspect
from genderface.data.labels import Labelled, labelled_files
from genderface.data.manifests import UNREADABLE, FileCheck, write_checks
from genderface.errors import GenderfaceError
from genderface.params import SourceParams


def _check(source: str, item: Labelled) -> FileCheck:
    path = f"{source}/{item.relative}"
    unchecked = FileCheck(path, source, item.label, "", "", 0, 0, item.problem, item.attributes)
    if item.problem:
        return unchecked
    try:
        data = item.path.read_bytes()
    except OSError as err:
        return replace(unchecked, problem=f"{UNREADABLE}: cannot read ({err})")
    digest = hashlib.sha256(data).hexdigest()
    try:
        facts = inspect(data, path)
    except ImageError as err:
        reason = str(err).removeprefix(f"{path}: ")
        return replace(unchecked, sha256=digest, problem=f"{UNREADABLE}: {reason}")
    return FileCheck(
        path,
        source,
        item.label,
        digest,
        facts.format,
        facts.width,
        facts.height,
        "",
        item.attributes,
    )


def check_files(raw_dir: Path, name: str, params: SourceParams) -> list[FileCheck]:
    """Label, hash and decode every file of source `name` (raw_dir/<name>) on every core, in
    sorted order; paths in the result are relative to raw_dir."""
    items = labelled_files(raw_dir / name, name, params)
    with (
        ThreadPoolExecutor(max_workers=os.cpu_count()) as pool,
        tqdm(total=len(items), desc=f"validating {name}", unit="file", mininterval=1.0) as bar,
    ):

        def check(item: Labelled) -> FileCheck:
            result = _check(name, item)
            bar.update()
            return result

        return list(pool.map(check, items))


def validate(raw_dir: Path, name: str, params: SourceParams, checks_path: Path) -> list[FileCheck]:
    """Check every file of source `name` and write its table (data/validate/<name>.csv)."""
    checks = check_files(raw_dir, name, params)
    if not any(not check.problem for check in checks):
        problems = Counter(check.problem.split(":")[0] for check in checks)
        found = ", ".join(f"{n} {kind}" for kind, n in sorted(problems.items())) or "no files"
        raise GenderfaceError(
            f"data.sources.{name}: no usable labelled image among its {len(checks)} files "
            f"({found}); check its folder and labels"
        )
    write_checks(checks, checks_path)
    return checks
