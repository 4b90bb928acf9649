"""Files named by params.yaml are tracked by content: `dvc status` and `dvc repro` in a real repo.

A source's path (data.sources.<name>.path: a folder or an archive), model.weights_file and
evaluate.external are dvc.yaml dependencies templated from params.yaml: a changed, added or
removed file makes its reader stale (`dvc status`) and `dvc repro` reruns it and what it changes;
the same bytes rewritten, or a touched file, rerun nothing.
"""

import os
from pathlib import Path

import pytest

from .conftest import (
    ARCHIVE,
    FIRST_SOURCE,
    STAGES,
    Project,
    image_bytes,
    write_faces,
    zip_folder,
)

pytestmark = [pytest.mark.slow]

UP_TO_DATE = "Data and pipelines are up to date."
FACES = "inputs/faces"  # inside the project, as a user might keep it (git-ignored or not)
EXTERNAL = "inputs/external/faces"
WEIGHTS = "inputs/vgg16_notop.weights.h5"
FAST = {"evaluate.mistakes": 2, "data.framing": "whole"}  # generated images hold no face


def _save_vgg16_weights(path: Path, seed: int) -> None:
    """VGG16 no-top weights as the train stage loads them, from a random model (no download)."""
    import keras

    keras.utils.set_random_seed(seed)
    base = keras.applications.VGG16(include_top=False, weights=None, input_shape=(32, 32, 3))
    base.save_weights(path)


@pytest.fixture(scope="module")
def tracked_project(tmp_path_factory: pytest.TempPathFactory) -> Project:
    """The tiny project reading a folder source, a weights file and an external folder."""
    project = Project(tmp_path_factory.mktemp("tracked"))
    root = project.root
    write_faces(root / FACES, per_class=10)
    write_faces(root / EXTERNAL.removesuffix("/faces"), per_class=3)
    _save_vgg16_weights(root / WEIGHTS, seed=1)
    project.set_params(
        **FAST,
        **{f"{ARCHIVE}.source": "path", f"{ARCHIVE}.path": FACES, "model.weights": "file"},
        **{"model.weights_file": WEIGHTS, "evaluate.external": EXTERNAL},
    )
    assert project.repro() == STAGES
    project.commit("tiny pipeline on tracked inputs")
    return project


@pytest.fixture
def project(tracked_project: Project, tmp_path: Path) -> Project:
    return Project(tmp_path / "project", template=tracked_project)


def _assert_up_to_date(project: Project) -> None:
    out = project.run("dvc", "repro")  # says what `dvc status` would, and proves nothing runs
    assert UP_TO_DATE in out
    assert "Running stage" not in out


def _assert_same_bytes_and_touch_rerun_nothing(project: Project, path: Path) -> None:
    path.write_bytes(path.read_bytes())  # a new mtime and inode data, the same content
    _assert_up_to_date(project)
    later = path.stat().st_mtime + 3600
    os.utime(path, (later, later))
    _assert_up_to_date(project)


def _assert_reruns(project: Project, stages: list[str]) -> None:
    """`dvc status` names the reader of the changed input; `dvc repro` reruns it onwards."""
    assert project.changed() == {stages[0]}
    assert project.repro() == stages
    _assert_up_to_date(project)


DOWNLOAD = f"download@{FIRST_SOURCE}"
DOWNLOADED = f"metrics/sources/{FIRST_SOURCE}.json"  # what it was, how many files
IMAGES_READ = {f"validate@{FIRST_SOURCE}", "preprocess"}  # the stages reading download's images
COUNTS_READ = {*IMAGES_READ, "split"}  # and the one reading its counts (DOWNLOADED)


def _assert_reader_reruns(project: Project, reader: str, stale: set[str]) -> None:
    """`dvc status` names the reader of the changed input; it reruns alone, and what it wrote
    changed: the stages reading that are stale. The whole chain after a change is
    `_assert_reruns`' part (the external test; test_rerun_scope for longer chains)."""
    assert reader in project.changed()  # with what an earlier call left stale
    assert project.repro("-s", reader) == [reader]
    assert project.changed() == stale


