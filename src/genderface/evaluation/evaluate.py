"""The evaluate stage's work: score the held-out test split, and optionally an external folder,
at the decision threshold stored with the model (chosen on validation, never on test).

Computation only: what gets written (DVCLive metrics, plots, gallery, predictions, model card)
is reporting.py's job.
"""

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import islice
from pathlib import Path

import numpy as np
from tqdm import tqdm

from genderface.data.shards import ShardInfo, StoredImage, records
from genderface.evaluation.external import External, evaluate_external
from genderface.evaluation.files import Forward
from genderface.evaluation.metrics import most_confident_mistakes
from genderface.evaluation.scoring import Evaluation, LabelledImage, Scoring, scored
from genderface.modeling.forward import forward_pass, outputs
from genderface.modeling.model_file import load_classifier
from genderface.modeling.model_info import ModelInfo
from genderface.params import EvaluateParams

log = logging.getLogger("evaluate")


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
    external: External | None
    model: ModelInfo  # the evaluated model's sidecar: its framing and provenance


def evaluate_test(
    forward: Forward, shards_dir: Path, info: ShardInfo, scoring: Scoring, batch_size: int
) -> Evaluation:
    """Score the test split's records at the model's threshold."""
    images: list[LabelledImage] = []

    def batches() -> Iterator[np.ndarray]:
        stream = tqdm(records(shards_dir, "test", info), total=info.size("test"), desc="test")
        with stream:
            records_left = iter(stream)
            while chunk := list(islice(records_left, batch_size)):
                images.extend(LabelledImage(r.path, r.sha256, r.label) for r in chunk)
                yield np.stack([record.pixels for record in chunk]).astype(np.float32)

    return scored("test", scoring, images, outputs(forward, batches()))


def collect_mistakes(
    result: Evaluation, shards_dir: Path, info: ShardInfo, count: int
) -> list[Mistake]:
    """The `count` most confident test mistakes with their pixels, read back from the shards."""
    indices = most_confident_mistakes(result.y_true, result.y_prob, result.threshold, count)
    wanted = set(indices)
    found: dict[int, StoredImage] = {}
    for index, record in enumerate(records(shards_dir, "test", info)):
        if len(found) == len(wanted):
            break
        if index in wanted:
            found[index] = record
    names, predicted, confidence = result.classes, result.y_pred, result.confidence
    return [
        Mistake(
            found[i].path,
            names[found[i].label],
            names[int(predicted[i])],
            float(confidence[i]),
            found[i].pixels,
        )
        for i in indices
    ]


def run_evaluation(params: EvaluateParams, shards_dir: Path, model_path: Path) -> Report:
    """Test scores, the most confident mistakes, and the optional external folder."""
    info = ShardInfo.read(shards_dir)
    classifier = load_classifier(model_path)
    scoring = Scoring.of(classifier, info, params)
    forward = forward_pass(classifier.model)
    test = evaluate_test(forward, shards_dir, info, scoring, params.batch_size)
    mistakes = collect_mistakes(test, shards_dir, info, params.mistakes)
    external = None
    if params.external:
        size, framing = classifier.image_size, classifier.info.framing
        external = evaluate_external(forward, size, framing, scoring, params)
    return Report(info, test, mistakes, external, classifier.info)
