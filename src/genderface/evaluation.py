"""The evaluate stage's work: score the held-out test split, and optionally an external folder,
at the decision threshold stored with the model (chosen on validation, never on test).

Computation only: what gets written (DVCLive metrics, plots, gallery, predictions, model card)
is reporting.py's job.
"""

import hashlib
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import islice
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm import tqdm

from genderface.decision import decide, majority_class
from genderface.errors import GenderfaceError
from genderface.folders import class_files
from genderface.inference import Failure, outputs, score_files, whole_image
from genderface.metrics import Scores, compute_metrics, confidence, most_confident_mistakes
from genderface.model import Classifier, load_classifier
from genderface.params import NO_INPUT, EvaluateParams
from genderface.shards import Record, ShardInfo, records

log = logging.getLogger("evaluate")

PREDICTION_COLUMNS = ["sha256", "file", "label", "probability", "predicted"]


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


@dataclass(frozen=True)
class Mistake:
    """A wrongly labelled test image and the probability the model gave its wrong label."""

    path: str
    true: str
    predicted: str
    probability: float
    pixels: np.ndarray


@dataclass(frozen=True)
class Report:
    """Everything the evaluate stage writes about."""

    info: ShardInfo
    test: Evaluation
    mistakes: list[Mistake]
    external: Evaluation | None


def check_model_matches(classifier: Classifier, info: ShardInfo) -> None:
    if classifier.classes != info.classes or classifier.image_size != info.image_size:
        raise GenderfaceError(
            f"the model ({classifier.classes}, {classifier.image_size} px) does not match the "
            f"shards ({info.classes}, {info.image_size} px); rerun `dvc repro`"
        )


def training_majority(info: ShardInfo) -> int:
    """Index of the class most common in the training split: what the baseline always says."""
    return info.classes.index(majority_class(info.counts["train"]))


def _scored(
    name: str,
    info: ShardInfo,
    threshold: float,
    keys: tuple[list[str], list[str], list[int]],
    y_prob: np.ndarray,
    bins: int,
) -> Evaluation:
    files, hashes, labels = keys
    y_true = np.array(labels, dtype=int)
    majority = training_majority(info)
    scores = compute_metrics(y_true, y_prob, threshold, info.classes, majority, bins)
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


def evaluate_test(
    classifier: Classifier, shards_dir: Path, info: ShardInfo, batch_size: int, bins: int
) -> Evaluation:
    """Score the test split's records at the model's threshold."""
    check_model_matches(classifier, info)
    keys: tuple[list[str], list[str], list[int]] = ([], [], [])

    def batches() -> Iterator[np.ndarray]:
        stream = tqdm(records(shards_dir, "test", info), total=info.size("test"), desc="test")
        with stream:
            records_left = iter(stream)
            while chunk := list(islice(records_left, batch_size)):
                for record in chunk:
                    keys[0].append(record.path)
                    keys[1].append(record.sha256)
                    keys[2].append(record.label)
                yield np.stack([record.pixels for record in chunk]).astype(np.float32)

    y_prob = np.concatenate(list(outputs(classifier.model, batches()))).reshape(-1)
    return _scored("test", info, classifier.threshold, keys, y_prob, bins)


def folder_images(folder: Path, classes: list[str]) -> tuple[list[Path], list[int]]:
    """Every image of folder/<class>/ (folders.class_files) and its label index."""
    if not folder.is_dir():
        raise GenderfaceError(
            f"evaluate.external {str(folder)!r}: no such folder; set it to a folder of "
            f"<class>/<images>, or to {NO_INPUT} to turn it off"
        )
    found = class_files(folder)
    if sorted(found) != sorted(classes):
        raise GenderfaceError(
            f"evaluate.external {str(folder)!r}: class folders {sorted(found)} do not match the "
            f"model's {classes}; lay it out as <class>/<images>"
        )
    paths = [path for name in classes for path in found[name]]
    labels = [label for label, name in enumerate(classes) for _ in found[name]]
    return paths, labels


def evaluate_folder(
    classifier: Classifier, folder: Path, info: ShardInfo, batch_size: int, bins: int
) -> Evaluation:
    """Score a folder of <class>/<images> from elsewhere (a cross-dataset check), scored exactly
    as `genderface predict` scores files; unreadable files are skipped and counted.
    """
    check_model_matches(classifier, info)
    paths, labels = folder_images(folder, classifier.classes)
    keys: tuple[list[str], list[str], list[int]] = ([], [], [])
    y_prob, skipped = [], 0
    results = tqdm(score_files(classifier, paths, batch_size, whole_image), total=len(paths))
    with results:
        for path, label, result in zip(paths, labels, results, strict=True):
            if isinstance(result, Failure):
                log.warning("skipping %s", result.reason)
                skipped += 1
                continue
            keys[0].append(path.relative_to(folder).as_posix())
            keys[1].append(hashlib.sha256(path.read_bytes()).hexdigest())
            keys[2].append(label)
            y_prob.append(result.probability)
    if set(keys[2]) != {0, 1}:
        raise GenderfaceError(
            f"evaluate.external {str(folder)!r}: needs readable images of both classes "
            f"{classifier.classes}"
        )
    threshold = classifier.threshold
    evaluation = _scored(f"external {folder}", info, threshold, keys, np.array(y_prob), bins)
    evaluation.scores["skipped"] = skipped
    return evaluation


def collect_mistakes(
    result: Evaluation, shards_dir: Path, info: ShardInfo, count: int
) -> list[Mistake]:
    """The `count` most confident test mistakes with their pixels, read back from the shards."""
    indices = most_confident_mistakes(result.y_true, result.y_prob, result.threshold, count)
    wanted = set(indices)
    found: dict[int, Record] = {}
    for index, record in enumerate(records(shards_dir, "test", info)):
        if len(found) == len(wanted):
            break
        if index in wanted:
            found[index] = record
    names = result.classes
    return [
        Mistake(
            found[i].path,
            names[found[i].label],
            names[int(result.y_pred[i])],
            float(result.confidence[i]),
            found[i].pixels,
        )
        for i in indices
    ]


def run_evaluation(params: EvaluateParams, shards_dir: Path, model_path: Path) -> Report:
    """Test scores, the most confident mistakes, and the optional external folder."""
    info = ShardInfo.read(shards_dir)
    classifier = load_classifier(model_path)
    bins, batch = params.calibration_bins, params.batch_size
    test = evaluate_test(classifier, shards_dir, info, batch, bins)
    mistakes = collect_mistakes(test, shards_dir, info, params.mistakes)
    external = None
    if params.external:
        external = evaluate_folder(classifier, Path(params.external), info, batch, bins)
    return Report(info, test, mistakes, external)
