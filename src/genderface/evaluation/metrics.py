"""Scores of binary predictions, as pure functions: arrays in, numbers out, no files, no DVCLive.

The classes are imbalanced (about 65% man), so accuracy alone flatters a model that leans to the
majority: balanced accuracy and the majority baseline are always reported with it.
"""

import numpy as np
from sklearn import metrics as skm

from genderface.decision import decide

Scores = dict[str, float | int | dict[str, float | int]]


def expected_calibration_error(y_true: np.ndarray, y_prob: np.ndarray, bins: int) -> float:
    """Mean gap between predicted probability of class 1 and observed frequency, per bin,
    weighted by the images in the bin.

    The bins are the calibration curve's (scikit-learn calibration_curve, `bins` equal-width
    bins), so the ECE is the curve's weighted distance from the diagonal.
    """
    ids = np.searchsorted(np.linspace(0.0, 1.0, bins + 1)[1:-1], y_prob)
    predicted = np.bincount(ids, weights=y_prob, minlength=bins)
    observed = np.bincount(ids, weights=y_true, minlength=bins)
    return float(np.abs(predicted - observed).sum() / len(y_prob))


def compute_metrics(
    y_true: np.ndarray,
    y_prob: np.ndarray,
    threshold: float,
    classes: list[str],
    majority: int,
    bins: int,
) -> Scores:
    """Scores for binary predictions; `majority` is the class index most common in training.

    average_precision is the area under the precision-recall curve of class 1 (the class the
    sigmoid scores), step-wise as scikit-learn computes it; ece uses `bins` equal-width bins.
    """
    y_pred = decide(y_prob, threshold)
    precision, recall, f1, support = skm.precision_recall_fscore_support(
        y_true, y_pred, labels=[0, 1], zero_division=0
    )
    scores: Scores = {
        "images": len(y_true),
        "threshold": float(threshold),
        "accuracy": float(skm.accuracy_score(y_true, y_pred)),
        "balanced_accuracy": float(skm.balanced_accuracy_score(y_true, y_pred)),
        "roc_auc": float(skm.roc_auc_score(y_true, y_prob)),
        "average_precision": float(skm.average_precision_score(y_true, y_prob)),
        "log_loss": float(skm.log_loss(y_true, np.clip(y_prob, 1e-7, 1 - 1e-7), labels=[0, 1])),
        "ece": expected_calibration_error(y_true, y_prob, bins),
        "baseline_accuracy": float(np.mean(y_true == majority)),
    }
    for i, name in enumerate(classes):
        scores[name] = {
            "precision": float(precision[i]),
            "recall": float(recall[i]),
            "f1": float(f1[i]),
            "support": int(support[i]),
        }
    return scores


def confidence(y_prob: np.ndarray, threshold: float) -> np.ndarray:
    """The probability the model gave the label it predicted."""
    return np.where(decide(y_prob, threshold) == 1, y_prob, 1 - y_prob)


def most_confident_mistakes(
    y_true: np.ndarray, y_prob: np.ndarray, threshold: float, count: int
) -> list[int]:
    """Indices of wrong predictions, the most confident first (ties in record order)."""
    wrong = np.flatnonzero(decide(y_prob, threshold) != y_true)
    order = np.argsort(-confidence(y_prob, threshold)[wrong], kind="stable")
    return wrong[order][:count].tolist()
