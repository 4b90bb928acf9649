"""An evaluated set's scores: every image's probability at the model's threshold, the metrics
with bootstrap intervals, and the per-image predictions that revisions are paired by.
"""

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd

from genderface.data.shards import ShardInfo
from genderface.decision import decide, majority_class
from genderface.errors import GenderfaceError
from genderface.evaluation.metrics import Scores, compute_metrics, confidence
from genderface.evaluation.outputs import PREDICTION_COLUMNS
from genderface.modeling.model_file import Classifier
from genderface.params import EvaluateParams
from genderface.stats import bootstrap_bounds

log = logging.getLogger("evaluate")


@dataclass(frozen=True)
class LabelledImage:
    """One image of an evaluated set: its file, content hash and true label index."""

    file: str
    sha256: str
    label: int


@dataclass(frozen=True)
class Scoring:
    """How every set is scored: class names, the model's decision threshold, the training
    split's majority class (the baseline), calibration bins and the bootstrap's size and seed."""

    classes: list[str]
    threshold: float
    majority: int
    bins: int
    resamples: int
    seed: int

    @classmethod
    def of(cls, classifier: Classifier, info: ShardInfo, params: EvaluateParams) -> "Scoring":
        """The model's threshold and classes, checked against the shards it is scored on."""
        if classifier.classes != info.classes or classifier.image_size != info.image_size:
            raise GenderfaceError(
                f"the model ({classifier.classes}, {classifier.image_size} px) does not match "
                f"the shards ({info.classes}, {info.image_size} px); rerun `dvc repro`"
            )
        majority = info.classes.index(majority_class(info.counts["train"]))
        return cls(
            info.classes,
            classifier.threshold,
            majority,
            params.calibration_bins,
            params.bootstrap,
            params.seed,
        )


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


def scored(
    name: str, scoring: Scoring, images: list[LabelledImage], y_prob: np.ndarray
) -> Evaluation:
    """Scores of one evaluated set, with seeded bootstrap 95% intervals (`<metric>_ci`)."""
    y_true = np.array([image.label for image in images], dtype=int)
    threshold, classes = scoring.threshold, scoring.classes
    scores = compute_metrics(y_true, y_prob, threshold, classes, scoring.majority, scoring.bins)
    bounds = bootstrap_bounds(y_true, y_prob, threshold, scoring.resamples, scoring.seed)
    for metric, (low, high) in bounds.items():
        scores[f"{metric}_ci"] = {"low": low, "high": high}
    log.info(
        "%s (%d images, threshold %.3f): accuracy %.3f, balanced accuracy %.3f, majority "
        "baseline %.3f (always %s), ROC-AUC %.3f",
        name,
        scores["images"],
        threshold,
        scores["accuracy"],
        scores["balanced_accuracy"],
        scores["baseline_accuracy"],
        classes[scoring.majority],
        scores["roc_auc"],
    )
    return Evaluation(
        scores,
        classes,
        threshold,
        [image.file for image in images],
        [image.sha256 for image in images],
        y_true,
        y_prob,
        scoring.bins,
    )
