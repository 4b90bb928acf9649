"""End to end: `dvc repro` in a fresh git repo holding this project, as a user runs it."""

import json
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

from .conftest import FIRST_SOURCE, REPO, STAGES, Project, stages_run

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1800)]


def test_repro_on_the_real_sample_writes_every_output(sample_project):
    root = sample_project.root
    assert (root / "models/model.keras").stat().st_size > 50_000_000
    manifest = pd.read_csv(root / "data/split/manifest.csv")
    # 3,000 files less the 59 copies of the 27 pictures filed under both classes (31 man, 28
    # woman); 1919 man and 1022 woman cut at 70/20/10 of the file counts, each within 1.
    assert len(manifest) == 2941
    counts = manifest.groupby(["label", "split"]).size().to_dict()
    assert counts == {
        ("man", "train"): 1343,
        ("man", "test"): 384,
        ("man", "validation"): 192,
        ("woman", "train"): 715,
        ("woman", "test"): 205,
        ("woman", "validation"): 102,
    }
    assert manifest.groupby("sha256")["split"].nunique().max() == 1
    data = sample_project.json("metrics/data.json")
    excluded = {path for group in data["conflicts"]["members"] for path in group}
    assert len(excluded) == 59
    assert excluded.isdisjoint(manifest["path"])
    assert data["majority_baseline"] == pytest.approx(1919 / 2941)
    framing = sample_project.json("metrics/framing.json")
    assert framing["framing"] == {"kind": "face", "margin": 0.2}
    assert framing["counts"]["test"] == {"man": 384, "woman": 205}
    # the face finder finds a face in every image of the sample (3,000 of 3,000, docs/data.md)
    assert framing["no_face"] == {split: {"man": 0, "woman": 0} for split in framing["counts"]}
    source = sample_project.json(f"metrics/sources/{FIRST_SOURCE}.json")
    assert source["synthetic"] is False
    assert source["downloaded_files"] == 3000
    assert data["sources"][FIRST_SOURCE]["classes"] == {"man": 1950, "woman": 1050}
    assert data["sources"][FIRST_SOURCE]["splits"] == {
        split: {label: n for (label, s), n in counts.items() if s == split}
        for split in ("train", "test", "validation")
    }
    test = sample_project.json("metrics/eval/metrics.json")["test"]
    assert test["images"] == 589
    assert test["baseline_accuracy"] == pytest.approx(384 / 589)
    assert test["man"]["support"] == 384
    assert test["woman"]["support"] == 205
    confusion = sample_project.json("metrics/eval/plots/sklearn/test/confusion_matrix.json")
    assert len(confusion) == 589
    correct = [row["actual"] == row["predicted"] for row in confusion]
    assert test["accuracy"] == pytest.approx(sum(correct) / 589)
    recalls = {
        label: sum(c for c, row in zip(correct, confusion, strict=True) if row["actual"] == label)
        / test[label]["support"]
        for label in ("man", "woman")
    }
    assert test["balanced_accuracy"] == pytest.approx(sum(recalls.values()) / 2)
    # A floor on what it learnt: chance and the majority rule both give 0.5 balanced accuracy;
    # this small model (32 px, a head on random-weight VGG16 features) scored 0.748 (0.711-0.785)
    # in bfloat16 before the kernels were pinned, 0.703 in docs/experiments.md's older run. 0.60
    # leaves room for other settings and stays well above chance, where the interval's low end
    # must be too.
    assert test["balanced_accuracy"] >= 0.60
    assert test["balanced_accuracy_ci"]["low"] > 0.5
    assert test["woman"]["recall"] == pytest.approx(recalls["woman"])
    history = sample_project.json("metrics/train/metrics.json")
    assert set(history["eval"]) == {"loss", "accuracy", "auc"}


def test_make_run_on_a_fresh_clone_reproduces_the_committed_outputs(tmp_path):
    """What a new user does, with the committed params: clone, `make run` (offline), then the
    metrics and plots. `make run` must leave `git status` clean: the committed dvc.lock, metrics,
    predictions and card are what it makes (evaluate is up to date: the model comes out
    byte-identical to the one dvc.lock records). The clone reuses this venv (`make -o` marks its
    install stamp as up to date) and runs its own package."""
    project = Project.cloned(Project(tmp_path / "source"), tmp_path / "clone")
    root = project.root
    venv = Path(sys.executable).parent.parent
    log = project.run("make", "run", f"VENV={venv}", "-o", f"{venv}/.installed")
    assert stages_run(log) == STAGES[:-1]
    assert project.run("git", "status", "--porcelain") == ""
    # evaluate's committed outputs are what it writes when it runs
    assert "Running stage 'evaluate'" in project.run("dvc", "repro", "-f", "-s", "evaluate")
    assert (root / "models/model.tflite").stat().st_size == project.json("metrics/export.json")[
        "bytes"
    ]
    assert project.json(f"metrics/sources/{FIRST_SOURCE}.json")["synthetic"] is True
    shown = json.loads(project.run("dvc", "metrics", "show", "--json"))
    test = shown[""]["data"]["metrics/eval/metrics.json"]["data"]["test"]
    assert test["balanced_accuracy_ci"]["low"] > 0.5  # better than chance, at the 95% level
    assert test["images"] == 40
    epochs = project.json("metrics/train/metrics.json")["step"] + 1
    # random weights: the scratch recipe, one phase of at most train.epochs
    assert project.json("models/model.json")["provenance"]["recipe"] == "scratch"
    assert 1 <= epochs <= yaml.safe_load((REPO / "params.yaml").read_text())["train"]["epochs"]
    plots = json.loads(project.run("dvc", "plots", "show", "--json"))["data"]
    gallery = "metrics/eval/plots/images/mistakes.png"
    confusion_name = "metrics/eval/plots/sklearn/test/confusion_matrix.json"
    declared = ["Loss", "Accuracy", "AUC", "Learning rate", "ROC", "Precision-recall"]
    groups = "metrics/eval/plots/groups.json"  # no data without evaluate.external's attributes
    test_groups = "metrics/eval/plots/test_groups.json"  # by source: the one source, all 40
    named = ["Calibration", confusion_name, gallery, groups, test_groups]
    assert sorted(plots) == sorted([*declared, *named])
    assert plots[groups] == []
    by_source = plots[test_groups][0]["content"]["data"]["values"]
    assert [(row["attribute"], row["images"]) for row in by_source] == [("source", 40)]
    for name in ("Loss", "Accuracy", "AUC"):
        values = plots[name][0]["content"]["data"]["values"]
        assert len(values) == 2 * epochs, name
    assert len(plots["Learning rate"][0]["content"]["data"]["values"]) == epochs
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
    html = (root / "plots" / "index.html").read_text()
    for title in ("Test confusion matrix", "Test ROC", "Test precision-recall", "Test calibration"):
        assert title in html
    assert "<img" in html
    card = (root / "models" / "MODEL_CARD.md").read_text()
    assert card == (REPO / "models" / "MODEL_CARD.md").read_text()
