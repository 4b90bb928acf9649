"""Evaluation on the held-out test split, always beside the majority-class baseline.

The classes are imbalanced (about 65% man), so accuracy alone flatters a model that leans to the
majority: balanced accuracy and the baseline are reported with it.
"""

from dataclasses import dataclass

import keras
import numpy as np
import tensorflow as tf
from dvclive import Live
from sklearn import metrics as skm
from tqdm import tqdm

from genderface.input_pipeline import ShardInfo


@dataclass(frozen=True)
class Evaluation:
    scores: dict
    y_true: np.ndarray
    y_prob: np.ndarray


def predict_dataset(model: keras.Model, dataset: tf.data.Dataset) -> tuple[np.ndarray, np.ndarray]:
    """Return (true labels as int, predicted probability of class 1) over a batched dataset."""
    labels, probabilities = [], []
    for images, batch_labels in tqdm(dataset, desc="evaluating", unit="batch", mininterval=1.0):
        probabilities.append(model(images, training=False).numpy().reshape(-1))
        labels.append(batch_labels.numpy().astype(int))
    return np.concatenate(labels), np.concatenate(probabilities)


def evaluate(
    model: keras.Model, test: tf.data.Dataset, info: ShardInfo, threshold: float
) -> Evaluation:
    """Score the model on the test split; the baseline always predicts the training majority."""
    y_true, y_prob = predict_dataset(model, test)
    train_counts = info.counts["train"]
    majority = info.classes.index(max(train_counts, key=train_counts.__getitem__))
    return Evaluation(
        compute_metrics(y_true, y_prob, threshold, info.classes, majority), y_true, y_prob
    )


def compute_metrics(
    y_true: np.ndarray,
    y_prob: np.ndarray,
    threshold: float,
    classes: list[str],
    majority: int,
) -> dict:
    """Scores for binary predictions; `majority` is the class index most common in training."""
    y_pred = (y_prob >= threshold).astype(int)
    precision, recall, f1, support = skm.precision_recall_fscore_support(
        y_true, y_pred, labels=[0, 1], zero_division=0
    )
    result = {
        "images": len(y_true),
        "accuracy": skm.accuracy_score(y_true, y_pred),
        "balanced_accuracy": skm.balanced_accuracy_score(y_true, y_pred),
        "loss": skm.log_loss(y_true, np.clip(y_prob, 1e-7, 1 - 1e-7), labels=[0, 1]),
        "baseline_accuracy": float(np.mean(y_true == majority)),
        "baseline_balanced_accuracy": 0.5,
    }
    if len(np.unique(y_true)) == 2:
        result["roc_auc"] = skm.roc_auc_score(y_true, y_prob)
    for i, name in enumerate(classes):
        result[name] = {
            "precision": precision[i],
            "recall": recall[i],
            "f1": f1[i],
            "support": int(support[i]),
        }
    return _plain(result)


def _plain(value):
    """numpy scalars to Python numbers, so the dict serialises as JSON."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value.item() if isinstance(value, np.generic) else value


def log_evaluation(live: Live, result: Evaluation, threshold: float, classes: list[str]) -> None:
    """Write scores as DVCLive metrics under test/, plus confusion-matrix and ROC plot data."""
    y_true, y_prob = result.y_true, result.y_prob
    for key, value in result.scores.items():
        if isinstance(value, dict):
            for sub, v in value.items():
                live.log_metric(f"test/{key}/{sub}", v, plot=False)
        else:
            live.log_metric(f"test/{key}", value, plot=False)
    names = np.array(classes)
    live.log_sklearn_plot(
        "confusion_matrix",
        names[y_true].tolist(),
        names[(y_prob >= threshold).astype(int)].tolist(),
        name="test/confusion_matrix.json",
        title="Test confusion matrix",
    )
    live.log_sklearn_plot("roc", y_true, y_prob, name="test/roc.json", title="Test ROC")
