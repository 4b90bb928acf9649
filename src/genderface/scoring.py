"""An evaluated set's scores: every image's probability at the model's threshold, the metrics
with bootstrap intervals, and the per-image predictions that revisions are paired by.
"""

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd

from genderface.decision import decide, majority_class
from genderface.errors import GenderfaceError
from genderface.layout import PREDICTION_COLUMNS
from genderface.metrics import Scores, compute_metrics, confidence
from genderface.model import Classifier
from genderface.params import EvaluateParams
from genderface.shards import ShardInfo
from genderface.stats import bootstrap_scores

log = logging.getLogger("evaluate")


@dataclass(frozen=True)
class Evaluation:
    """Scores plus what they were computed from: per image, its file, content hash, true label
    and probability of class 1."""

    scores: Scores
    classes: list[str]
    threshold: float
    files: list[str]
    sha256: list[str]
    y_true: np.ndarray
    y_prob: np.ndarray
    bins: int  # calibration bins, for the ECE and the calibration curve alike

    @property
    def y_pred(self) -> np.ndarray:
        return decide(self.y_prob, self.threshold)

    @property
    def confidence(self) -> np.ndarray:
        return confidence(self.y_prob, self.threshold)

    def predictions(self) -> pd.DataFrame:
        """One row per image, sorted by file: what `genderface compare` pairs across revisions."""
        names = np.array(self.classes)
        frame = pd.DataFrame(
            {
                "sha256": self.sha256,
                "file": self.files,
                "label": names[self.y_true],
                "probability": np.round(self.y_prob.astype(np.float64), 6),
                "predicted": names[self.y_pred],
            },
            columns=PREDICTION_COLUMNS,
        )
        return frame.sort_values(["file", "sha256"], ignore_index=True)


def check_model_matches(classifier: Classifier, info: ShardInfo) -> None:
    if classifier.classes != info.classes or classifier.image_size != info.image_size:
        raise GenderfaceError(
            f"the model ({classifier.classes}, {classifier.image_size} px) does not match the "
            f"shards ({info.classes}, {info.image_size} px); rerun `dvc repro`"
        )


def training_majority(info: ShardInfo) -> int:
    """Index of the class most common in the training split: what the baseline always says."""
    return info.classes.index(majority_class(info.counts["train"]))


Keys = tuple[list[str], list[str], list[int]]  # per image: file, content hash, label index


def scored(
    name: str,
    info: ShardInfo,
    threshold: float,
    keys: Keys,
    y_prob: np.ndarray,
    params: EvaluateParams,
) -> Evaluation:
    """Scores of one evaluated set, with seeded bootstrap 95% intervals (`<metric>_ci`)."""
    files, hashes, labels = keys
    y_true = np.array(labels, dtype=int)
    majority = training_majority(info)
    bins = params.calibration_bins
    scores = compute_metrics(y_true, y_prob, threshold, info.classes, majority, bins)
    intervals = bootstrap_scores(y_true, y_prob, threshold, params.bootstrap, params.seed)
    for metric, interval in intervals.items():
        scores[f"{metric}_ci"] = {"low": interval.low, "high": interval.high}
    log.info(
        "%s (%d images, threshold %.3f): accuracy %.3f, balanced accuracy %.3f, majority "
        "baseline %.3f (always %s), ROC-AUC %.3f",
        name,
        scores["images"],
        threshold,
        scores["accuracy"],
        scores["balanced_accuracy"],
        scores["baseline_accuracy"],
        info.classes[majority],
        scores["roc_auc"],
    )
    return Evaluation(scores, info.classes, threshold, files, hashes, y_true, y_prob, bins)
