"""Data sources: put one labelled dataset into data/raw/<name>, whatever its origin.

Each entry of `data.sources` names where it comes from: `demo` (synthetic, offline),
`kaggle:<owner>/<slug>[/versions/N]` (via kagglehub), or `path`: a local .zip / .tar.gz / .tgz /
.tar archive or a folder. `folder` picks a sub-folder of what arrives (Kaggle's UTKFace dataset
holds `UTKFace/` beside other folders). What lands in data/raw/<name> depends on how its labels
are read (`labels`): class folders become faces/<class>/<image>, as in the Kaggle archive; a
UTKFace folder or a folder with a labels CSV is taken as it is, and validate reads its labels.
The result is staged in a hidden temporary folder beside the destination and renamed into place
only when it is complete, so a failure never leaves a partial data/raw/<name>.
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
from genderface.data.folders import class_files, files_under
from genderface.data.kaggle import download
from genderface.errors import GenderfaceError
from genderface.fsutil import atomic_path, disk_full
from genderface.layout import FACES
from genderface.params import DemoParams, SourceParams

log = logging.getLogger("download")

KAGGLE_PREFIX = "kaggle:"
_ARCHIVE_SUFFIXES = (".zip", ".tar.gz", ".tgz", ".tar")
_PATH_HELP = "set it to a .zip/.tar.gz/.tgz/.tar archive or a folder"
_ROOM = "free space on that disk (data/raw, and DVC's cache as much again) and rerun"


@dataclass(frozen=True)
class SourceSummary:
    """What was downloaded: written to metrics/sources/<name>.json, so every run says what data
    it saw (its licence, a parameter only, is split's to report)."""

    name: str
    params: SourceParams
    resolved: str
    files: int

    @property
    def synthetic(self) -> bool:
        return self.params.source == "demo"

    def as_metrics(self) -> dict[str, object]:
        return {
            "source": self.params.read,
            "resolved": self.resolved,
            "synthetic": self.synthetic,
            "labels": self.params.labels,
            "downloaded_files": self.files,
        }


def fetch(name: str, params: SourceParams, demo: DemoParams, dest: Path) -> SourceSummary:
    """Materialize source `name` at dest, atomically (class folders at dest/faces/<class>/)."""
    where = Where(name, params)
    with atomic_path(dest) as staging:
        resolved = _materialize(where, demo, staging)
        if not staging.is_dir() or not (files := len(files_under(staging))):
            raise GenderfaceError(f"{where.origin()}: holds no files; {where.fix()}")
    return SourceSummary(name=name, params=params, resolved=resolved, files=files)


@dataclass(frozen=True)
class Where:
    """A source as messages name it: the parameter that says where it comes from, and its value."""

    name: str
    params: SourceParams

    def origin(self) -> str:
        key = "path" if self.params.source == "path" else "source"
        return f"data.sources.{self.name}.{key} {self.params.read!r}"

    def fix(self) -> str:
        return (
            f"check it, its folder ({self.params.folder!r}) and its labels "
            f"({self.params.labels}) in data.sources.{self.name}"
        )


def _materialize(where: Where, demo: DemoParams, staging: Path) -> str:
    """Fill staging; return the source with a Kaggle version made explicit."""
    source = where.params.read
    if source == "demo":
        log.info("%s: demo (SYNTHETIC images, for offline runs; not real faces)", where.name)
        staging.mkdir()
        write_demo(demo, staging / FACES)
        return source
    if source.startswith(KAGGLE_PREFIX):
        handle = source.removeprefix(KAGGLE_PREFIX)
        downloaded = download(handle, f"data.sources.{where.name}")
        _take(_selected(downloaded, where), staging, where, copy=True)
        version = re.search(r"versions/(\d+)", downloaded.as_posix())
        return f"{source.split('/versions/')[0]}/versions/{version[1]}" if version else source
    path = Path(source).expanduser()
    if not path.exists():
        raise GenderfaceError(f"{where.origin()}: no such file or folder; {_PATH_HELP}")
    if path.is_dir():
        log.info("%s: folder %s", where.name, path)
        _take(_selected(path, where), staging, where, copy=True)
        return source
    if not path.name.lower().endswith(_ARCHIVE_SUFFIXES):
        raise GenderfaceError(f"{where.origin()}: not a supported archive; {_PATH_HELP}")
    log.info("%s: archive %s", where.name, path)
    extracted = staging.with_name(staging.name + ".extracted")
    try:
        _extract(path, extracted, where)
        _take(_selected(extracted, where), staging, where, copy=False)
    finally:
        shutil.rmtree(extracted, ignore_errors=True)
    return source


def _selected(root: Path, where: Where) -> Path:
    """The source's `folder` inside what arrived."""
    selected = root / where.params.folder
    if not selected.is_dir():
        raise GenderfaceError(
            f"{where.origin()}: has no folder {where.params.folder!r}; set "
            f"data.sources.{where.name}.folder to one of its folders, or '' for all of it"
        )
    return selected


def _take(root: Path, staging: Path, where: Where, copy: bool) -> None:
    """Class folders (labels folders) into staging/faces; anything else as it is into staging.

    With labels folders and no `folder`, the class folders are found as the shallowest faces/
    folder (the Kaggle archive's layout); with a `folder`, they are its sub-folders."""
    if where.params.labels == "folders":
        faces = _class_folders(root, where) if where.params.folder else find_faces_dir(root, where)
        staging.mkdir()
        target = staging / FACES
    else:
        faces, target = root, staging
    if not copy:
        faces.rename(target)
        return
    total = len(files_under(faces))
    with tqdm(total=total, desc="copying", unit="file", mininterval=1.0) as progress:

        def copy_file(src: str, dst: str) -> None:
            try:
                shutil.copy2(src, dst)
            except OSError as err:
                # copytree would note the failure and go on to fail on every other file
                if full := disk_full(err, dst, _ROOM):
                    raise full from err
                raise
            progress.update()

        shutil.copytree(faces, target, copy_function=copy_file)


def _class_folders(faces: Path, where: Where) -> Path:
    """faces, when it holds exactly two class folders with files."""
    classes = class_counts(faces)
    if len(classes) != 2:
        raise GenderfaceError(
            f"{where.origin()}: {faces.name}/ has {len(classes)} class folders with files "
            f"({', '.join(classes) or 'none'}); the model is binary, keep exactly two"
        )
    return faces


def find_faces_dir(root: Path, where: Where) -> Path:
    """The shallowest folder named faces/ under root that holds class folders with files."""
    candidates = [root] if root.name == FACES else []
    candidates += sorted(root.rglob(FACES), key=lambda p: (len(p.parts), str(p)))
    for candidate in candidates:
        classes = class_counts(candidate) if candidate.is_dir() else {}
        if len(classes) > 2:
            raise GenderfaceError(
                f"{where.origin()}: {FACES}/ has {len(classes)} class folders "
                f"({', '.join(classes)}); the model is binary, keep exactly two"
            )
        if len(classes) == 2:
            return candidate
    raise GenderfaceError(
        f"{where.origin()}: no {FACES}/<class>/ folders with images inside; lay it out like "
        f"the Kaggle archive (faces/man/..., faces/woman/...), or name the folder of the class "
        f"folders in data.sources.{where.name}.folder"
    )


def class_counts(faces: Path) -> dict[str, int]:
    """Files per class folder, for class folders that hold at least one file (sorted by name)."""
    return {name: len(files) for name, files in class_files(faces).items() if files}


def _extract(archive: Path, target: Path, where: Where) -> None:
    """Extract refusing members that would land outside target (zip-slip, absolute paths, links)."""
    target.mkdir()
    try:
        if archive.name.lower().endswith(".zip"):
            with zipfile.ZipFile(archive) as zf:
                members = zf.infolist()
                for member in members:
                    _check_member(target, member, where)
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
            f"{where.origin()}: member {err.tarinfo.name!r} points outside the "
            "archive or is not a plain file; refusing"
        ) from None
    except (zipfile.BadZipFile, tarfile.TarError, EOFError, OSError) as err:
        if full := disk_full(err, str(target), _ROOM):
            raise full from err
        raise GenderfaceError(
            f"{where.origin()}: cannot extract ({err}); check the archive is complete"
        ) from err


def _tar_filter(member: tarfile.TarInfo, path: str) -> tarfile.TarInfo | None:
    """tarfile's "data" filter, refusing absolute names too (it would silently strip the "/")."""
    if Path(member.name).is_absolute():
        raise tarfile.AbsolutePathError(member)
    return tarfile.data_filter(member, path)


def _check_member(target: Path, member: zipfile.ZipInfo, where: Where) -> None:
    name = member.filename
    resolved = (target / name).resolve()
    if Path(name).is_absolute() or not resolved.is_relative_to(target.resolve()):
        raise GenderfaceError(
            f"{where.origin()}: member {name!r} points outside the archive; refusing"
        )
    # zipfile would write a link's target path as the file's bytes: a fake image, not a link.
    if stat.S_ISLNK(member.external_attr >> 16):
        raise GenderfaceError(f"{where.origin()}: member {name!r} is a symbolic link; refusing")
