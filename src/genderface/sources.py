"""Data sources: put a dataset laid out as faces/<class>/<image> into data/raw, whatever its origin.

`data.source` selects one of: `demo` (synthetic, offline), `kaggle:<owner>/<slug>[/versions/N]`
(via kagglehub), or `path`: the local .zip / .tar.gz / .tgz / .tar archive or directory named by
`data.path` (params.DataParams.read hands `fetch` one of the three). The result is staged in a
hidden temporary folder beside the destination and renamed into place only when it is
complete, so a failure never leaves a partial data/raw.
"""

import logging
import os
import re
import shutil
import stat
import tarfile
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tqdm import tqdm

from genderface.demo import write_demo
from genderface.errors import GenderfaceError
from genderface.folders import class_files
from genderface.fsutil import atomic_path
from genderface.layout import FACES
from genderface.params import DemoParams

log = logging.getLogger("download")

KAGGLE_PREFIX = "kaggle:"
_KAGGLE_HANDLE = re.compile(r"^[\w.-]+/[\w.-]+(/versions/\d+)?$")
_ARCHIVE_SUFFIXES = (".zip", ".tar.gz", ".tgz", ".tar")
KAGGLE_TIMEOUT = 60.0
"""Seconds Kaggle may stay silent (connecting, or between two answers) before download gives up."""
KAGGLE_TIMEOUT_ENV = "GENDERFACE_KAGGLE_TIMEOUT"  # overrides KAGGLE_TIMEOUT, e.g. on slow links
_PATH_HELP = "set data.path to a .zip/.tar.gz/.tgz/.tar archive or a folder"


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
        downloaded = _download_kaggle(handle)
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
            shutil.copy2(src, dst)
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
        raise GenderfaceError(
            f"data.path {str(archive)!r}: cannot extract ({err}); check the archive is complete"
        ) from None


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


def _download_kaggle(handle: str) -> Path:
    """Download through kagglehub (its own cache; credentials from env or ~/.kaggle)."""
    import kagglehub
    import requests
    from kagglehub.exceptions import KaggleApiHTTPError, NotFoundError, UnauthenticatedError

    if not _KAGGLE_HANDLE.match(handle):
        raise GenderfaceError(
            f"data.source 'kaggle:{handle}': expected kaggle:<owner>/<slug>[/versions/N]"
        )
    log.info("source: Kaggle dataset %s (via kagglehub)", handle)
    timeout = _kaggle_timeout()
    try:
        with _requests_time_out(timeout):
            return Path(kagglehub.dataset_download(handle))
    except (NotFoundError, UnauthenticatedError, KaggleApiHTTPError) as err:
        status = getattr(getattr(err, "response", None), "status_code", None)
        if isinstance(err, NotFoundError) or status == 404:
            raise GenderfaceError(
                f"Kaggle dataset {handle!r} not found; check data.source (owner/slug)"
            ) from None
        if isinstance(err, UnauthenticatedError) or status in (401, 403):
            raise GenderfaceError(
                f"Kaggle refused {handle!r} ({status or type(err).__name__}); set KAGGLE_USERNAME "
                "and KAGGLE_KEY or ~/.kaggle/kaggle.json, and accept the dataset's terms on "
                "kaggle.com"
            ) from None
        raise GenderfaceError(
            f"Kaggle answered {status} for {handle!r}; try again later, or download the archive "
            "yourself and set data.source to path and data.path to it"
        ) from None
    except requests.Timeout as err:
        raise GenderfaceError(
            f"Kaggle did not answer within {timeout:g} s while downloading {handle!r} "
            f"({type(err).__name__}); check the network and rerun, set {KAGGLE_TIMEOUT_ENV} to "
            "wait longer, or download the archive yourself and set data.source to path and "
            "data.path to it"
        ) from None
    except requests.RequestException as err:
        raise GenderfaceError(
            f"cannot reach Kaggle to download {handle!r} ({type(err).__name__}); check the "
            "network, or download the archive yourself and set data.source to path and data.path "
            "to it"
        ) from None
    except Exception as err:  # kagglehub's other failures: backend, corrupt download, env
        reason = str(err).splitlines()[0] if str(err) else ""
        raise GenderfaceError(
            f"Kaggle download of {handle!r} failed ({type(err).__name__}: {reason}); rerun, or "
            "download the archive yourself and set data.source to path and data.path to it"
        ) from None


def _kaggle_timeout() -> float:
    raw = os.environ.get(KAGGLE_TIMEOUT_ENV, "")
    try:
        seconds = float(raw) if raw else KAGGLE_TIMEOUT
    except ValueError:
        seconds = 0.0
    if not 0 < seconds < float("inf"):
        raise GenderfaceError(
            f"{KAGGLE_TIMEOUT_ENV}={raw!r}: expected a number of seconds above 0; unset it for "
            f"the default {KAGGLE_TIMEOUT:g}"
        )
    return seconds


@contextmanager
def _requests_time_out(seconds: float) -> Iterator[None]:
    """Give every HTTP request sent inside a timeout where it has none.

    kagglesdk (under kagglehub) sends its API calls without one, so a server that accepts the
    connection and never answers would hang the stage for ever. requests has no per-session
    default, and the session is kagglesdk's, so the default goes on the transport adapter for
    the length of the download. `seconds` bounds connecting and each wait for data; kagglehub
    does not retry, so it bounds the stall.
    """
    from requests import PreparedRequest, Response
    from requests.adapters import HTTPAdapter

    send = HTTPAdapter.send

    def send_with_timeout(self: HTTPAdapter, request: PreparedRequest, **kwargs: Any) -> Response:
        if kwargs.get("timeout") is None:  # requests.Session.send passes it by keyword
            kwargs["timeout"] = seconds
        return send(self, request, **kwargs)

    HTTPAdapter.send = send_with_timeout
    try:
        yield
    finally:
        HTTPAdapter.send = send
