"""Shared fixtures: tiny generated images and params, the real sample, a tiny trained model."""

import contextlib
import hashlib
import io
import json
import os
import re
import shutil
import socket
import struct
import subprocess
import sys
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

import numpy as np
import pytest
import yaml
from filelock import FileLock
from markdown_it import MarkdownIt
from PIL import Image

import genderface.entry_point  # noqa: F401 - as an entry point: TensorFlow's start-up kept quiet
from genderface.data.input_pipeline import TrainingData
from genderface.params import EvaluateParams, Params, parse_params

REPO = Path(__file__).resolve().parents[1]
SAMPLE_ZIP = REPO.parent / "shared" / "data" / "genderface-sample.zip"
FAIRFACE_ZIP = REPO.parent / "shared" / "data" / "fairface-540.zip"
LIGHT_INSTALL = REPO / "requirements-predict.txt"
PARITY_TOLERANCE = 1e-4
"""The largest difference README.md promises between the TF-Lite and the Keras model's
probabilities: written here, not imported from the export module the tests check."""
PER_SOURCE = ("download", "validate")  # dvc.yaml's foreach stages: <stage>@<source name>
FIRST_SOURCE = "archive"  # params.yaml's one source
STAGES = [
    f"{stage}@{FIRST_SOURCE}" if stage in PER_SOURCE else stage
    for stage in yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]
]
"""dvc.yaml's stages in pipeline order: what a `dvc repro` from nothing runs."""
ARCHIVE = f"data.sources.{FIRST_SOURCE}"  # its parameters' prefix: f"{ARCHIVE}.path"

pytest_plugins = ["pytester"]  # tests/test_shared_data.py runs pytest on tests of its own

os.environ["DVC_NO_ANALYTICS"] = "1"
os.environ.pop("GENDERFACE_VERBOSE", None)  # tests check the one-line errors, not tracebacks


GIT_ENV = {
    "GIT_AUTHOR_NAME": "genderface test",
    "GIT_AUTHOR_EMAIL": "test@genderface.invalid",
    "GIT_COMMITTER_NAME": "genderface test",
    "GIT_COMMITTER_EMAIL": "test@genderface.invalid",
}


def stages_run(log: str) -> list[str]:
    """The stages a `dvc repro` (or `make run`) log says it ran, in order."""
    return re.findall(r"Running stage '([\w@-]+)'", log)


def _project_env() -> dict[str, str]:
    """This process's environment with the test identity in git and this venv first on PATH."""
    return {
        **os.environ,
        **GIT_ENV,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "DVC_NO_ANALYTICS": "1",
    }


