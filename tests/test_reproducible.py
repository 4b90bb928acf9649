"""Byte-reproducible outputs: retraining with the same params and data writes the same
models/model.keras, so dvc.lock and git stay clean; the file holds the weights and no optimizer."""

import hashlib
import subprocess
import sys
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


def test_make_run_on_a_fresh_clone_leaves_git_status_clean(tmp_path):
    """What a new user does, with the committed params: clone, `make run`. The clone reuses this
    venv (`make -o` marks its install stamp as up to date) and runs its own package."""
    source = Project(tmp_path / "source")
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "--quiet", str(source.root), str(clone)], check=True)
    venv = Path(sys.executable).parent.parent
    env = {**source.env, "PYTHONPATH": str(clone / "src")}
    result = subprocess.run(
        ["make", "run", f"VENV={venv}", "-o", f"{venv}/.installed"],
        cwd=clone,
        env=env,
        capture_output=True,
        text=True,
        timeout=2000,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    status = subprocess.run(
        ["git", "status", "--porcelain"], cwd=clone, capture_output=True, text=True, check=True
    ).stdout
    assert status == "", "the committed dvc.lock, metrics and card are what `make run` makes"
