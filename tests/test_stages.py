"""The stage scripts as DVC runs them: bad input is one line on stderr, exit 1, nothing written."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from PIL import Image

from .conftest import REPO, image_bytes, tiny_params_dict


def run_stage(name: str, cwd: Path, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(REPO / "stages" / f"{name}.py")],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        timeout=120,
    )


def write_params(folder: Path, **overrides: object) -> None:
    (folder / "params.yaml").write_text(yaml.safe_dump(tiny_params_dict(**overrides)))


def test_download_demo_writes_raw_and_source_metrics(tmp_path):
    write_params(tmp_path)
    result = run_stage("download", tmp_path)
    assert result.returncode == 0, result.stderr
    assert "SYNTHETIC" in result.stderr
    assert len(list((tmp_path / "data/raw/faces/man").iterdir())) == 26
    source = yaml.safe_load((tmp_path / "metrics/source.json").read_text())
    assert source == {
        "source": "demo",
        "resolved": "demo",
        "synthetic": True,
        "images": 40,
        "classes": {"man": 26, "woman": 14},
    }


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("missing/faces.zip", "error: data.source 'missing/faces.zip': no such file or folder;"),
        (
            "ftp://example/faces.zip",
            "error: data.source 'ftp://example/faces.zip': unknown scheme;",
        ),
        ("kaggle:owner/slug", "error: cannot reach Kaggle to download 'owner/slug'"),
    ],
)
def test_download_bad_source(tmp_path, source, message):
    write_params(tmp_path, **{"data.source": source})
    result = run_stage("download", tmp_path, KAGGLE_API_ENVIRONMENT="TEST")
    assert result.returncode == 1
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1
    assert errors[0].startswith(message)
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "data" / "raw").exists()
    assert not (tmp_path / "metrics").exists()


def test_bad_params_stop_before_any_work(tmp_path):
    write_params(tmp_path, **{"train.epochs": -3})
    for stage in ("download", "split"):
        result = run_stage(stage, tmp_path)
        assert result.returncode == 1
        assert result.stderr.strip() == (
            "error: params.yaml: train.epochs: Input should be greater than or equal to 1 (got -3)"
        )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["params.yaml"]


def _evaluate_workdir(trained_model: Path, work: Path) -> None:
    """What evaluate reads: shards, the model and metrics/source.json, as dvc repro leaves them."""
    shutil.copytree(trained_model.parent.parent / "shards", work / "data" / "shards")
    shutil.copytree(trained_model.parent, work / "models")
    (work / "metrics").mkdir()
    source = {"source": "demo", "resolved": "demo", "synthetic": True, "images": 40}
    (work / "metrics" / "source.json").write_text(json.dumps(source))


def test_evaluate_stage_writes_metrics_plots_gallery_card_and_external_scores(
    trained_model, tmp_path
):
    _evaluate_workdir(trained_model, tmp_path)
    external = tmp_path / "elsewhere"
    for label, color in (("man", (40, 60, 200)), ("woman", (200, 80, 40))):
        (external / label).mkdir(parents=True)
        for i in range(3):
            (external / label / f"{i}.jpg").write_bytes(image_bytes((color[0] + 9 * i, *color[1:])))
    (external / "man" / "notes.txt").write_text("not an image")
    write_params(tmp_path, **{"evaluate.external": str(external), "evaluate.mistakes": 40})
    result = run_stage("evaluate", tmp_path)
    assert result.returncode == 0, result.stderr
    metrics = json.loads((tmp_path / "metrics/eval/metrics.json").read_text())
    keys = {"images", "threshold", "accuracy", "balanced_accuracy", "roc_auc"}
    keys |= {"average_precision", "log_loss", "ece", "baseline_accuracy", "man", "woman"}
    assert set(metrics["test"]) == keys
    assert set(metrics["external"]) == keys | {"skipped"}
    assert (metrics["external"]["images"], metrics["external"]["skipped"]) == (6, 1)
    threshold = json.loads((tmp_path / "models/model.json").read_text())["threshold"]
    assert metrics["test"]["threshold"] == metrics["external"]["threshold"] == threshold
    plots = tmp_path / "metrics/eval/plots/sklearn/test"
    assert sorted(p.name for p in plots.iterdir()) == [
        "calibration.json",
        "confusion_matrix.json",
        "precision_recall.json",
        "roc.json",
    ]
    with Image.open(tmp_path / "metrics/eval/plots/images/mistakes.png") as gallery:
        assert gallery.format == "PNG"
    card = (tmp_path / "models/MODEL_CARD.md").read_text()
    assert f"threshold {threshold:.4f}" in card
    assert "SYNTHETIC demo images" in card
    assert f"## External folder `{external}` (6 images, 1 unreadable skipped)" in card
    assert "Not for decisions about people" in card


def test_evaluate_stage_with_a_missing_external_folder_writes_nothing(trained_model, tmp_path):
    _evaluate_workdir(trained_model, tmp_path)
    write_params(tmp_path, **{"evaluate.external": "no/such/folder"})
    result = run_stage("evaluate", tmp_path)
    assert result.returncode == 1
    assert [line for line in result.stderr.splitlines() if line.startswith("error:")] == [
        "error: evaluate.external 'no/such/folder': no such folder; set it to a folder of "
        '<class>/<images>, or to "" to turn it off'
    ]
    assert not (tmp_path / "metrics/eval").exists()
    assert not (tmp_path / "models/MODEL_CARD.md").exists()
