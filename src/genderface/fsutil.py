"""Write outputs to a temporary path beside the target and rename into place, never half-written;
say so in one line when the disk is full."""

import errno
import io
import json
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from genderface.errors import GenderfaceError

if TYPE_CHECKING:
    import pandas as pd  # imported where a table is used: predict's light install has none


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)


@contextmanager
def atomic_path(final: Path, suffix: str = "") -> Iterator[Path]:
    """Yield a temporary sibling of `final` (file or folder); rename it over `final` on success.

    Leftovers of an earlier killed run are removed first; on any failure the temporary is removed
    and `final` is left as it was. A folder cannot be renamed over another, so an existing one is
    first renamed aside: at every instant `final` is either the old or the new complete version
    (or, for an instant, absent, never partial).
    """
    final.parent.mkdir(parents=True, exist_ok=True)
    for stale in final.parent.glob(f".{final.name}.tmp-*"):
        _remove(stale)
    tmp = final.parent / f".{final.name}.tmp-{os.getpid()}{suffix}"
    old = final.parent / f".{final.name}.tmp-{os.getpid()}-old"
    try:
        yield tmp
        if final.is_dir() and not final.is_symlink():
            final.rename(old)
        tmp.replace(final)
    except BaseException:
        if old.exists() and not final.exists():
            old.rename(final)
        for leftover in (tmp, old):
            if leftover.exists() or leftover.is_symlink():
                _remove(leftover)
        raise
    if old.exists():
        shutil.rmtree(old)


def disk_full(err: BaseException, writing: str, fix: str) -> GenderfaceError | None:
    """One line for a write refused for want of space (or quota), or None for any other error:
    a full disk needs room, not another input, whatever was being written."""
    if isinstance(err, OSError) and err.errno in (errno.ENOSPC, errno.EDQUOT):
        return GenderfaceError(f"no space left on device writing {writing}: {fix}")
    return None


def write_text(path: Path, text: str) -> None:
    """Write a text file atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def write_json(path: Path, data: object) -> None:
    """Write pretty, key-sorted JSON atomically (stable bytes for git and DVC)."""
    write_text(path, json.dumps(data, indent=2, sort_keys=True) + "\n")


def write_csv(path: Path, frame: "pd.DataFrame") -> None:
    """CSV, atomically, with fixed line endings: the same table is the same bytes on every OS."""
    with atomic_path(path) as tmp:
        frame.to_csv(tmp, index=False, lineterminator="\n")


def parse_csv(source: Path | io.BytesIO) -> "pd.DataFrame":
    """Every column as text: hashes and paths must not be parsed as numbers or NaN."""
    import pandas as pd

    # index_col=False: a trailing comma on every row must not shift the columns
    return pd.read_csv(source, dtype=str, keep_default_na=False, index_col=False)


def read_csv(path: Path, stage: str) -> "pd.DataFrame":
    """A pipeline table (parse_csv); a missing file names the stage that writes it."""
    if not path.is_file():
        raise GenderfaceError(f"{path}: not found; run `dvc repro {stage}` first")
    return parse_csv(path)
