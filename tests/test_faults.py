"""Bad input and failures, through the stage scripts and `genderface predict`, as users meet them.

Every case checks the same contract: exactly one `error: ...` line on stderr saying what is wrong,
a non-zero exit, no traceback (unless asked for with --verbose), and no partial output: nothing
half-written in the project, nothing written outside it, no `.*.tmp-*` leftovers.
"""

import contextlib
import hashlib
import http.server
import io
import os
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tarfile
import threading
import time
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
import yaml

from .conftest import (
    ARCHIVE,
    FIRST_SOURCE,
    PER_SOURCE,
    REPO,
    run_stage,
    tree_digest,
    write_faces,
    write_params,
    zip_folder,
)

KAGGLE_TEST_PORT = 7777  # kagglesdk's KAGGLE_API_ENVIRONMENT=TEST endpoint: http://localhost:7777
KAGGLE_HANDLE = "maciejgronczynski/biggest-genderface-recognition-dataset"
PATH_INSTEAD = f"set {ARCHIVE}.source to path and {ARCHIVE}.path to it"
"""How a Kaggle failure's message ends: the source's keys that read a downloaded archive."""


def _files(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if not p.is_dir())


def _assert_only_params_left(project: Path) -> None:
    """Nothing half-written: no file but params.yaml, and no temporary folder, even an empty one."""
    assert _files(project) == ["params.yaml"]
    assert not list(project.rglob(".*.tmp-*"))


def assert_one_line_failure(result: subprocess.CompletedProcess, message: str) -> None:
    assert result.returncode != 0, result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, result.stderr
    assert errors[0].startswith(f"error: {message}"), errors[0]
    assert "Traceback" not in result.stderr


@pytest.fixture
def project(tmp_path) -> Path:
    """An empty project folder: stages run here; inputs live beside it, in tmp_path."""
    root = tmp_path / "project"
    root.mkdir()
    return root


def _fails_leaving_only_params(
    project: Path, stage: str, message: str, **env: str
) -> subprocess.CompletedProcess:
    """`stage` (with the source's name, as `dvc repro` runs a per-source stage) fails so."""
    result = run_stage(stage, project, *_args(stage), env=env)
    assert_one_line_failure(result, message)
    _assert_only_params_left(project)
    return result


def _args(stage: str) -> list[str]:
    """A stage's arguments as dvc.yaml gives them: download@archive runs download.py archive."""
    return [FIRST_SOURCE] if stage in PER_SOURCE else []


# params.yaml: caught before any work, naming the key ------------------------------------------


# Each message is checked in-process by test_params.py; here one of them, through both stages
# that read params first, proves the stage stops with that one line before any work.
@pytest.mark.parametrize("stage", ["download", "split"])
def test_bad_params_stop_before_any_work(project, stage):
    write_params(project, **{"train.augment.flipp": True})
    message = "params.yaml: train.augment.flipp: unknown key; remove it or check its spelling"
    result = _fails_leaving_only_params(project, stage, message)
    assert len(result.stderr.splitlines()) == 1  # before any work: not even a log line


def test_params_yaml_that_is_not_yaml(project):
    (project / "params.yaml").write_text("data: [unclosed\n")
    _fails_leaving_only_params(project, "download", "params.yaml: not valid YAML")


# data.sources.<name>.path: archives and folders that cannot be used ----------------------------


def _zip(archive: Path, members: dict[str, bytes], links: dict[str, str] | None = None) -> Path:
    with zipfile.ZipFile(archive, "w") as zf:
        for name, data in members.items():
            zf.writestr(zipfile.ZipInfo(name), data)
        for name, target in (links or {}).items():
            link = zipfile.ZipInfo(name)
            link.external_attr = 0o120777 << 16  # S_IFLNK: what `zip --symlinks` writes
            zf.writestr(link, target)
    return archive


def _tar(archive: Path, faces_root: Path, extra: tarfile.TarInfo) -> Path:
    with tarfile.open(archive, "w:gz") as tf:
        tf.add(faces_root / "faces", arcname="faces")
        tf.addfile(extra, None if extra.issym() else io.BytesIO(b"x"))
    return archive


def _tar_member(name: str, symlink_to: str | None = None) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    if symlink_to is None:
        info.size = 1
    else:
        info.type, info.linkname = tarfile.SYMTYPE, symlink_to
    return info


def _text_file(path: Path) -> Path:
    path.write_text("not an archive")
    return path