class Project:
    """A copy of this repository's files (as a fresh clone has them) in a new git repo."""

    def __init__(self, root: Path, template: "Project | None" = None) -> None:
        """A fresh repo from this repository's files, or a full copy of `template` (git, cache)."""
        self.root = root
        self.env = _project_env()
        if template is not None:
            shutil.copytree(template.root, root, symlinks=True, dirs_exist_ok=True)
            return
        files = subprocess.run(
            ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
            cwd=REPO,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split("\0")
        for name in filter(None, files):
            source = REPO / name
            if source.is_file():
                (root / name).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(source, root / name)
        self.run("git", "init", "-q")
        self.commit("project")

    @classmethod
    def opened(cls, root: Path) -> "Project":
        """The project another fixture already made at root."""
        project = cls.__new__(cls)
        project.root = root
        project.env = _project_env()
        return project

    @classmethod
    def cloned(cls, source: "Project", root: Path) -> "Project":
        """A `git clone` of source at root, running the clone's own package, as a user gets it."""
        subprocess.run(["git", "clone", "--quiet", str(source.root), str(root)], check=True)
        project = cls.__new__(cls)
        project.root = root
        project.env = {**source.env, "PYTHONPATH": str(root / "src")}
        return project

    def run(self, *args: str) -> str:
        result = subprocess.run(
            args, cwd=self.root, env=self.env, capture_output=True, text=True, timeout=1500
        )
        assert result.returncode == 0, f"{args} failed:\n{result.stdout}\n{result.stderr}"
        return result.stdout + result.stderr

    def shell(self, command: str) -> str:
        """Run one command line as a user types it (documented commands), in the project's venv."""
        return self.run("bash", "-euo", "pipefail", "-c", command)

    def commit(self, message: str) -> None:
        self.run("git", "add", "-A")
        self.run("git", "commit", "-q", "-m", message)

    def set_params(self, **overrides: object) -> None:
        write_params(self.root, **overrides)

    def repro(self, *args: str) -> list[str]:
        """Run dvc repro (with args, as `-s stage`); return the names of the stages that ran."""
        return stages_run(self.run("dvc", "repro", *args))

    def changed(self) -> set[str]:
        """Stage names `dvc status` reports as changed (each heads an unindented line)."""
        return set(re.findall(r"^([\w@-]+):$", self.run("dvc", "status"), re.MULTILINE))

    def json(self, path: str) -> dict:
        return json.loads((self.root / path).read_text())


LONGEST_FIRST = (
    "test_pipeline.py",
    "test_tracked_inputs.py",
    "test_benchmarks.py",
    "test_compare.py",
    "test_distributed.py",
    "test_cpu_kernels.py",
    "test_resume.py",
    "test_experiments.py",
    "test_multi_source.py",
    "test_rerun_scope.py",
    "test_faults.py",
    "test_branches.py",
    "test_training.py",
    "test_stages.py",
)
"""The modules that took about a minute or more in a measured run (docs/development.md), the
four longest first. `make test` gives each module whole to one of its workers in collection
order: these go first, so the modules left for the end take seconds and no worker is left
running a long one alone."""


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """LONGEST_FIRST's modules first, in its order; the rest as collected."""
    rank = {name: index for index, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))


MARKDOWN = MarkdownIt("commonmark").enable("table")


def doc_blocks(doc: str | Path, heading: str) -> list[list[str]]:
    """The ```sh blocks of one section of README.md or docs/<name>.md (`doc`, relative to the
    repository), each a list of commands as a user would type them.

    The section is the one heading titled `heading` (it must be unique) down to the next heading
    of the same or a higher level, subsections included. Comments are dropped and backslash
    continuations joined, so tests can run the documented commands literally (after swapping
    example hosts and paths for the test's own).
    """
    tokens = MARKDOWN.parse((REPO / doc).read_text())
    starts = [
        i
        for i, token in enumerate(tokens)
        if token.type == "heading_open" and tokens[i + 1].content == heading
    ]
    assert len(starts) == 1, f"{doc}: {len(starts)} headings titled {heading!r}, expected one"
    level = tokens[starts[0]].tag
    blocks = []
    for token in tokens[starts[0] + 1 :]:
        if token.type == "heading_open" and token.tag <= level:
            break
        if token.type == "fence" and token.info == "sh":
            joined = re.sub(r"\\\n\s*", "", token.content)
            commands = [re.sub(r"\s+#\s.*$", "", line).strip() for line in joined.splitlines()]
            blocks.append([c for c in commands if c and not c.startswith("#")])
    return blocks


def tiny_params_dict(**overrides: object) -> dict:
    """The project's params.yaml shrunk to CPU-test size; overrides are dotted keys."""
    raw = yaml.safe_load((REPO / "params.yaml").read_text())
    settings = {
        "data.image_size": 32,
        "data.demo": {"man": 26, "woman": 14, "size": 48, "seed": 0},
        "train.recipe": "transfer",  # no warm-up: the recipe most tests exercise
        "train.warmup_epochs": 0,
        "model.batch_norm": False,
        "train.epochs": 1,
        # phase 1 only: phase 2 (tracing the unfrozen model again) would double the cost of each
        # tiny train; the tests of phase 2 ask for it with TWO_PHASES
        "train.fine_tune_blocks": 0,
        "train.fine_tune_epochs": 1,
        "train.batch_size": 16,
        "model.head_units": 8,
        **overrides,
    }
    for dotted, value in settings.items():
        *parents, leaf = dotted.split(".")
        node = raw
        for key in parents:
            node = node[key]
        node[leaf] = value
    return raw