def _raw_counts(project: Project) -> dict[str, int]:
    """Files per class folder download wrote (data/raw/<name>/faces/<class>)."""
    faces = project.root / "data" / "raw" / FIRST_SOURCE / "faces"
    return {folder.name: len(list(folder.iterdir())) for folder in sorted(faces.iterdir())}


def test_folder_source_tracked_by_content(project):
    man = project.root / FACES / "faces" / "man"
    _assert_same_bytes_and_touch_rerun_nothing(project, man / "man_1.jpg")
    (man / "man_1.jpg").write_bytes(image_bytes((99, 0, 99)))
    _assert_reader_reruns(project, DOWNLOAD, IMAGES_READ)
    (man / "man_new.jpg").write_bytes(image_bytes((0, 99, 99)))
    _assert_reader_reruns(project, DOWNLOAD, COUNTS_READ)
    assert project.json(DOWNLOADED)["downloaded_files"] == 21
    assert _raw_counts(project) == {"man": 11, "woman": 10}
    (man / "man_2.jpg").unlink()  # back to the counts dvc.lock holds: split is up to date
    _assert_reader_reruns(project, DOWNLOAD, IMAGES_READ)
    assert project.json(DOWNLOADED)["downloaded_files"] == 20
    assert _raw_counts(project) == {"man": 10, "woman": 10}


def test_zip_source_outside_the_project_tracked_by_content(project, tmp_path):
    """An archive given by absolute path, outside the repository (as `../data/faces.zip`)."""
    folder = project.root / FACES
    archive = tmp_path / "faces.zip"
    zip_folder(folder, archive)
    project.set_params(
        **FAST,
        **{f"{ARCHIVE}.source": "path", f"{ARCHIVE}.path": str(archive)},
        **{"model.weights": "file"},
        **{"model.weights_file": WEIGHTS, "evaluate.external": EXTERNAL},
    )
    # The same images from a zip: data/raw is unchanged, so only split, which lists the sources
    # (metrics/data.json), and evaluate, which reports them in the card, follow download.
    assert project.repro() == [DOWNLOAD, "split", "evaluate"]
    assert project.json(DOWNLOADED)["source"] == str(archive)
    assert project.json("metrics/data.json")["sources"][FIRST_SOURCE]["source"] == str(archive)
    _assert_same_bytes_and_touch_rerun_nothing(project, archive)
    woman = folder / "faces" / "woman"
    for change, stale in (
        (lambda: (woman / "woman_1.jpg").write_bytes(image_bytes((5, 5, 250))), IMAGES_READ),
        (lambda: (woman / "woman_new.jpg").write_bytes(image_bytes((5, 250, 5))), COUNTS_READ),
        (lambda: (woman / "woman_2.jpg").unlink(), IMAGES_READ),  # the locked counts again
    ):
        change()
        zip_folder(folder, archive)
        _assert_reader_reruns(project, DOWNLOAD, stale)
    assert project.json(DOWNLOADED)["downloaded_files"] == 20
    assert _raw_counts(project) == {"man": 10, "woman": 10}


def test_weights_file_tracked_by_content(project):
    weights = project.root / WEIGHTS
    _assert_same_bytes_and_touch_rerun_nothing(project, weights)
    _save_vgg16_weights(weights, seed=2)
    assert project.changed() == {"train"}  # its one reader, nothing else
    _assert_reader_reruns(project, "train", {"export", "evaluate"})


def test_external_folder_tracked_by_content(project):
    woman = project.root / EXTERNAL / "woman"
    _assert_same_bytes_and_touch_rerun_nothing(project, woman / "woman_1.jpg")
    (woman / "woman_1.jpg").write_bytes(image_bytes((1, 2, 3)))
    _assert_reruns(project, ["evaluate"])
    removed = woman / "woman_2.jpg"
    kept = removed.read_bytes()
    removed.unlink()
    assert project.changed() == {"evaluate"}
    removed.write_bytes(kept)  # the folder dvc.lock records again: nothing to rerun
    _assert_up_to_date(project)
    (woman / "new.jpg").write_bytes(image_bytes((3, 2, 1)))
    _assert_reruns(project, ["evaluate"])
    assert project.json("metrics/eval/metrics.json")["external"]["images"] == 7
