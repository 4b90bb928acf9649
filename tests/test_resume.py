"""A train stage killed with SIGKILL mid-phase, then `dvc repro`, ends on exactly the model and
metrics of a run that was never killed: early stopping's state, the seeds, the shuffle order, the
learning-rate schedule and the curves all survive the kill."""

import json
import re
import subprocess
import time
from pathlib import Path
from typing import NamedTuple

import psutil
import pytest

from genderface.modeling.model_file import load_classifier

from .conftest import TWO_PHASES, Project, tree_digest

pytestmark = [pytest.mark.slow, pytest.mark.timeout(2400)]

HEAD_EPOCHS, FINE_TUNE_EPOCHS = 3, 3
PARAMS = {
    **TWO_PHASES,
    "train.epochs": HEAD_EPOCHS,
    "train.fine_tune_epochs": FINE_TUNE_EPOCHS,
    "train.early_stopping_patience": 2,
    # Phase 1 through the whole model (not on cached features), so its epochs last long
    # enough to be killed in.
    "train.augment_head": True,
}


@pytest.fixture(scope="module")
def uninterrupted(reproduced_project: Project, tmp_path_factory: pytest.TempPathFactory) -> Project:
    """The tiny project with these params, its train stage onwards run once, never killed, and
    committed."""
    project = Project(tmp_path_factory.mktemp("uninterrupted"), template=reproduced_project)
    project.set_params(**PARAMS)
    assert project.repro() == ["train", "export", "evaluate"]
    project.commit("uninterrupted run")
    return project


def _train_process(dvc: subprocess.Popen) -> psutil.Process | None:
    """The Python process itself: with SHELL unset, dvc runs the cmd under `/bin/sh -c`, whose
    command line also mentions the script, and killing that shell would orphan the stage."""
    for child in psutil.Process(dvc.pid).children(recursive=True):
        try:
            if "stages/train.py" in child.cmdline():
                return child
        except psutil.NoSuchProcess:
            continue
    return None


class Killed(NamedTuple):
    epochs: int
    """The epochs the phase's snapshot holds."""
    log: str
    """What the killed `dvc repro` printed."""


def _kill_after_first_snapshot(project: Project, phase: str) -> Killed:
    """`dvc repro -f -s train`, SIGKILLed as soon as `phase` has saved an epoch of this run."""
    snapshot = project.root / "data/train-backup" / phase / "state.json"
    assert not snapshot.exists()
    dvc = subprocess.Popen(
        ["dvc", "repro", "-f", "-s", "train"],
        cwd=project.root,
        env=project.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    deadline = time.monotonic() + 900
    while not snapshot.exists() and dvc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    stage = _train_process(dvc)
    assert snapshot.exists() and stage is not None, f"{phase} never completed an epoch"
    stage.kill()
    log = dvc.communicate(timeout=120)[0]
    assert dvc.returncode != 0, log[-2000:]
    return Killed(json.loads(snapshot.read_text())["epoch"], log)


def _first_epoch(log: str) -> int:
    return int(re.search(r"Epoch (\d+)/", log).group(1))


def test_killed_in_each_phase_then_resumed_ends_on_the_uninterrupted_model_and_metrics(
    tmp_path: Path, uninterrupted: Project
):
    """Killed in phase 1, resumed and killed again in phase 2, then resumed to the end."""
    project = Project(tmp_path, template=uninterrupted)
    head = _kill_after_first_snapshot(project, "head")
    assert 1 <= head.epochs < HEAD_EPOCHS, "killed mid-phase, with epochs left to run"
    models = tmp_path / "models"
    assert not (models / "model.keras").exists(), "nothing half-written"

    fine_tune = _kill_after_first_snapshot(project, "fine_tune")
    assert f"resuming after epoch {head.epochs}" in fine_tune.log
    assert _first_epoch(fine_tune.log) == head.epochs + 1, "resumed after the last epoch"
    assert HEAD_EPOCHS < fine_tune.epochs < HEAD_EPOCHS + FINE_TUNE_EPOCHS
    assert not (models / "model.keras").exists(), "nothing half-written"

    log = project.run("dvc", "repro")
    assert f"resuming after epoch {fine_tune.epochs}" in log
    assert _first_epoch(log) == fine_tune.epochs + 1, "resumed after the last completed epoch"
    assert not (tmp_path / "data/train-backup").exists()
    assert (models / "model.keras").read_bytes() == (
        uninterrupted.root / "models/model.keras"
    ).read_bytes()
    assert tree_digest(tmp_path / "metrics") == tree_digest(uninterrupted.root / "metrics")
    assert project.run("git", "status", "--porcelain") == "", "dvc.lock and the card unchanged"
    assert load_classifier(models / "model.keras").image_size == 32