TWO_PHASES = {"train.fine_tune_blocks": 2}
"""tiny_params_dict's overrides for the transfer recipe's phase 2 (VGG16's top two blocks)."""


def normalised(name: str) -> str:
    """A distribution's name as PyPI compares them (PEP 503)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def pins(path: Path) -> dict[str, str]:
    """{normalised name: version} of a requirements file's `name==version` lines."""
    found = {}
    for line in path.read_text().splitlines():
        line = line.split("#")[0].strip()
        if line and not line.startswith("-"):
            name, version = line.split("==")
            found[normalised(name)] = version
    return found


def tree_digest(root: Path) -> dict[str, str]:
    """SHA-256 of every file under root, by its path relative to root."""
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def free_ports(count: int) -> list[int]:
    """Distinct free ports on 127.0.0.1: every socket stays bound until all of them are chosen."""
    with contextlib.ExitStack() as stack:
        sockets = [stack.enter_context(socket.socket()) for _ in range(count)]
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]


def write_params(folder: Path, **overrides: object) -> None:
    """folder/params.yaml: the tiny params with dotted overrides."""
    (folder / "params.yaml").write_text(
        yaml.safe_dump(tiny_params_dict(**overrides), sort_keys=False)
    )


def run_stage(name: str, cwd: Path, *args: str, **kwargs) -> subprocess.CompletedProcess:
    """`python stages/<name>.py` in cwd, as DVC runs it; kwargs go to subprocess.run, and `env`
    adds to the environment (a None value removes the variable)."""
    added = kwargs.pop("env", {})
    env = {k: v for k, v in {**os.environ, **added}.items() if v is not None}
    return subprocess.run(
        [sys.executable, str(REPO / "stages" / f"{name}.py"), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        **kwargs,
    )


def evaluate_params(**overrides: object) -> EvaluateParams:
    """The project's evaluate params with some keys replaced (batch_size=4, ...)."""
    return parse_params(tiny_params_dict()).evaluate.model_copy(update=overrides)


@pytest.fixture
def tiny_params() -> Params:
    return parse_params(tiny_params_dict())


def image_bytes(color: tuple[int, int, int], fmt: str = "JPEG", size: int = 40) -> bytes:
    """A small solid-colour image with some noise, encoded as fmt."""
    rng = np.random.default_rng(sum(color))
    pixels = np.clip(np.array(color) + rng.integers(-20, 21, (size, size, 3)), 0, 255)
    buffer = io.BytesIO()
    Image.fromarray(pixels.astype(np.uint8)).save(buffer, format=fmt)
    return buffer.getvalue()


def png_bytes(width: int, height: int, bit_depth: int, color_type: int, rows: bytes) -> bytes:
    """A PNG written by hand, for what Pillow cannot save (16-bit RGB) or must not (bombs)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, bit_depth, color_type, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def write_faces(root: Path, per_class: int = 6) -> Path:
    """root/faces/{man,woman}/<class>_<i>.jpg; every third one is PNG data under a .jpg name."""
    for label, color in (("man", (40, 60, 200)), ("woman", (200, 80, 40))):
        folder = root / "faces" / label
        folder.mkdir(parents=True)
        for i in range(per_class):
            fmt = "PNG" if i % 3 == 0 else "JPEG"
            shade = (color[0] + i, color[1], color[2])
            (folder / f"{label}_{i}.jpg").write_bytes(image_bytes(shade, fmt))
    return root


def write_utkface(
    root: Path, groups: list[tuple[int, int, int]], per_group: int, size: int = 40
) -> Path:
    """root/<age>_<gender>_<race>_<date>.jpg.chip.jpg, as UTKFace names its faces: per_group
    generated images (each unlike every other) for each (age, gender, race) of groups."""
    root.mkdir(parents=True)
    for n, (age, gender, race) in enumerate(groups):
        for i in range(per_group):
            shade = (20 * n % 250, 40 * i + 30 * gender, 60 * race + age)
            name = f"{age}_{gender}_{race}_2017010{n:03d}{i:04d}.jpg.chip.jpg"
            (root / name).write_bytes(image_bytes(shade, "JPEG", size=size))
    return root


def zip_folder(folder: Path, archive: Path, prefix: str = "") -> Path:
    """archive holding everything under folder (folders too, as zip tools write them), each by
    prefix + its path relative to folder, in sorted order."""
    with zipfile.ZipFile(archive, "w") as zf:
        for path in sorted(folder.rglob("*")):
            zf.write(path, prefix + path.relative_to(folder).as_posix())
    return archive


def in_ci() -> bool:
    """True under CI (CI=true, as .ci/run and hosted runners set it)."""
    return os.environ.get("CI", "").lower() in ("true", "1")


def unavailable(reason: str) -> NoReturn:
    """Skip the calling test saying why on a developer's machine; fail it in CI, where every
    test must run: a skip there would let the suite pass without what the test checks."""
    if in_ci():
        pytest.fail(f"{reason}; CI=true: every test must run here", pytrace=False)
    pytest.skip(reason)


def shared_data(archive: Path) -> Path:
    """archive (in the read-only ../shared/data beside the repository), or unavailable()."""
    if not archive.is_file():
        unavailable(f"{archive} not found (../shared/data is absent on this machine)")
    return archive


def require_sample() -> Path:
    """The real sample's path, or unavailable() saying why."""
    return shared_data(SAMPLE_ZIP)


def built_once(factory: pytest.TempPathFactory, name: str, build: Callable[[Path], None]) -> Path:
    """A folder `build` fills once per test run: pytest-xdist's workers (`make test` runs two)
    each have their own session, so the first to ask builds it under their common temporary
    folder while the other waits on a lock, then both read it."""
    if "PYTEST_XDIST_WORKER" not in os.environ:
        folder = factory.mktemp(name)
        build(folder)
        return folder
    shared = factory.getbasetemp().parent
    folder, done = shared / name, shared / f"{name}.done"
    with FileLock(shared / f"{name}.lock"):
        if not done.exists():
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir()
            build(folder)
            done.touch()
    return folder


@pytest.fixture(scope="session")
def fairface(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """fairface-540 extracted to a temporary folder (never into the repository), or
    unavailable()."""
    zipped = shared_data(FAIRFACE_ZIP)
    folder = tmp_path_factory.mktemp("fairface")
    with zipfile.ZipFile(zipped) as archive:
        archive.extractall(folder)
    return folder / "fairface-540"


@pytest.fixture
def sample_zip() -> Path:
    return require_sample()


def demo_training_data(work: Path, params: Params) -> TrainingData:
    """download -> split -> preprocess on demo images in `work`, ready for training.train."""
    from genderface.data.framing import Framing
    from genderface.data.preprocess import write_shards
    from genderface.data.sources import fetch
    from genderface.data.split import split, usable_files
    from genderface.data.validate import check_files

    source = params.data.sources[FIRST_SOURCE]
    fetch(FIRST_SOURCE, source, params.data.demo, work / "raw" / FIRST_SOURCE)
    checks = check_files(work / "raw", FIRST_SOURCE, source)
    manifest = split(usable_files(checks), params.split, [FIRST_SOURCE])
    image_size, per_shard = params.data.image_size, params.preprocess.images_per_shard
    framing = Framing.of(params.data)
    write_shards(manifest, work / "raw", work / "shards", image_size, per_shard, framing)
    return TrainingData.from_shards(work / "shards")


@pytest.fixture(scope="session")
def trained_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny model trained for one epoch on demo images: models/model.keras + model.json."""
    from genderface.modeling.model_file import save_classifier
    from genderface.modeling.training import train

    def build(work: Path) -> None:
        params = parse_params(tiny_params_dict())
        classifier = train(params, demo_training_data(work, params), callbacks=[])
        save_classifier(classifier, work / "models" / "model.keras")
        shutil.rmtree(work / "raw")

    return built_once(tmp_path_factory, "trained", build) / "models" / "model.keras"


@pytest.fixture(scope="session")
def exported_model(trained_model: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """trained_model converted as the export stage converts it: model.tflite + model.json."""
    from genderface.modeling.export import convert
    from genderface.modeling.model_file import load_classifier

    def build(folder: Path) -> None:
        (folder / "model.tflite").write_bytes(convert(load_classifier(trained_model).model))
        shutil.copy(trained_model.with_suffix(".json"), folder / "model.json")

    return built_once(tmp_path_factory, "exported", build) / "model.tflite"


@pytest.fixture(scope="session")
def reproduced_project(tmp_path_factory: pytest.TempPathFactory) -> Project:
    """The project with tiny params, `dvc repro` run and everything committed: copy, don't touch.

    One tiny pipeline run, shared by most end-to-end tests of the tiny project.
    """

    def build(root: Path) -> None:
        project = Project(root)
        project.set_params()
        project.repro()
        project.commit("tiny pipeline run")

    return Project.opened(built_once(tmp_path_factory, "reproduced", build))


RESEEDED = {"split.seed": 7, "data.face_margin": 0.45}
"""What reseeded_project changes from reproduced_project: another split and a wider face crop."""


@dataclass(frozen=True)
class Rerun:
    """A committed project after a params change and `dvc repro`: copy, don't touch."""

    project: Project
    stale: set[str]
    """What `dvc status` named after the change, before the repro."""
    ran: list[str]
    """The stages the repro ran, in order."""


@pytest.fixture(scope="session")
def reseeded_project(
    reproduced_project: Project, tmp_path_factory: pytest.TempPathFactory
) -> Rerun:
    """reproduced_project with RESEEDED set, rerun and committed on top of it (HEAD~1 is the
    original): one pipeline run shared by the rerun-scope and compare tests."""

    def build(folder: Path) -> None:
        project = Project(folder / "project", template=reproduced_project)
        project.set_params(**RESEEDED)
        record = {"stale": sorted(project.changed()), "ran": project.repro()}
        project.commit("another split seed and face margin")
        (folder / "rerun.json").write_text(json.dumps(record))

    folder = built_once(tmp_path_factory, "reseeded", build)
    record = json.loads((folder / "rerun.json").read_text())
    return Rerun(Project.opened(folder / "project"), set(record["stale"]), record["ran"])


@pytest.fixture(scope="session")
def sample_project(tmp_path_factory: pytest.TempPathFactory) -> Project:
    """The project on the real 3,000-image sample, `dvc repro` run and committed (without the
    sample: unavailable()): copy, don't touch. 32 px, phase 1 only (8 epochs on cached
    features): a model good enough that a forced threshold visibly hurts it, in about two
    minutes on 2 cores. Shared by the sample end-to-end test and compare's experiment test."""
    sample = require_sample()

    def build(root: Path) -> None:
        project = Project(root)
        project.set_params(
            **{
                f"{ARCHIVE}.source": "path",
                f"{ARCHIVE}.path": str(sample),
                "data.image_size": 32,
                "train.epochs": 8,
                "model.head_units": 256,
                "train.fine_tune_blocks": 0,
            }
        )
        assert project.repro() == STAGES
        project.commit("the sample, tiny model")

    return Project.opened(built_once(tmp_path_factory, "sample", build))
