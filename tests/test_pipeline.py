"""End to end: `dvc repro` in a fresh git repo holding this project, as a user runs it."""

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

from .conftest import REPO, SAMPLE_ZIP, tiny_params_dict

pytestmark = pytest.mark.slow

GIT_ENV = {
    "GIT_AUTHOR_NAME": "genderface test",
    "GIT_AUTHOR_EMAIL": "test@genderface.invalid",
    "GIT_COMMITTER_NAME": "genderface test",
    "GIT_COMMITTER_EMAIL": "test@genderface.invalid",
}


class Project:
    """A copy of this repository's files in a new git repo, with its own DVC cache."""

    def __init__(self, root: Path) -> None:
        self.root = root
        files = subprocess.run(
            ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
            cwd=REPO,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split("\0")
        for name in filter(None, files):
            source = REPO / name
            if source.is_file() and not name.startswith(("metrics/", "dvc.lock")):
                (root / name).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(source, root / name)
        self.env = {
            **os.environ,
            **GIT_ENV,
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
            "DVC_NO_ANALYTICS": "1",
        }
        self.run("git", "init", "-q")
        self.commit("project")

    def run(self, *args: str) -> str:
        result = subprocess.run(
            args, cwd=self.root, env=self.env, capture_output=True, text=True, timeout=1500
        )
        assert result.returncode == 0, f"{args} failed:\n{result.stdout}\n{result.stderr}"
        return result.stdout + result.stderr

    def commit(self, message: str) -> None:
        self.run("git", "add", "-A")
        self.run("git", "commit", "-q", "-m", message)

    def set_params(self, **overrides: object) -> None:
        (self.root / "params.yaml").write_text(yaml.safe_dump(tiny_params_dict(**overrides)))

    def repro(self) -> list[str]:
        """Run dvc repro; return the names of the stages that ran."""
        return re.findall(r"Running stage '(\w+)'", self.run("dvc", "repro"))

    def json(self, path: str) -> dict:
        return json.loads((self.root / path).read_text())


@pytest.fixture(scope="module")
def sample_project(tmp_path_factory) -> Project:
    if not SAMPLE_ZIP.is_file():
        pytest.skip(f"real sample not found at {SAMPLE_ZIP} (../shared is absent on this machine)")
    project = Project(tmp_path_factory.mktemp("project"))
    project.set_params(**{"data.source": str(SAMPLE_ZIP), "train.batch_size": 64})
    assert project.repro() == ["download", "split", "preprocess", "train", "evaluate"]
    return project


def test_repro_on_the_real_sample_writes_every_output(sample_project):
    root = sample_project.root
    assert (root / "models/model.keras").stat().st_size > 50_000_000
    manifest = pd.read_csv(root / "data/split/manifest.csv")
    assert len(manifest) == 3000
    counts = manifest.groupby(["label", "split"]).size().to_dict()
    assert counts == {
        ("man", "train"): 1365,
        ("man", "test"): 390,
        ("man", "validation"): 195,
        ("woman", "train"): 735,
        ("woman", "test"): 210,
        ("woman", "validation"): 105,
    }
    source = sample_project.json("metrics/source.json")
    assert source["synthetic"] is False
    assert source["classes"] == {"man": 1950, "woman": 1050}
    test = sample_project.json("metrics/eval/metrics.json")["test"]
    assert test["images"] == 600
    assert test["baseline_accuracy"] == pytest.approx(0.65)
    for key in ("accuracy", "balanced_accuracy", "roc_auc", "loss"):
        assert 0 <= test[key] <= (1 if key != "loss" else 10)
    assert set(test["man"]) == {"precision", "recall", "f1", "support"}
    history = sample_project.json("metrics/train/metrics.json")
    assert set(history["eval"]) == {"loss", "accuracy", "auc"}


def test_second_repro_is_up_to_date(sample_project):
    out = sample_project.run("dvc", "repro")
    assert "Data and pipelines are up to date." in out
    assert "Running stage" not in out


def test_changing_an_evaluate_param_reruns_only_evaluate(sample_project):
    sample_project.set_params(
        **{"data.source": str(SAMPLE_ZIP), "train.batch_size": 64, "evaluate.batch_size": 17}
    )
    assert sample_project.repro() == ["evaluate"]


def test_changing_the_split_seed_reruns_split_and_everything_after(sample_project):
    before = (sample_project.root / "data/split/manifest.csv").read_bytes()
    sample_project.set_params(
        **{
            "data.source": str(SAMPLE_ZIP),
            "train.batch_size": 64,
            "evaluate.batch_size": 17,
            "split.seed": 7,
        }
    )
    assert sample_project.repro() == ["split", "preprocess", "train", "evaluate"]
    assert (sample_project.root / "data/split/manifest.csv").read_bytes() != before


def test_default_demo_pipeline_metrics_and_plots(tmp_path):
    """What `make run` does: the committed params.yaml, offline, then dvc metrics and plots."""
    project = Project(tmp_path)
    assert project.repro() == ["download", "split", "preprocess", "train", "evaluate"]
    assert project.json("metrics/source.json")["synthetic"] is True
    shown = json.loads(project.run("dvc", "metrics", "show", "--json"))
    metrics = shown[""]["data"]
    assert "balanced_accuracy" in metrics["metrics/eval/metrics.json"]["data"]["test"]
    project.run("dvc", "plots", "show", "-o", "plots")
    html = (tmp_path / "plots" / "index.html").read_text()
    for title in ("Loss", "Accuracy", "AUC", "Test confusion matrix", "Test ROC"):
        assert title in html
