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

from .conftest import REPO, SAMPLE_ZIP, require_sample, tiny_params_dict

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1800)]

GIT_ENV = {
    "GIT_AUTHOR_NAME": "genderface test",
    "GIT_AUTHOR_EMAIL": "test@genderface.invalid",
    "GIT_COMMITTER_NAME": "genderface test",
    "GIT_COMMITTER_EMAIL": "test@genderface.invalid",
}


class Project:
    """A copy of this repository's files (as a fresh clone has them) in a new git repo."""

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
            if source.is_file():
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


def _flat(tree: dict, prefix: str = "") -> dict:
    flat = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            flat |= _flat(value, f"{prefix}{key}.")
        else:
            flat[f"{prefix}{key}"] = value
    return flat


@pytest.fixture(scope="module")
def sample_project(tmp_path_factory) -> Project:
    require_sample()
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
    assert test["baseline_accuracy"] == pytest.approx(390 / 600)
    assert test["man"]["support"] == 390
    assert test["woman"]["support"] == 210
    confusion = sample_project.json("metrics/eval/plots/sklearn/test/confusion_matrix.json")
    assert len(confusion) == 600
    correct = [row["actual"] == row["predicted"] for row in confusion]
    assert test["accuracy"] == pytest.approx(sum(correct) / 600)
    recalls = {
        label: sum(c for c, row in zip(correct, confusion, strict=True) if row["actual"] == label)
        / test[label]["support"]
        for label in ("man", "woman")
    }
    assert test["balanced_accuracy"] == pytest.approx(sum(recalls.values()) / 2)
    assert test["woman"]["recall"] == pytest.approx(recalls["woman"])
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


def test_default_demo_pipeline_reproduces_the_committed_metrics(tmp_path):
    """What `make run` does on a fresh clone: the committed params, offline, then metrics/plots.

    The run must land on the metrics committed beside dvc.lock (to float noise across CPUs),
    so a change that moves the demo's results cannot be committed without its new metrics.
    """
    project = Project(tmp_path)
    assert project.repro() == ["download", "split", "preprocess", "train", "evaluate"]
    assert (tmp_path / "models/model.keras").is_file()
    assert "Data and pipelines are up to date." in project.run("dvc", "repro")
    for path in ("metrics/source.json", "metrics/train/metrics.json", "metrics/eval/metrics.json"):
        committed = _flat(json.loads((REPO / path).read_text()))
        produced = _flat(project.json(path))
        assert produced.keys() == committed.keys(), path
        for key, value in committed.items():
            if isinstance(value, float):
                assert produced[key] == pytest.approx(value, rel=1e-3, abs=1e-6), (path, key)
            else:
                assert produced[key] == value, (path, key)
    assert project.json("metrics/source.json")["synthetic"] is True
    shown = json.loads(project.run("dvc", "metrics", "show", "--json"))
    test = shown[""]["data"]["metrics/eval/metrics.json"]["data"]["test"]
    assert test["balanced_accuracy"] > 0.9
    assert test["images"] == 40
    epochs = yaml.safe_load((REPO / "params.yaml").read_text())["train"]["epochs"]
    plots = json.loads(project.run("dvc", "plots", "show", "--json"))["data"]
    gallery = "metrics/eval/plots/images/mistakes.png"
    confusion_name = "metrics/eval/plots/sklearn/test/confusion_matrix.json"
    declared = ["Loss", "Accuracy", "AUC", "ROC", "Precision-recall", "Calibration"]
    assert sorted(plots) == sorted([*declared, confusion_name, gallery])
    for name in ("Loss", "Accuracy", "AUC"):
        values = plots[name][0]["content"]["data"]["values"]
        assert len(values) == 2 * epochs, name
    confusion = plots[confusion_name]
    assert len(confusion[0]["content"]["data"]["values"]) == 40
    assert len(plots["ROC"][0]["content"]["data"]["values"]) >= 3
    pr = plots["Precision-recall"][0]["content"]["data"]["values"]
    assert {"precision", "recall"} <= set(pr[0]) and len(pr) >= 2
    calibration = plots["Calibration"][0]["content"]["data"]["values"]
    bins = yaml.safe_load((REPO / "params.yaml").read_text())["evaluate"]["calibration_bins"]
    assert 1 <= len(calibration) <= bins
    assert {"prob_pred", "prob_true"} <= set(calibration[0])
    (image,) = plots[gallery]
    assert image["type"] == "image"
    assert Path(image["url"]).read_bytes().startswith(b"\x89PNG")
    project.run("dvc", "plots", "show", "-o", "plots")
    html = (tmp_path / "plots" / "index.html").read_text()
    for title in ("Test confusion matrix", "Test ROC", "Test precision-recall", "Test calibration"):
        assert title in html
    assert "<img" in html
    card = (tmp_path / "models" / "MODEL_CARD.md").read_text()
    assert card == (REPO / "models" / "MODEL_CARD.md").read_text()
