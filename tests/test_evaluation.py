import json

import numpy as np
import pytest
from dvclive import Live
from sklearn.metrics import balanced_accuracy_score as skm_balanced

from genderface.evaluation import Evaluation, compute_metrics, log_evaluation

CLASSES = ["man", "woman"]


def test_metrics_on_known_predictions():
    y_true = np.array([0, 0, 0, 0, 0, 0, 1, 1, 1, 1])
    y_prob = np.array([0.1, 0.2, 0.3, 0.4, 0.6, 0.2, 0.9, 0.8, 0.4, 0.7])
    scores = compute_metrics(y_true, y_prob, 0.5, CLASSES, majority=0)
    assert scores["images"] == 10
    assert scores["accuracy"] == pytest.approx(0.8)
    assert scores["balanced_accuracy"] == pytest.approx((5 / 6 + 3 / 4) / 2)
    assert scores["baseline_accuracy"] == pytest.approx(0.6)
    assert scores["man"] == pytest.approx(
        {"precision": 5 / 6, "recall": 5 / 6, "f1": 5 / 6, "support": 6}
    )
    assert scores["woman"]["recall"] == pytest.approx(0.75)
    assert scores["roc_auc"] == pytest.approx(22.5 / 24)
    assert 0 < scores["loss"] < 1
    json.dumps(scores)


def test_a_majority_only_model_gets_balanced_accuracy_one_half():
    y_true = np.array([0] * 65 + [1] * 35)
    scores = compute_metrics(y_true, np.full(100, 0.2), 0.5, CLASSES, majority=0)
    assert scores["accuracy"] == pytest.approx(0.65) == scores["baseline_accuracy"]
    assert scores["balanced_accuracy"] == pytest.approx(0.5)


def test_threshold_moves_predictions():
    y_true = np.array([0, 1, 1])
    y_prob = np.array([0.2, 0.35, 0.9])
    assert compute_metrics(y_true, y_prob, 0.5, CLASSES, 0)["accuracy"] == pytest.approx(2 / 3)
    assert compute_metrics(y_true, y_prob, 0.3, CLASSES, 0)["accuracy"] == pytest.approx(1.0)


def test_log_evaluation_writes_metrics_and_plot_data(tmp_path):
    y_true = np.array([0, 0, 1, 1])
    y_prob = np.array([0.1, 0.7, 0.8, 0.9])
    scores = compute_metrics(y_true, y_prob, 0.5, CLASSES, 0)
    with Live(str(tmp_path), dvcyaml=False, save_dvc_exp=False) as live:
        log_evaluation(live, Evaluation(scores, CLASSES, 0.5, y_true, y_prob))
    written = json.loads((tmp_path / "metrics.json").read_text())
    assert written["test"]["accuracy"] == pytest.approx(0.75)
    assert written["test"]["woman"]["support"] == 2
    confusion = json.loads((tmp_path / "plots/sklearn/test/confusion_matrix.json").read_text())
    pairs = [(row["actual"], row["predicted"]) for row in confusion]
    assert pairs == [("man", "man"), ("man", "woman"), ("woman", "woman"), ("woman", "woman")]
    roc = json.loads((tmp_path / "plots/sklearn/test/roc.json").read_text())
    assert {"fpr", "tpr", "threshold"} <= set(roc["roc"][0])


def test_evaluate_refuses_a_model_that_does_not_match_the_shards(trained_model):
    from genderface.errors import GenderfaceError
    from genderface.evaluation import evaluate
    from genderface.input_pipeline import ShardInfo
    from genderface.model import load_classifier

    classifier = load_classifier(trained_model)
    other = ShardInfo(image_size=64, classes=["man", "woman"], counts={})
    with pytest.raises(GenderfaceError, match=r"does not match the shards .* 64 px"):
        evaluate(classifier, None, other)


def test_evaluate_scores_the_test_split_against_the_training_majority(
    trained_model, tmp_path, caplog
):
    """Train is mostly woman, test mostly man: the baseline must follow the training majority."""
    import logging

    import pandas as pd

    from genderface.evaluation import evaluate
    from genderface.input_pipeline import ShardInfo, batched, load_split
    from genderface.model import load_classifier
    from genderface.preprocess import write_shards

    from .conftest import write_faces

    raw = write_faces(tmp_path / "raw", per_class=6)
    plan = {
        "man": ["train"] * 2 + ["test"] * 3 + ["validation"],
        "woman": ["train"] * 4 + ["test", "validation"],
    }
    rows = [
        (f"faces/{label}/{label}_{i}.jpg", label, f"{i:064d}", name)
        for label, names in plan.items()
        for i, name in enumerate(names)
    ]
    manifest = pd.DataFrame(rows, columns=["path", "label", "sha256", "split"])
    write_shards(manifest, raw, tmp_path / "shards", image_size=32, images_per_shard=100)
    info = ShardInfo.read(tmp_path / "shards")
    classifier = load_classifier(trained_model)
    with caplog.at_level(logging.INFO, logger="evaluate"):
        result = evaluate(
            classifier, batched(load_split(tmp_path / "shards", "test", info), 3), info
        )
    assert result.y_true.tolist() == sorted(result.y_true.tolist()) == [0, 0, 0, 1]
    assert result.scores["images"] == 4
    assert result.scores["baseline_accuracy"] == pytest.approx(0.25)
    predicted = (result.y_prob >= classifier.threshold).astype(int)
    assert result.scores["accuracy"] == pytest.approx(np.mean(predicted == result.y_true))
    assert "majority baseline 0.250 (always woman)" in caplog.text


def test_choose_threshold_maximises_balanced_accuracy():
    """Scores that separate the classes only above 0.8: the chosen cut-off must sit there."""
    from genderface.evaluation import choose_threshold

    y_true = np.array([0, 0, 0, 0, 0, 0, 1, 1])
    y_prob = np.array([0.1, 0.6, 0.65, 0.7, 0.75, 0.78, 0.85, 0.9])
    threshold = choose_threshold(y_true, y_prob)
    assert 0.78 < threshold <= 0.85
    assert skm_balanced(y_true, (y_prob >= threshold).astype(int)) == 1.0
