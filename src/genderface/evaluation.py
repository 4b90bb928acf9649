"""Evaluation on the held-out test split, always beside the majority-class baseline.

The classes are imbalanced (about 65% man), so accuracy alone flatters a model that leans to the
majority: balanced accuracy and the baseline are reported with it.
"""

import logging
from dataclasses import dataclass

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

    @property
    def y_pred(self) -> np.ndarray:
        return (self.y_prob >= self.threshold).astype(int)


def predict_dataset(
    classifier: Classifier, dataset: tf.data.Dataset
) -> tuple[np.ndarray, np.ndarray]:
    """Return (true labels as int, predicted probability of class 1) over a batched dataset."""
    labels, probabilities = [], []
    for images, batch_labels in tqdm(dataset, desc="evaluating", unit="batch", mininterval=1.0):
        probabilities.append(classifier.model.predict_on_batch(images).reshape(-1))
        labels.append(batch_labels.numpy().astype(int))
    return np.concatenate(labels), np.concatenate(probabilities)


def choose_threshold(y_true: np.ndarray, y_prob: np.ndarray) -> float:
    """The cut-off that maximises balanced accuracy (Youden's J) on the given, validation, data.

    With 65% of one class, 0.5 on a class-weighted model is rarely the best operating point, and
    choosing it on test would flatter the test scores.
    """
    fpr, tpr, thresholds = skm.roc_curve(y_true, y_prob)
    best = int(np.argmax(tpr - fpr))
    return float(np.clip(thresholds[best], 0.0, 1.0))


def evaluate(classifier: Classifier, test: tf.data.Dataset, info: ShardInfo) -> Evaluation:
    """Score the model on the test split at its validation-chosen threshold.

    The baseline always predicts the training majority.
    """
    threshold = classifier.threshold
    if classifier.classes != info.classes or classifier.image_size != info.image_size:
        raise GenderfaceError(
            f"the model ({classifier.classes}, {classifier.image_size} px) does not match the "
            f"shards ({info.classes}, {info.image_size} px); rerun `dvc repro`"
        )
    y_true, y_prob = predict_dataset(classifier, test)
    train_counts = info.counts["train"]
    majority = info.classes.index(max(info.classes, key=train_counts.__getitem__))
    scores = compute_metrics(y_true, y_prob, threshold, info.classes, majority)
    log.info(
        "test (%d images): accuracy %.3f, balanced accuracy %.3f, majority baseline %.3f "
        "(always %s), ROC-AUC %.3f",
        scores["images"],
        scores["accuracy"],
        scores["balanced_accuracy"],
        scores["baseline_accuracy"],
        info.classes[majority],
        scores["roc_auc"],
    )
    return Evaluation(scores, info.classes, threshold, y_true, y_prob)


def compute_metrics(
    y_true: np.ndarray,
    y_prob: np.ndarray,
    threshold: float,
    classes: list[str],
    majority: int,
) -> Scores:
    """Scores for binary predictions; `majority` is the class index most common in training."""
    y_pred = (y_prob >= threshold).astype(int)
    precision, recall, f1, support = skm.precision_recall_fscore_support(
        y_true, y_pred, labels=[0, 1], zero_division=0
    )
    scores: Scores = {
        "images": len(y_true),
        "accuracy": float(skm.accuracy_score(y_true, y_pred)),
        "balanced_accuracy": float(skm.balanced_accuracy_score(y_true, y_pred)),
        "roc_auc": float(skm.roc_auc_score(y_true, y_prob)),
        "loss": float(skm.log_loss(y_true, np.clip(y_prob, 1e-7, 1 - 1e-7), labels=[0, 1])),
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


def log_evaluation(live: Live, result: Evaluation) -> None:
    """Write scores as DVCLive metrics under test/, plus confusion-matrix and ROC plot data."""
    for key, value in result.scores.items():
        if isinstance(value, dict):
            for sub, v in value.items():
                live.log_metric(f"test/{key}/{sub}", v, plot=False)
        else:
            live.log_metric(f"test/{key}", value, plot=False)
    names = np.array(result.classes)
    live.log_sklearn_plot(
        "confusion_matrix",
        names[result.y_true].tolist(),
        names[result.y_pred].tolist(),
        name="test/confusion_matrix.json",
        title="Test confusion matrix",
    )
    live.log_sklearn_plot(
        "roc", result.y_true, result.y_prob, name="test/roc.json", title="Test ROC"
    )
