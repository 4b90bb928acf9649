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

from genderface.external import External, evaluate_external
from genderface.inference import outputs
from genderface.metrics import most_confident_mistakes
from genderface.model import Classifier, load_classifier
from genderface.params import EvaluateParams
from genderface.scoring import Evaluation, Keys, check_model_matches, scored
from genderface.shards import Record, ShardInfo, records

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


def evaluate_test(
    classifier: Classifier, shards_dir: Path, info: ShardInfo, params: EvaluateParams
) -> Evaluation:
    """Score the test split's records at the model's threshold."""
    check_model_matches(classifier, info)
    keys: Keys = ([], [], [])

    def batches() -> Iterator[np.ndarray]:
        stream = tqdm(records(shards_dir, "test", info), total=info.size("test"), desc="test")
        with stream:
            records_left = iter(stream)
            while chunk := list(islice(records_left, params.batch_size)):
                for record in chunk:
                    keys[0].append(record.path)
                    keys[1].append(record.sha256)
                    keys[2].append(record.label)
                yield np.stack([record.pixels for record in chunk]).astype(np.float32)

    y_prob = np.concatenate(list(outputs(classifier.model, batches()))).reshape(-1)
    return scored("test", info, classifier.threshold, keys, y_prob, params)


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
    test = evaluate_test(classifier, shards_dir, info, params)
    mistakes = collect_mistakes(test, shards_dir, info, params.mistakes)
    external = evaluate_external(classifier, info, params) if params.external else None
    return Report(info, test, mistakes, external)
