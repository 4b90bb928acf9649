"""Byte-reproducible outputs: retraining with the same params and data writes the same
models/model.keras, so dvc.lock and git stay clean; the file holds the weights and no optimizer."""

import hashlib
from pathlib import Path

import numpy as np
import pytest

from genderface.modeling.model_file import load_classifier

from .conftest import Project

pytestmark = [pytest.mark.slow, pytest.mark.timeout(2400)]


def _md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def test_retraining_writes_the_same_model_bytes_and_leaves_dvc_lock_unchanged(
    tmp_path, reproduced_project
):
    project = Project(tmp_path, template=reproduced_project)
    model = tmp_path / "models/model.keras"
    before = _md5(model)
    log = project.run("dvc", "repro", "-f", "-s", "train")
    assert "Running stage 'train'" in log
    assert _md5(model) == before
    assert "Data and pipelines are up to date." in project.run("dvc", "repro")
    assert project.run("git", "status", "--porcelain") == ""
    weights = sum(np.asarray(w).nbytes for w in load_classifier(model).model.weights)
    assert abs(model.stat().st_size - weights) < 0.05 * weights, "weights only, no optimizer"


def test_re_exporting_writes_the_same_tflite_bytes_and_leaves_git_clean(
    tmp_path, reproduced_project
):
    project = Project(tmp_path, template=reproduced_project)
    exported = tmp_path / "models/model.tflite"
    before = _md5(exported)
    assert "Running stage 'export'" in project.run("dvc", "repro", "-f", "-s", "export")
    assert _md5(exported) == before
    assert "Data and pipelines are up to date." in project.run("dvc", "repro")
    assert project.run("git", "status", "--porcelain") == ""
