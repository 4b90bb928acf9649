"""The stage scripts as DVC runs them (their bad-input cases are in test_faults.py)."""

import json
import re
import shutil
from pathlib import Path

import pytest
import yaml
from PIL import Image

from genderface.data import faces

from .conftest import (
    ARCHIVE,
    FIRST_SOURCE,
    run_stage,
    write_faces,
    write_params,
)


def test_download_demo_writes_raw_and_source_metrics(tmp_path):
    write_params(tmp_path)
    result = run_stage("download", tmp_path, FIRST_SOURCE)
    assert result.returncode == 0, result.stderr
    assert "SYNTHETIC" in result.stderr
    raw = tmp_path / "data/raw" / FIRST_SOURCE
    assert len(list((raw / "faces/man").iterdir())) == 26
    assert len(list((raw / "faces/woman").iterdir())) == 14
    source = yaml.safe_load((tmp_path / f"metrics/sources/{FIRST_SOURCE}.json").read_text())
    assert source == {
        "source": "demo",
        "resolved": "demo",
        "synthetic": True,
        "labels": "folders",
        "downloaded_files": 40,
    }


def test_validate_then_split_exclude_bad_files_and_never_crash(tmp_path):
    faces = write_faces(tmp_path / "inputs", per_class=10) / "faces"
    (faces / "man" / "zero.jpg").write_bytes(b"")
    (faces / "woman" / "same_as_man_1.jpg").write_bytes((faces / "man" / "man_1.jpg").read_bytes())
    write_params(tmp_path, **{f"{ARCHIVE}.source": "path", f"{ARCHIVE}.path": "inputs"})
    for stage, args in (("download", [FIRST_SOURCE]), ("validate", [FIRST_SOURCE]), ("split", [])):
        result = run_stage(stage, tmp_path, *args)
        assert result.returncode == 0, result.stderr
    data = json.loads((tmp_path / "metrics" / "data.json").read_text())
    raw = f"{FIRST_SOURCE}/faces"  # paths under data/raw: the source's name first
    assert list(data["unreadable"]["reasons"]) == [f"{raw}/man/zero.jpg"]
    assert data["conflicts"]["members"] == [
        [f"{raw}/man/man_1.jpg", f"{raw}/woman/same_as_man_1.jpg"]
    ]
    assert data["sources"][FIRST_SOURCE]["conflicts"] == data["conflicts"]  # the one source
    assert f"{raw}/man/zero.jpg: unreadable" in (tmp_path / "metrics" / "data.md").read_text()
    manifest = (tmp_path / "data" / "split" / "manifest.csv").read_text()
    assert manifest.count("\n") == 1 + 19  # 20 generated, less man_1 and its copy
    for excluded in ("man/zero.jpg", "man/man_1.jpg", "woman/same_as_man_1.jpg"):
        assert f"{raw}/{excluded}," not in manifest


def _evaluate_workdir(trained_model: Path, work: Path) -> None:
    """What evaluate reads: shards, the model, the split manifest (of the shards' records, each
    path's first folder its source) and metrics/data.json's sources, as dvc repro leaves them."""
    import pandas as pd

    from genderface.data.manifests import MANIFEST_COLUMNS, write_manifest
    from genderface.data.shards import ShardInfo, records  # TensorFlow: only when needed
    from genderface.data.split import split_counts
    from genderface.layout import SPLITS

    shards = trained_model.parent.parent / "shards"
    shutil.copytree(shards, work / "data" / "shards")
    shutil.copytree(trained_model.parent, work / "models")
    info = ShardInfo.read(shards)
    rows = [
        (r.path, r.path.split("/")[0], info.classes[r.label], r.sha256, split)
        for split in SPLITS
        for r in records(shards, split, info)
    ]
    manifest = pd.DataFrame(rows, columns=MANIFEST_COLUMNS)
    write_manifest(manifest, work / "data" / "split" / "manifest.csv")
    sources = {
        name: {
            "source": "demo",
            "resolved": "demo",
            "synthetic": True,
            "licence": "synthetic",
            "labels": "folders",
            "files": len(images),
            "usable": len(images),
            "usable_classes": images["label"].value_counts().to_dict(),
            "splits": split_counts(manifest, [name])[name],
        }
        for name, images in manifest.groupby("source")
    }
    (work / "metrics").mkdir()
    (work / "metrics" / "data.json").write_text(json.dumps({"sources": sources}))


def _external_folder(fairface: Path, folder: Path) -> Path:
    """<class>/<class>_<i>.jpg: three real faces per class (fairface-540), plus a blank picture
    (no face to find) and a text file (unreadable) among the men, and an attributes.csv."""
    for label in ("man", "woman"):
        (folder / label).mkdir(parents=True)
        for i, source in enumerate(sorted((fairface / label).glob("*.jpg"))[:3]):
            shutil.copy(source, folder / label / f"{label}_{i}.jpg")
    Image.new("RGB", (120, 120), (128, 128, 128)).save(folder / "man" / "blank.jpg")
    (folder / "man" / "notes.txt").write_text("not an image")
    rows = [f"{c}/{c}_{i}.jpg,{'young' if i else 'old'}" for c in ("man", "woman") for i in (0, 1)]
    (folder / "attributes.csv").write_text("\n".join(["file,age", *rows]) + "\n")
    return folder


