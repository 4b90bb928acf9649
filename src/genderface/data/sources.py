"""Data sources: put a dataset laid out as faces/<class>/<image> into data/raw, whatever its origin.

`data.source` selects one of: `demo` (synthetic, offline), `kaggle:<owner>/<slug>[/versions/N]`
(via kagglehub), or `path`: the local .zip / .tar.gz / .tgz / .tar archive or directory named by
`data.path` (params.DataParams.read hands `fetch` one of the three). The result is staged in a
hidden temporary folder beside the destination and renamed into place only when it is
complete, so a failure never leaves a partial data/raw.
"""

import logging
import re
import shutil
import stat
import tarfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from genderface.data.demo import write_demo
from genderface.data.folders import class_files
from genderface.data.kaggle import download
from genderface.errors import GenderfaceError
from genderface.fsutil import atomic_path, disk_full
from genderface.layout import FACES
from genderface.params import DemoParams

log = logging.getLogger("download")

KAGGLE_PREFIX = "kaggle:"
_ARCHIVE_SUFFIXES = (".zip", ".tar.gz", ".tgz", ".tar")
_PATH_HELP = "set data.path to a .zip/.tar.gz/.tgz/.tar archive or a folder"
_ROOM = "free space on that disk (data/raw, and DVC's cache as much again) and rerun"


@dataclass(frozen=True)
class SourceSummary:
    """What was downloaded: written to metrics/source.json so every run says what data it saw."""

    source: str
    resolved: str
    counts: dict[str, int]

    @property
    def synthetic(self) -> bool:
        return self.source == "demo"

    def as_metrics(self) -> dict[str, object]:
        return {
            "source": self.source,
            "resolved": self.resolved,
            "synthetic": self.synthetic,
            "images": sum(self.counts.values()),
            "classes": dict(self.counts),
        }


def fetch(source: str, demo: DemoParams, dest: Path) -> SourceSummary:
    """Materialize `source` at dest/faces/<class>/..., atomically."""
    with atomic_path(dest) as staging:
        staging.mkdir()
        resolved = _materialize(source, demo, staging)
        counts = class_counts(staging / FACES)
    return SourceSummary(source=source, resolved=resolved, counts=counts)


def _named(source: str) -> str:
    """The parameter holding the source, and its value, as messages name it."""
    key = "data.source" if source.startswith(KAGGLE_PREFIX) else "data.path"
    return f"{key} {source!r}"


def _materialize(source: str, demo: DemoParams, staging: Path) -> str:
    """Fill staging/faces; return the source with a Kaggle version made explicit."""
    if source == "demo":
        log.info("source: demo (SYNTHETIC images, for offline runs; not real faces)")
        write_demo(demo, staging / FACES)
        return source
    if source.startswith(KAGGLE_PREFIX):
        handle = source.removeprefix(KAGGLE_PREFIX)
        downloaded = download(handle)
        _take_faces(downloaded, staging, source)
        version = re.search(r"versions/(\d+)", downloaded.as_posix())
        return f"{source.split('/versions/')[0]}/versions/{version[1]}" if version else source
    path = Path(source).expanduser()
    if not path.exists():
        raise GenderfaceError(f"{_named(source)}: no such file or folder; {_PATH_HELP}")
    if path.is_dir():
        log.info("source: folder %s", path)
        _take_faces(path, staging, source)
        return source
    if not path.name.lower().endswith(_ARCHIVE_SUFFIXES):
        raise GenderfaceError(f"{_named(source)}: not a supported archive; {_PATH_HELP}")
    log.info("source: archive %s", path)
    extracted = staging / "extracted"
    _extract(path, extracted)
    faces = find_faces_dir(extracted, source)
    faces.rename(staging / FACES)
    shutil.rmtree(extracted)
    return source


def _take_faces(root: Path, staging: Path, source: str) -> None:
    faces = find_faces_dir(root, source)
    total = sum(class_counts(faces).values())
    with tqdm(total=total, desc="copying", unit="file", mininterval=1.0) as progress:

        def copy(src: str, dst: str) -> None:
            try:
                shutil.copy2(src, dst)
            except OSError as err:
                # copytree would note the failure and go on to fail on every other file
                if full := disk_full(err, dst, _ROOM):
                    raise full from err
                raise
            progress.update()

        shutil.copytree(faces, staging / FACES, copy_function=copy)


def find_faces_dir(root: Path, source: str) -> Path:
    """The shallowest folder named faces/ under root that holds class folders with files."""
    candidates = [root] if root.name == FACES else []
    candidates += sorted(root.rglob(FACES), key=lambda p: (len(p.parts), str(p)))
    for candidate in candidates:
        classes = class_counts(candidate) if candidate.is_dir() else {}
        if len(classes) > 2:
            raise GenderfaceError(
                f"{_named(source)}: {FACES}/ has {len(classes)} class folders "
                f"({', '.join(classes)}); the model is binary, keep exactly two"
            )
        if len(classes) == 2:
            return candidate
    raise GenderfaceError(
        f"{_named(source)}: no {FACES}/<class>/ folders with images inside; "
        "lay it out like the Kaggle archive (faces/man/..., faces/woman/...)"
    )


def class_counts(faces: Path) -> dict[str, int]:
    """Files per class folder, for class folders that hold at least one file (sorted by name)."""
    return {name: len(files) for name, files in class_files(faces).items() if files}


def _extract(archive: Path, target: Path) -> None:
    """Extract refusing members that would land outside target (zip-slip, absolute paths, links)."""
    target.mkdir()
    try:
        if archive.name.lower().endswith(".zip"):
            with zipfile.ZipFile(archive) as zf:
                members = zf.infolist()
                for member in members:
                    _check_member(archive, target, member)
                with tqdm(members, desc="extracting", unit="file", mininterval=1.0) as progress:
                    for member in progress:
                        zf.extract(member, target)
        else:
            with (
                tarfile.open(archive) as tf,
                tqdm(tf, desc="extracting", unit="file", mininterval=1.0) as progress,
            ):
                tf.extractall(target, members=progress, filter=_tar_filter)
    except tarfile.FilterError as err:
        raise GenderfaceError(
            f"data.path {str(archive)!r}: member {err.tarinfo.name!r} points outside the "
            "archive or is not a plain file; refusing"
        ) from None
    except (zipfile.BadZipFile, tarfile.TarError, EOFError, OSError) as err:
        if full := disk_full(err, str(target), _ROOM):
            raise full from err
        raise GenderfaceError(
            f"data.path {str(archive)!r}: cannot extract ({err}); check the archive is complete"
        ) from err


def _tar_filter(member: tarfile.TarInfo, path: str) -> tarfile.TarInfo | None:
    """tarfile's "data" filter, refusing absolute names too (it would silently strip the "/")."""
    if Path(member.name).is_absolute():
        raise tarfile.AbsolutePathError(member)
    return tarfile.data_filter(member, path)


def _check_member(archive: Path, target: Path, member: zipfile.ZipInfo) -> None:
    name = member.filename
    resolved = (target / name).resolve()
    if Path(name).is_absolute() or not resolved.is_relative_to(target.resolve()):
        raise GenderfaceError(
            f"data.path {str(archive)!r}: member {name!r} points outside the archive; refusing"
        )
    # zipfile would write a link's target path as the file's bytes: a fake image, not a link.
    if stat.S_ISLNK(member.external_attr >> 16):
        raise GenderfaceError(
            f"data.path {str(archive)!r}: member {name!r} is a symbolic link; refusing"
        )