def _truncated(archive: Path) -> Path:
    archive.write_bytes(archive.read_bytes()[: archive.stat().st_size // 2])
    return archive


def _faces_zip(archive: Path, inputs: Path) -> Path:
    return zip_folder(write_faces(inputs / f"src-{archive.stem}", per_class=6), archive)


def _faces_tgz(archive: Path, inputs: Path) -> Path:
    src = write_faces(inputs / f"src-{archive.stem}", per_class=6)
    with tarfile.open(archive, "w:gz") as tf:
        tf.add(src / "faces", arcname="faces")
    return archive


FACE = b"\xff\xd8 not really a jpeg"
BAD_SOURCES: dict[str, tuple[Callable[[Path], str], str]] = {
    "missing-path": (lambda d: str(d / "nope.zip"), "no such file or folder"),
    "not-an-archive": (lambda d: str(_text_file(d / "notes.txt")), "not a supported archive"),
    "no-class-folders": (
        lambda d: str(_zip(d / "flat.zip", {"man_1.jpg": FACE})),
        "no faces/<class>/ folders",
    ),
    "three-classes": (
        lambda d: str(
            _zip(d / "three.zip", {f"faces/{c}/a.jpg": FACE for c in ("man", "woman", "child")})
        ),
        "faces/ has 3 class folders",
    ),
    "zip-slip": (
        lambda d: str(
            _zip(d / "slip.zip", {"faces/man/a.jpg": FACE, "../../../evil.jpg": b"pwned"})
        ),
        "member '../../../evil.jpg' points outside the archive; refusing",
    ),
    "zip-absolute-path": (
        lambda d: str(
            _zip(d / "abs.zip", {"faces/man/a.jpg": FACE, f"{d}/evil-abs.jpg": b"pwned"})
        ),
        "member '/",
    ),
    "zip-symlink": (
        lambda d: str(
            _zip(
                d / "link.zip",
                {"faces/man/a.jpg": FACE, "faces/woman/b.jpg": FACE},
                {"faces/woman/passwd.jpg": "/etc/passwd"},
            )
        ),
        "member 'faces/woman/passwd.jpg' is a symbolic link; refusing",
    ),
    "tar-slip": (
        lambda d: str(
            _tar(d / "slip.tar.gz", write_faces(d / "ts", 1), _tar_member("../../evil.jpg"))
        ),
        "member '../../evil.jpg' points outside the archive",
    ),
    "tar-absolute-path": (
        lambda d: str(
            _tar(d / "abs.tar.gz", write_faces(d / "ta", 1), _tar_member(f"{d}/evil-abs.jpg"))
        ),
        "member '/",
    ),
    "tar-symlink-outside": (
        lambda d: str(
            _tar(
                d / "link.tar.gz",
                write_faces(d / "tl", 1),
                _tar_member("faces/man/passwd.jpg", symlink_to="/etc/passwd"),
            )
        ),
        "member 'faces/man/passwd.jpg' points outside",
    ),
    "truncated-zip": (
        lambda d: str(_truncated(_faces_zip(d / "cut.zip", d))),
        "cannot extract (",
    ),
    "truncated-tar-gz": (
        lambda d: str(_truncated(_faces_tgz(d / "cut.tar.gz", d))),
        "cannot extract (",
    ),
}


@pytest.mark.parametrize("case", list(BAD_SOURCES))
def test_bad_data_source(tmp_path, project, case):
    make, expected = BAD_SOURCES[case]
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    source = make(inputs)
    before = _files(tmp_path)
    write_params(project, **{f"{ARCHIVE}.source": "path", f"{ARCHIVE}.path": source})
    result = run_stage("download", project, FIRST_SOURCE)
    message = f"{ARCHIVE}.path {source!r}: {expected}"
    if case.startswith("truncated"):
        assert result.stderr.rstrip().endswith("check the archive is complete")
    assert_one_line_failure(result, message)
    _assert_only_params_left(project)
    assert _files(tmp_path) == sorted([*before, "project/params.yaml"])  # nothing written outside


# Kaggle: unreachable, or answering with an HTTP error ------------------------------------------


@contextmanager
def _kaggle_answering(status: int) -> Iterator[list[str]]:
    """A real HTTP server where kagglesdk's TEST environment looks; every call gets `status`."""
    requests_seen: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            requests_seen.append(self.path)
            body = b'{"code": %d, "message": "test server"}' % status
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", KAGGLE_TEST_PORT), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield requests_seen
    finally:
        server.shutdown()
        server.server_close()


def _kaggle_env(tmp_path: Path) -> dict[str, str]:
    return {
        "KAGGLE_API_ENVIRONMENT": "TEST",
        "KAGGLEHUB_CACHE": str(tmp_path / "kagglehub"),
        "KAGGLE_CONFIG_DIR": str(tmp_path / "no-kaggle-config"),
    }


def test_kaggle_unreachable(tmp_path, project):
    write_params(project, **{f"{ARCHIVE}.source": f"kaggle:{KAGGLE_HANDLE}"})
    _fails_leaving_only_params(
        project,
        "download",
        f"cannot reach Kaggle to download {KAGGLE_HANDLE!r} (ConnectionError); check the network, "
        f"or download the archive yourself and {PATH_INSTEAD}",
        **_kaggle_env(tmp_path),
    )


@pytest.mark.parametrize(
    ("status", "message"),
    [
        (401, f"Kaggle refused {KAGGLE_HANDLE!r} (401); set KAGGLE_USERNAME and KAGGLE_KEY"),
        (403, f"Kaggle refused {KAGGLE_HANDLE!r} (403); set KAGGLE_USERNAME and KAGGLE_KEY"),
        (404, f"Kaggle dataset {KAGGLE_HANDLE!r} not found; check {ARCHIVE}.source (owner/slug)"),
        (503, f"Kaggle answered 503 for {KAGGLE_HANDLE!r}; try again later"),
    ],
)
def test_kaggle_http_errors(tmp_path, project, status, message):
    write_params(project, **{f"{ARCHIVE}.source": f"kaggle:{KAGGLE_HANDLE}"})
    with _kaggle_answering(status) as seen:
        _fails_leaving_only_params(project, "download", message, **_kaggle_env(tmp_path))
    assert seen == ["/api/v1/datasets.DatasetApiService/GetDataset"]


@contextmanager
def _kaggle_silent() -> Iterator[list[socket.socket]]:
    """A loopback server where kagglesdk's TEST environment looks: it accepts every connection
    and never answers (the stalled network kagglesdk would wait on for ever)."""
    accepted: list[socket.socket] = []
    stop = threading.Event()
    with socket.create_server(("127.0.0.1", KAGGLE_TEST_PORT)) as server:
        server.settimeout(0.1)

        def accept() -> None:
            while not stop.is_set() and len(accepted) < 16:
                with contextlib.suppress(TimeoutError):
                    accepted.append(server.accept()[0])

        thread = threading.Thread(target=accept, daemon=True)
        thread.start()
        try:
            yield accepted
        finally:
            stop.set()
            thread.join(timeout=5)
            for conn in accepted:
                conn.close()


def test_kaggle_that_never_answers_fails_within_the_timeout(tmp_path, project):
    write_params(project, **{f"{ARCHIVE}.source": f"kaggle:{KAGGLE_HANDLE}"})
    env = _kaggle_env(tmp_path) | {"GENDERFACE_KAGGLE_TIMEOUT": "2"}
    with _kaggle_silent() as accepted:
        started = time.monotonic()
        _fails_leaving_only_params(
            project,
            "download",
            f"Kaggle did not answer within 2 s while downloading {KAGGLE_HANDLE!r} (ReadTimeout); "
            "check the network and rerun, set GENDERFACE_KAGGLE_TIMEOUT to wait longer, or "
            f"download the archive yourself and {PATH_INSTEAD}",
            **env,
        )
        elapsed = time.monotonic() - started
    assert len(accepted) == 1  # it connected, sent its request, and waited the 2 s
    assert 2 <= elapsed < 30  # the wait, plus the stage's start-up (no TensorFlow)


def test_kaggle_timeout_that_is_not_a_number(tmp_path, project):
    write_params(project, **{f"{ARCHIVE}.source": f"kaggle:{KAGGLE_HANDLE}"})
    env = _kaggle_env(tmp_path) | {"GENDERFACE_KAGGLE_TIMEOUT": "soon"}
    _fails_leaving_only_params(
        project,
        "download",
        "GENDERFACE_KAGGLE_TIMEOUT='soon': expected a number of seconds above 0; unset it for "
        "the default 60",
        **env,
    )


def test_verbose_adds_the_traceback_and_keeps_the_line(tmp_path, project):
    """--verbose (or GENDERFACE_VERBOSE=1, which `dvc repro` passes on) shows the cause too."""
    write_params(project, **{f"{ARCHIVE}.source": f"kaggle:{KAGGLE_HANDLE}"})
    for args, env in ((("--verbose",), {}), ((), {"GENDERFACE_VERBOSE": "1"})):
        result = run_stage(
            "download", project, FIRST_SOURCE, *args, env=_kaggle_env(tmp_path) | env
        )
        assert result.returncode == 1
        assert "Traceback (most recent call last)" in result.stderr
        assert "requests.exceptions.ConnectionError" in result.stderr
        assert result.stderr.splitlines()[-1].startswith("error: cannot reach Kaggle")
        _assert_only_params_left(project)


# preprocess: a target that fills up mid-write --------------------------------------------------


def _limit_file_size(limit: int) -> Callable[[], None]:
    """For the child: files may not grow past `limit` bytes; writes then fail with EFBIG, as on a
    full disk (SIGXFSZ ignored so the write returns the error instead of killing the process)."""

    def apply() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return apply


@pytest.mark.slow
def test_preprocess_target_full_leaves_no_partial_shards(project):
    write_params(project, **{"preprocess.images_per_shard": 8})
    for stage in ("download", "validate", "split", "preprocess"):
        assert run_stage(stage, project, *_args(stage)).returncode == 0
    shards = project / "data" / "shards"
    before = tree_digest(shards)
    assert len(before) == 1 + 4 + 1 + 1  # meta.json; train 28/8, test 8/8, validation 4/8
    write_params(project, **{"preprocess.images_per_shard": 8, "data.image_size": 48})
    result = run_stage("preprocess", project, preexec_fn=_limit_file_size(20_000))
    assert_one_line_failure(result, "OutOfRangeError: data/.shards.tmp-")
    assert "File too large; rerun with --verbose" in result.stderr
    assert tree_digest(shards) == before  # the old complete shards, untouched
    assert not list((project / "data").glob(".*.tmp-*"))


# download: killed half-way, then run again ------------------------------------------------------


@pytest.mark.slow
def test_interrupted_download_restarts_cleanly(tmp_path, project):
    rng = np.random.default_rng(0)
    archive = tmp_path / "big.zip"
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_STORED) as zf:
        for i in range(3000):
            label = "man" if i % 3 else "woman"
            zf.writestr(f"faces/{label}/{label}_{i}.jpg", FACE + rng.bytes(16_000))
    write_params(project, **{f"{ARCHIVE}.source": "path", f"{ARCHIVE}.path": str(archive)})
    raw = project / "data" / "raw"
    killed = subprocess.Popen(
        [sys.executable, str(REPO / "stages" / "download.py"), FIRST_SOURCE],
        cwd=project,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    # the archive is extracted beside data/raw/<name>'s staging folder, in a hidden sibling
    leftovers = f".{FIRST_SOURCE}.tmp-*"
    deadline = time.monotonic() + 120
    staged: list[Path] = []
    while time.monotonic() < deadline and killed.poll() is None:
        staged = list(raw.glob(f"{leftovers}/faces/*/*.jpg"))
        if len(staged) > 100:
            break
        time.sleep(0.05)
    os.kill(killed.pid, signal.SIGKILL)
    killed.wait()
    assert len(staged) > 100, "the download finished before it could be interrupted"
    assert not (raw / FIRST_SOURCE).exists()
    assert list(raw.glob(leftovers))  # the killed run's half-extracted leftovers

    result = run_stage("download", project, FIRST_SOURCE)
    assert result.returncode == 0, result.stderr
    assert not list(project.rglob(".*.tmp-*"))
    with zipfile.ZipFile(archive) as zf:
        expected = {n: hashlib.sha256(zf.read(n)).hexdigest() for n in zf.namelist()}
    assert tree_digest(raw) == {f"{FIRST_SOURCE}/{name}": sha for name, sha in expected.items()}
    downloaded = project / "metrics" / "sources" / f"{FIRST_SOURCE}.json"
    assert yaml.safe_load(downloaded.read_text())["downloaded_files"] == 3000


# predict: a model file that is missing or corrupt ----------------------------------------------


def _predict(model: Path, image: Path) -> subprocess.CompletedProcess:
    exe = Path(sys.executable).with_name("genderface")
    return subprocess.run(
        [str(exe), "predict", "--model", str(model), str(image)],
        capture_output=True,
        text=True,
        env={k: v for k, v in os.environ.items() if not k.startswith("TF_")},
        timeout=300,
    )


@pytest.mark.parametrize("kind", ["keras", "tflite"])
@pytest.mark.parametrize("case", ["missing", "truncated", "sidecar-missing", "sidecar-broken"])
def test_predict_with_a_bad_model(trained_model, exported_model, tmp_path, case, kind):
    image = write_faces(tmp_path / "images", per_class=1) / "faces" / "man" / "man_0.jpg"
    models = tmp_path / "models"
    shutil.copytree((trained_model if kind == "keras" else exported_model).parent, models)
    model = models / f"model.{kind}"
    expected = f"{model}: cannot load the model (ValueError); rebuild it with dvc repro"
    if case == "missing":
        model.unlink()
        expected = f"{model}: model file not found; run `dvc repro` first"
    elif case == "truncated":
        model.write_bytes(model.read_bytes()[: model.stat().st_size // 2])
    elif case == "sidecar-broken":
        (models / "model.json").write_text('{"classes": ["man", "woman"]}')
        expected = (
            f"{models / 'model.json'}: not a model sidecar (KeyError); rebuild it with dvc repro"
        )
    else:
        (models / "model.json").unlink()
        expected = f"{models / 'model.json'}: model file not found; run `dvc repro` first"
    result = _predict(model, image)
    assert result.stderr.splitlines() == [f"error: {expected}"]
    assert result.returncode == 1
    assert result.stdout == ""