TENSORFLOW_LOG_LINE = re.compile(r"^[IWEF]\d{4} [\d:.]+ +\d+ [\w.]+:\d+\] ", re.MULTILINE)
"""A line of TensorFlow's C++ log (severity, date, time, thread, file:line]). It writes some on
every start, whatever the machine (no CUDA driver found, a GPU device created, oneDNN on, CPU
instructions unused), so a test asserts on the format, not on one machine's lines."""
CLEAN = {"TF_CPP_MIN_LOG_LEVEL": None}
"""No TF_CPP_* setting inherited: TensorFlow as a user's shell starts it."""


def test_evaluate_stage_writes_metrics_plots_gallery_card_and_external_scores(
    trained_model, tmp_path, fairface
):
    _evaluate_workdir(trained_model, tmp_path)
    external = _external_folder(fairface, tmp_path / "elsewhere")
    settings = {"evaluate.external": str(external), "evaluate.mistakes": 40}
    write_params(tmp_path, **settings, **{"evaluate.min_group": 3})
    result = run_stage("evaluate", tmp_path, env=CLEAN)
    assert result.returncode == 0, result.stderr
    # the stage's own lines, not TensorFlow's C++ start-up lines nor absl's notice that precedes
    # them (test_verbose_brings_back_tensorflow_start_up_lines asks for them)
    output = result.stdout + result.stderr
    assert not TENSORFLOW_LOG_LINE.search(output) and "absl::InitializeLog" not in output, output
    assert "evaluate: " in result.stderr
    metrics = json.loads((tmp_path / "metrics/eval/metrics.json").read_text())
    keys = {"images", "threshold", "accuracy", "balanced_accuracy", "roc_auc"}
    keys |= {"average_precision", "log_loss", "ece", "baseline_accuracy", "man", "woman"}
    keys |= {"accuracy_ci", "balanced_accuracy_ci", "roc_auc_ci"}
    assert set(metrics["test"]) == keys | {"groups", "sources"}
    assert set(metrics["external"]) == keys | {"skipped", "no_face", "groups"}
    (source,) = metrics["test"]["sources"]  # the demo alone: scored alone as the whole split
    assert metrics["test"]["sources"][source]["accuracy"] == metrics["test"]["accuracy"]
    assert metrics["test"]["groups"]["source"][source]["n"] == metrics["test"]["images"]
    plot = json.loads((tmp_path / "metrics/eval/plots/test_groups.json").read_text())
    assert [(row["attribute"], row["group"]) for row in plot] == [("source", source)]
    # framed as the model was trained (its face): the blank picture is left out, counted
    margin = json.loads((tmp_path / "models/model.json").read_text())["framing"]["margin"]
    notes = [faces.load_face(p, 32, margin)[1] for p in sorted(external.glob("*/*.jpg"))]
    assert metrics["external"]["no_face"] == notes.count(faces.NONE) == 1
    assert (metrics["external"]["images"], metrics["external"]["skipped"]) == (6, 1)
    ci = metrics["test"]["accuracy_ci"]
    assert ci["low"] <= metrics["test"]["accuracy"] <= ci["high"]
    age = metrics["external"]["groups"]["age"]
    assert (age["old"]["n"], age["young"]["n"], age["?"]["n"]) == (2, 2, 2)  # ?: not listed
    assert age["old"]["small"] and "largest_gap" not in age  # every group under min_group
    plot = json.loads((tmp_path / "metrics/eval/plots/groups.json").read_text())
    assert [row["group"] for row in plot] == ["?", "old", "young"]
    assert plot[1] == {
        "attribute": "age",
        "group": "old",
        "accuracy": age["old"]["accuracy"],
        "low": age["old"]["accuracy_low"],
        "high": age["old"]["accuracy_high"],
        "images": 2,
        "small": True,
    }
    predictions = (tmp_path / "metrics/eval/predictions/external.csv").read_text().splitlines()
    assert predictions[0] == "sha256,file,label,probability,predicted"
    assert len(predictions) == 7
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
    assert "### By source" in card
    assert "SYNTHETIC demo images" in card
    assert f"## External folder `{external}` (6 images, 1 unreadable skipped)" in card
    assert "1 had no face found and are left out of these scores" in card
    assert "**Framing**: it expects a square crop around the largest face found" in card
    assert "### By age" in card
    assert "Not for decisions about people" in card


def test_evaluate_stage_with_a_missing_external_folder_writes_nothing(trained_model, tmp_path):
    _evaluate_workdir(trained_model, tmp_path)
    write_params(tmp_path, **{"evaluate.external": "no/such/folder"})
    result = run_stage("evaluate", tmp_path)
    assert result.returncode == 1
    assert [line for line in result.stderr.splitlines() if line.startswith("error:")] == [
        "error: evaluate.external 'no/such/folder': no such folder; set it to a folder of "
        "<class>/<images>, or to inputs/none to turn it off"
    ]
    assert not (tmp_path / "metrics/eval").exists()
    assert not (tmp_path / "models/MODEL_CARD.md").exists()


@pytest.mark.slow  # starts fresh Python + TensorFlow processes twice
def test_verbose_brings_back_tensorflow_start_up_lines(trained_model, tmp_path):
    """--verbose and GENDERFACE_VERBOSE=1 each show TensorFlow's C++ start-up lines, which a
    stage otherwise keeps off its output (test_evaluate_stage_writes_metrics_...)."""
    _evaluate_workdir(trained_model, tmp_path)
    write_params(tmp_path)
    for args, env in ((("--verbose",), {}), ((), {"GENDERFACE_VERBOSE": "1"})):
        loud = run_stage("evaluate", tmp_path, *args, env=CLEAN | env)
        assert loud.returncode == 0, loud.stderr
        assert TENSORFLOW_LOG_LINE.search(loud.stderr), loud.stderr
