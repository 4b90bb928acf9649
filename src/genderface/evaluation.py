"""Evaluation on the held-out test split, always beside the majority-class baseline.

The classes are imbalanced (about 65% man), so accuracy alone flatters a model that leans to the
majority: balanced accuracy and the baseline are reported with it. Every score uses the decision
threshold stored with the model, which training chose on the validation split, never on test.
"""

import logging
from dataclasses import dataclass

import keras
import numpy as np
import tensorflow as tf
from dvclive import Live
from sklearn import metrics as skm
from tqdm import tqdm

from genderface.errors import GenderfaceError
from genderface.input_pipeline import ShardInfo
from genderface.model import Classifier

log = logging.getLogger("evaluate")

Scores = dict[str, float | int | dict[str, float | int]]


@dataclass(frozen=True)
class Evaluation:
    """Scores plus what they were computed from (for the plots)."""

    scores: Scores
    classes: list[str]
    threshold: float
    y_true: np.ndarray
    y_prob: np.ndarray
    bins: int  # calibration bins, for the ECE and the calibration curve alike

    @property
    def y_pred(self) -> np.ndarray:
        return (self.y_prob >= self.threshold).astype(int)

    @property
    def confidence(self) -> np.ndarray:
        """The probability the model gave the label it predicted."""
        return np.where(self.y_pred == 1, self.y_prob, 1 - self.y_prob)


def model_outputs(
    model: keras.Model, batches: tf.data.Dataset, desc: str = "evaluating"
) -> tuple[np.ndarray, np.ndarray]:
    """(labels as int, model outputs) over batches, in order, in inference mode.

    A direct call, not predict(): under a distribution strategy (training's threshold and
    bottleneck passes) Keras' predict_on_batch hands the whole batch to every replica and
    returns the copies concatenated.
    """
    forward = tf.function(lambda images: model(images, training=False))
    labels, outputs = [], []
    for images, batch_labels in tqdm(batches, desc=desc, unit="batch", mininterval=1.0):
        outputs.append(forward(images).numpy())
        labels.append(batch_labels.numpy().astype(int))
    return np.concatenate(labels), np.concatenate(outputs)


def choose_threshold(y_true: np.ndarray, y_prob: np.ndarray) -> float:
    """The cut-off that maximises balanced accuracy (Youden's J) on the given, validation, data.

    With 65% of one class, 0.5 on a class-weighted model is rarely the best operating point, and
    choosing it on test would flatter the test scores.
    """
    fpr, tpr, thresholds = skm.roc_curve(y_true, y_prob)
    best = int(np.argmax(tpr - fpr))
    return float(np.clip(thresholds[best], 0.0, 1.0))


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
    y_pred = (y_prob >= threshold).astype(int)
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


def check_model_matches(classifier: Classifier, info: ShardInfo) -> None:
    if classifier.classes != info.classes or classifier.image_size != info.image_size:
        raise GenderfaceError(
            f"the model ({classifier.classes}, {classifier.image_size} px) does not match the "
            f"shards ({info.classes}, {info.image_size} px); rerun `dvc repro`"
        )


def training_majority(info: ShardInfo) -> int:
    """Index of the class most common in the training split: what the baseline always says."""
    train_counts = info.counts["train"]
    return info.classes.index(max(info.classes, key=train_counts.__getitem__))


def log_summary(name: str, scores: Scores, majority: str) -> None:
    log.info(
        "%s (%d images, threshold %.3f): accuracy %.3f, balanced accuracy %.3f, majority "
        "baseline %.3f (always %s), ROC-AUC %.3f",
        name,
        scores["images"],
        scores["threshold"],
        scores["accuracy"],
        scores["balanced_accuracy"],
        scores["baseline_accuracy"],
        majority,
        scores["roc_auc"],
    )


def evaluate(
    classifier: Classifier, test: tf.data.Dataset, info: ShardInfo, bins: int
) -> Evaluation:
    """Score the model on the test split at its validation-chosen threshold.

    The baseline always predicts the training majority.
    """
    check_model_matches(classifier, info)
    y_true, outputs = model_outputs(classifier.model, test)
    y_prob = outputs.reshape(-1)
    majority = training_majority(info)
    scores = compute_metrics(y_true, y_prob, classifier.threshold, info.classes, majority, bins)
    log_summary("test", scores, info.classes[majority])
    return Evaluation(scores, info.classes, classifier.threshold, y_true, y_prob, bins)


def log_scores(live: Live, prefix: str, scores: Scores) -> None:
    for key, value in scores.items():
        if isinstance(value, dict):
            for sub, v in value.items():
                live.log_metric(f"{prefix}/{key}/{sub}", v, plot=False)
        else:
            live.log_metric(f"{prefix}/{key}", value, plot=False)


def log_evaluation(live: Live, result: Evaluation) -> None:
    """Write test scores as DVCLive metrics under test/, plus the confusion-matrix, ROC,
    precision-recall and calibration plot data (class 1 is the positive class).
    """
    log_scores(live, "test", result.scores)
    y_prob = result.y_prob.astype(np.float64)  # DVCLive's JSON writer refuses float32 thresholds
    names = np.array(result.classes)
    live.log_sklearn_plot(
        "confusion_matrix",
        names[result.y_true].tolist(),
        names[result.y_pred].tolist(),
        name="test/confusion_matrix.json",
        title="Test confusion matrix",
    )
    live.log_sklearn_plot("roc", result.y_true, y_prob, name="test/roc.json", title="Test ROC")
    live.log_sklearn_plot(
        "precision_recall",
        result.y_true,
        y_prob,
        name="test/precision_recall.json",
        title=f"Test precision-recall ({result.classes[1]})",
    )
    live.log_sklearn_plot(
        "calibration",
        result.y_true,
        y_prob,
        name="test/calibration.json",
        title="Test calibration",
        n_bins=result.bins,
    )
