import numpy as np
import pytest
from sklearn.metrics import balanced_accuracy_score as skm_balanced

from genderface.decision import choose_threshold, decide, majority_class


def test_at_the_threshold_means_class_one():
    np.testing.assert_array_equal(decide(np.array([0.29, 0.3, 0.31]), 0.3), [0, 1, 1])
    assert decide(0.0, 0.0) == 1
    assert decide(0.999, 1.0) == 0


def test_majority_is_the_largest_class_and_a_tie_goes_to_the_first_name():
    assert majority_class({"woman": 9, "man": 17}) == "man"
    assert majority_class({"woman": 30, "man": 3}) == "woman"
    assert majority_class({"woman": 5, "man": 5}) == "man"
    assert majority_class({"b": 5, "a": 5, "c": 1}) == "a"
    with pytest.raises(ValueError, match="no classes"):
        majority_class({})


def test_choose_threshold_maximises_balanced_accuracy():
    """Scores that separate the classes only above 0.8: the chosen cut-off must sit there."""
    y_true = np.array([0, 0, 0, 0, 0, 0, 1, 1])
    y_prob = np.array([0.1, 0.6, 0.65, 0.7, 0.75, 0.78, 0.85, 0.9])
    threshold = choose_threshold(y_true, y_prob)
    assert threshold == pytest.approx((0.78 + 0.85) / 2), "halfway: no image on the cut"
    assert skm_balanced(y_true, (y_prob >= threshold).astype(int)) == 1.0
