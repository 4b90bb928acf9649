"""A train stage killed with SIGKILL mid-run resumes from its last completed epoch (dvc repro)."""

import json
import re
import subprocess
import time

import psutil
import pytest
import yaml

from genderface.model import load_classifier

from .conftest import Project, tiny_params_dict

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1200)]

HEAD_EPOCHS, FINE_TUNE_EPOCHS = 2, 12


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


def test_sigkill_mid_training_then_repro_resumes_and_finishes(tmp_path):
    project = Project(tmp_path)
    params = tiny_params_dict(
        **{
            "train.epochs": HEAD_EPOCHS,
            "train.fine_tune_epochs": FINE_TUNE_EPOCHS,
            "train.early_stopping_patience": FINE_TUNE_EPOCHS,
        }
    )
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    project.run("dvc", "repro", "preprocess")
    backup = tmp_path / "data/train-backup"
    progress = backup / "fine_tune" / "training_metadata.json"

    dvc = subprocess.Popen(
        ["dvc", "repro", "train"],
        cwd=tmp_path,
        env=project.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    deadline = time.monotonic() + 600
    while not progress.exists() and dvc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert progress.exists(), "phase 2 never completed an epoch"
    stage = _train_process(dvc)
    assert stage is not None
    stage.kill()
    first_log = dvc.communicate(timeout=120)[0]
    assert dvc.returncode != 0
    killed_after = json.loads(progress.read_text())["epoch"]
    assert HEAD_EPOCHS < killed_after < HEAD_EPOCHS + FINE_TUNE_EPOCHS, first_log[-2000:]
    models = tmp_path / "models"
    committed = {".gitignore", "MODEL_CARD.md"}
    assert [p.name for p in models.glob("*") if p.name not in committed] == [], "half-written"

    log = project.run("dvc", "repro")
    assert "finished in an earlier run" in log
    first_epoch = int(re.search(r"Epoch (\d+)/", log).group(1))
    assert first_epoch == killed_after + 1, "resumed after the last completed epoch"
    assert f"Epoch {HEAD_EPOCHS + FINE_TUNE_EPOCHS}/{HEAD_EPOCHS + FINE_TUNE_EPOCHS}" in log
    assert sorted(p.name for p in models.glob("*") if p.name not in committed) == [
        "model.json",
        "model.keras",
    ]
    assert load_classifier(models / "model.keras").image_size == 32
    assert not backup.exists()
    steps = (tmp_path / "metrics/train/plots/metrics/eval/loss.tsv").read_text().splitlines()[1:]
    assert [int(row.split("\t")[0]) for row in steps] == list(range(HEAD_EPOCHS + FINE_TUNE_EPOCHS))
    assert "test" in json.loads((tmp_path / "metrics/eval/metrics.json").read_text())
