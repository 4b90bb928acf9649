"""The evaluate stage's work: score the held-out test split, and optionally an external folder,
at the decision threshold stored with the model (chosen on validation, never on test).

The test split is also scored by group (groups.py), its images joined to the split manifest on
their path: by source, always, and by each attribute a source gives (age, race, ...); and each
source's test images are scored alone, as the whole split is.

Computation only: what gets written (DVCLive metrics, plots, gallery, predictions, model card)
is reporting.py's job.
"""

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import islice
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm import tqdm

from genderface.data.manifests import attribute_columns, read_manifest
from genderface.data.shards import ShardInfo, StoredImage, records
from genderface.errors import GenderfaceError
from genderface.evaluation.external import External, evaluate_external
from genderface.evaluation.files import Forward
from genderface.evaluation.groups import GroupScores, by_group
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
    groups: GroupScores  # the test split by source and by each attribute of the manifest
    sources: dict[str, Evaluation]  # each source's test images scored alone, by source name
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


def split_attributes(test: Evaluation, manifest: pd.DataFrame) -> pd.DataFrame:
    """Each test image's source and attributes (its manifest row: `file` is the manifest's path,
    as the shards record it), in the evaluation's image order."""
    columns = ["source", *attribute_columns(manifest)]
    rows = manifest.rename(columns={"path": "file"}).set_index("file")[columns]
    joined = rows.reindex(test.files)
    missing = joined.index[joined["source"].isna()]
    if len(missing):
        raise GenderfaceError(
            f"test image {missing[0]} is not in the split manifest: the shards and the manifest "
            "come from different runs; rerun `dvc repro`"
        )
    return joined.reset_index()


def source_scores(test: Evaluation, sources: pd.Series, scoring: Scoring) -> dict[str, Evaluation]:
    """Each source's test images (`sources`: each image's source, in the evaluation's order)
    scored alone, with the whole split's threshold, baseline and bootstrap. A source whose test
    images are of one class has no ROC-AUC or balanced accuracy: it is left out here, logged,
    and scored in the by-source groups only."""
    result = {}
    for name in sorted(set(sources)):
        keep = np.flatnonzero(sources.to_numpy() == name)
        if len(set(test.y_true[keep])) < 2:
            log.info("test %s: one class only, scored by group alone", name)
            continue
        images = [LabelledImage(test.files[i], test.sha256[i], int(test.y_true[i])) for i in keep]
        result[name] = scored(f"test {name}", scoring, images, test.y_prob[keep])
    return result


def run_evaluation(
    params: EvaluateParams, shards_dir: Path, model_path: Path, manifest_path: Path
) -> Report:
    """Test scores, by group and per source, the most confident mistakes, and the optional
    external folder."""
    info = ShardInfo.read(shards_dir)
    classifier = load_classifier(model_path)
    scoring = Scoring.of(classifier, info, params)
    forward = forward_pass(classifier.model)
    test = evaluate_test(forward, shards_dir, info, scoring, params.batch_size)
    attributes = split_attributes(test, read_manifest(manifest_path))
    groups = by_group(test, attributes, params.min_group)
    sources = source_scores(test, attributes["source"], scoring)
    mistakes = collect_mistakes(test, shards_dir, info, params.mistakes)
    external = None
    if params.external:
        size, framing = classifier.image_size, classifier.info.framing
        external = evaluate_external(forward, size, framing, scoring, params)
    return Report(info, test, groups, sources, mistakes, external, classifier.info)
