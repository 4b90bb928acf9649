import json

import numpy as np
import pytest
from dvclive import Live
from PIL import Image

from genderface.evaluation.evaluate import Evaluation, Mistake
from genderface.evaluation.metrics import compute_metrics
from genderface.evaluation.reporting import (
    log_plots,
    log_scores,
    mistakes_figure,
    save_png,
    write_report,
)

from .test_model_card import DATA, sample_report

CLASSES = ["man", "woman"]
FILES = ["a.jpg", "b.jpg", "c.jpg", "d.jpg"]


def test_scores_and_plot_data_are_logged_with_dvclive(tmp_path):
    y_true = np.array([0, 0, 1, 1])
    y_prob = np.array([0.1, 0.7, 0.8, 0.9], dtype=np.float32)  # as the model returns them
    scores = compute_metrics(y_true, y_prob, 0.5, CLASSES, 0, bins=2)
    with Live(str(tmp_path), dvcyaml=False, save_dvc_exp=False) as live:
        result = Evaluation(scores, CLASSES, 0.5, FILES, FILES, y_true, y_prob, bins=2)
        log_scores(live, "test", result.scores)
        log_plots(live, result)
    written = json.loads((tmp_path / "metrics.json").read_text())
    assert written["test"]["accuracy"] == pytest.approx(0.75)
    assert written["test"]["woman"]["support"] == 2
    confusion = json.loads((tmp_path / "plots/sklearn/test/confusion_matrix.json").read_text())
    pairs = [(row["actual"], row["predicted"]) for row in confusion]
    assert pairs == [("man", "man"), ("man", "woman"), ("woman", "woman"), ("woman", "woman")]
    roc = json.loads((tmp_path / "plots/sklearn/test/roc.json").read_text())
    assert {"fpr", "tpr", "threshold"} <= set(roc["roc"][0])
    pr = json.loads((tmp_path / "plots/sklearn/test/precision_recall.json").read_text())
    assert pr["precision_recall"][0] == pytest.approx(
        {"precision": 0.5, "recall": 1, "threshold": 0.1}
    )
    calibration = json.loads((tmp_path / "plots/sklearn/test/calibration.json").read_text())
    assert [row["prob_true"] for row in calibration["calibration"]] == [0.0, 2 / 3]
    assert written["test"]["ece"] == pytest.approx((0.1 + abs(2 - (0.7 + 0.8 + 0.9))) / 4, rel=1e-6)


def test_the_gallery_is_a_png_of_the_mistakes_side_by_side(tmp_path):
    pixels = np.full((32, 32, 3), 128, np.uint8)
    mistakes = [
        Mistake(f"faces/man/{i}.jpg", "man", "woman", 0.9 - i / 10, pixels) for i in range(2)
    ]
    path = tmp_path / "gallery" / "mistakes.png"
    save_png(mistakes_figure(mistakes, wrong=5), path)
    with Image.open(path) as png:
        assert png.format == "PNG"
        assert png.width > 2 * 100  # two images side by side
        assert "Software" not in png.info  # no version-dependent metadata
    assert [p.name for p in path.parent.iterdir()] == ["mistakes.png"]  # no temporary left


def test_the_test_split_is_written_by_group_and_per_source(tmp_path, monkeypatch):
    """metrics.json keys under test/groups and test/sources, the groups' plot data, the card."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "metrics").mkdir()
    (tmp_path / "metrics/data.json").write_text(json.dumps(DATA))
    report = sample_report()
    write_report(report)
    test = json.loads((tmp_path / "metrics/eval/metrics.json").read_text())["test"]
    groups = test["groups"]
    assert list(groups) == ["source", "age"]
    assert groups["age"]["left_out"] == 5 and groups["source"]["left_out"] == 0
    young = report.groups.table.set_index("group").loc["20-29"]
    assert groups["age"]["20-29"]["balanced_accuracy"] == young["balanced_accuracy"]
    assert groups["age"]["20-29"]["balanced_accuracy_low"] == young["balanced_accuracy_low"]
    assert "balanced_accuracy" not in groups["age"]["70+"]  # undefined (no man), not NaN
    assert groups["source"]["largest_gap"]["accuracy"] == pytest.approx(0.2)
    for name, evaluation in report.sources.items():
        assert test["sources"][name]["balanced_accuracy"] == evaluation.scores["balanced_accuracy"]
        assert test["sources"][name]["roc_auc_ci"] == evaluation.scores["roc_auc_ci"]
    plot = json.loads((tmp_path / "metrics/eval/plots/test_groups.json").read_text())
    assert [(row["attribute"], row["group"]) for row in plot] == [
        ("source", "archive"),
        ("source", "utkface"),
        ("age", "20-29"),
        ("age", "70+"),
    ]
    assert plot[2] == {
        "attribute": "age",
        "group": "20-29",
        "balanced_accuracy": young["balanced_accuracy"],
        "low": young["balanced_accuracy_low"],
        "high": young["balanced_accuracy_high"],
        "images": 4,
        "small": False,
    }
    assert plot[3]["balanced_accuracy"] is None and plot[3]["small"]
    assert json.loads((tmp_path / "metrics/eval/plots/groups.json").read_text()) == []
    assert "### By age" in (tmp_path / "models/MODEL_CARD.md").read_text()
