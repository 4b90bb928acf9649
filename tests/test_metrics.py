import json

import numpy as np
import pytest
from sklearn.calibration import calibration_curve

from genderface.evaluation.metrics import (
    compute_metrics,
    confidence,
    expected_calibration_error,
    most_confident_mistakes,
)

CLASSES = ["man", "woman"]


def test_metrics_on_known_predictions():
    y_true = np.array([0, 0, 0, 0, 0, 0, 1, 1, 1, 1])
    y_prob = np.array([0.1, 0.2, 0.3, 0.4, 0.6, 0.2, 0.9, 0.8, 0.4, 0.7])
    scores = compute_metrics(y_true, y_prob, 0.5, CLASSES, majority=0, bins=10)
    assert scores["images"] == 10
    assert scores["accuracy"] == pytest.approx(0.8)
    assert scores["balanced_accuracy"] == pytest.approx((5 / 6 + 3 / 4) / 2)
    assert scores["baseline_accuracy"] == pytest.approx(0.6)
    assert scores["man"] == pytest.approx(
        {"precision": 5 / 6, "recall": 5 / 6, "f1": 5 / 6, "support": 6}
    )
    assert scores["woman"]["recall"] == pytest.approx(0.75)
    assert scores["roc_auc"] == pytest.approx(22.5 / 24)
    assert scores["threshold"] == 0.5
    # precision at each woman, ranked by score: 1, 1, 1, then 4/6 (the 0.4 tie with a man)
    assert scores["average_precision"] == pytest.approx((1 + 1 + 1 + 4 / 6) / 4)
    expected_loss = -np.mean(np.where(y_true == 1, np.log(y_prob), np.log(1 - y_prob)))
    assert scores["log_loss"] == pytest.approx(expected_loss)
    assert 0 < scores["ece"] < 1
    json.dumps(scores)


def test_ece_is_the_calibration_curves_weighted_distance_from_the_diagonal():
    rng = np.random.default_rng(0)
    y_prob = rng.random(500)
    y_true = (rng.random(500) < y_prob**2).astype(int)  # over-confident in class 1
    observed, predicted = calibration_curve(y_true, y_prob, n_bins=7)
    counts = np.histogram(y_prob, bins=np.linspace(0, 1, 8))[0]
    counts = counts[counts > 0]
    expected = np.sum(counts * np.abs(observed - predicted)) / 500
    assert expected_calibration_error(y_true, y_prob, 7) == pytest.approx(expected)
    assert expected > 0.05
    calibrated = np.array([0.25] * 4 + [0.75] * 4)
    assert expected_calibration_error(np.array([1, 0, 0, 0, 1, 1, 1, 0]), calibrated, 10) == 0


def test_a_majority_only_model_gets_balanced_accuracy_one_half():
    y_true = np.array([0] * 65 + [1] * 35)
    scores = compute_metrics(y_true, np.full(100, 0.2), 0.5, CLASSES, majority=0, bins=10)
    assert scores["accuracy"] == pytest.approx(0.65) == scores["baseline_accuracy"]
    assert scores["balanced_accuracy"] == pytest.approx(0.5)


def test_threshold_moves_predictions():
    y_true = np.array([0, 1, 1])
    y_prob = np.array([0.2, 0.35, 0.9])
    assert compute_metrics(y_true, y_prob, 0.5, CLASSES, 0, bins=10)["accuracy"] == pytest.approx(
        2 / 3
    )
    assert compute_metrics(y_true, y_prob, 0.3, CLASSES, 0, bins=10)["accuracy"] == pytest.approx(
        1.0
    )


def test_most_confident_mistakes_come_first():
    y_true = np.array([0, 1, 0, 1, 0, 1])
    y_prob = np.array([0.9, 0.2, 0.6, 0.05, 0.1, 0.95])  # wrong: 0 (p 0.9), 1 (0.8), 2, 3 (0.95)
    assert most_confident_mistakes(y_true, y_prob, 0.5, 10) == [3, 0, 1, 2]
    assert most_confident_mistakes(y_true, y_prob, 0.5, 2) == [3, 0]
    assert most_confident_mistakes(y_true, y_prob, 0.5, 0) == []


def test_confidence_is_the_probability_of_the_predicted_label():
    y_prob = np.array([0.2, 0.6, 0.9])
    np.testing.assert_allclose(confidence(y_prob, 0.5), [0.8, 0.6, 0.9])
    np.testing.assert_allclose(confidence(y_prob, 0.7), [0.8, 0.4, 0.9])
