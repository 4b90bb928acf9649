"""The evaluate stage beyond the test scores: a gallery of the most confident test mistakes, and
the optional external folder (a cross-dataset check), all at the model's validation threshold.

Kept apart from evaluation.py, which training imports too: plotting and file decoding here must
not make the train stage depend on them.
"""

import logging
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import tensorflow as tf
from matplotlib.figure import Figure
from tqdm import tqdm

from genderface.errors import GenderfaceError
from genderface.evaluation import (
    Evaluation,
    check_model_matches,
    compute_metrics,
    evaluate,
    log_summary,
    training_majority,
)
from genderface.fsutil import atomic_path
from genderface.input_pipeline import ShardInfo, batched, load_split, shard_files
from genderface.model import Classifier, load_classifier
from genderface.params import EvaluateParams
from genderface.predict import Failure, score_paths

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
    """Everything the evaluate stage writes: metrics, plots, the gallery and the model card."""

    info: ShardInfo
    test: Evaluation
    mistakes: list[Mistake]
    external: Evaluation | None


def folder_images(folder: Path, classes: list[str]) -> tuple[list[Path], list[int]]:
    """Every file under folder/<class>/ (recursive, sorted) and its label index."""
    if not folder.is_dir():
        raise GenderfaceError(
            f"evaluate.external {str(folder)!r}: no such folder; set it to a folder of "
            '<class>/<images>, or to "" to turn it off'
        )
    found = sorted(p.name for p in folder.iterdir() if p.is_dir())
    if found != sorted(classes):
        raise GenderfaceError(
            f"evaluate.external {str(folder)!r}: class folders {found} do not match the model's "
            f"{classes}; lay it out as <class>/<images>"
        )
    paths: list[Path] = []
    labels: list[int] = []
    for label, name in enumerate(classes):
        files = sorted(p for p in (folder / name).rglob("*") if p.is_file())
        paths += files
        labels += [label] * len(files)
    return paths, labels


def evaluate_folder(
    classifier: Classifier, folder: Path, info: ShardInfo, batch_size: int, bins: int
) -> Evaluation:
    """Score a folder of <class>/<images> from elsewhere (a cross-dataset check), decoded as
    predict decodes, at the model's threshold; unreadable files are skipped and counted.
    """
    check_model_matches(classifier, info)
    paths, labels = folder_images(folder, classifier.classes)
    y_true, y_prob, skipped = [], [], 0
    results = score_paths(classifier, paths, batch_size)
    for label, result in zip(labels, tqdm(results, total=len(paths), desc="external"), strict=True):
        if isinstance(result, Failure):
            log.warning("skipping %s", result.reason)
            skipped += 1
        else:
            y_true.append(label)
            y_prob.append(result.score)
    if set(y_true) != {0, 1}:
        raise GenderfaceError(
            f"evaluate.external {str(folder)!r}: needs readable images of both classes "
            f"{classifier.classes}"
        )
    majority = training_majority(info)
    y_true_array, y_prob_array = np.array(y_true), np.array(y_prob)
    scores = compute_metrics(
        y_true_array, y_prob_array, classifier.threshold, info.classes, majority, bins
    )
    scores["skipped"] = skipped
    log_summary(f"external {folder}", scores, info.classes[majority])
    return Evaluation(scores, info.classes, classifier.threshold, y_true_array, y_prob_array, bins)


def most_confident_mistakes(result: Evaluation, count: int) -> list[int]:
    """Indices of wrong predictions, the most confident first (ties in record order)."""
    wrong = np.flatnonzero(result.y_pred != result.y_true)
    return wrong[np.argsort(-result.confidence[wrong], kind="stable")][:count].tolist()


def read_records(
    shards_dir: Path, split: str, info: ShardInfo, indices: list[int]
) -> dict[int, tuple[str, int, np.ndarray]]:
    """(path, label, pixels) of the split's records at `indices`, counted in load_split's order
    (shard files sorted, records in file order).
    """
    files = shard_files(shards_dir, split)
    wanted, found = set(indices), {}
    shape = (info.image_size, info.image_size, 3)
    for index, record in enumerate(tf.data.TFRecordDataset(files).as_numpy_iterator()):
        if len(found) == len(wanted):
            break
        if index in wanted:
            feature = tf.train.Example.FromString(record).features.feature
            pixels = np.frombuffer(feature["image"].bytes_list.value[0], np.uint8).reshape(shape)
            path = feature["path"].bytes_list.value[0].decode()
            found[index] = (path, int(feature["label"].int64_list.value[0]), pixels)
    return found


def collect_mistakes(
    result: Evaluation, shards_dir: Path, info: ShardInfo, count: int
) -> list[Mistake]:
    """The `count` most confident test mistakes with their pixels and file paths."""
    indices = most_confident_mistakes(result, count)
    records = read_records(shards_dir, "test", info, indices)
    mistakes = []
    for index in indices:
        path, label, pixels = records[index]
        if label != result.y_true[index]:
            raise GenderfaceError(
                f"{shards_dir}: test records are not in the order evaluation read them; "
                "rerun `dvc repro`"
            )
        names, predicted = result.classes, int(result.y_pred[index])
        probability = float(result.confidence[index])
        mistakes.append(Mistake(path, names[label], names[predicted], probability, pixels))
    return mistakes


def run_evaluation(params: EvaluateParams, shards_dir: Path, model_path: Path) -> Report:
    """The evaluate stage's work: test scores, the mistakes, and the optional external folder."""
    info = ShardInfo.read(shards_dir)
    classifier = load_classifier(model_path)
    bins = params.calibration_bins
    test_data = batched(load_split(shards_dir, "test", info), params.batch_size)
    test = evaluate(classifier, test_data, info, bins)
    mistakes = collect_mistakes(test, shards_dir, info, params.mistakes)
    external = None
    if params.external:
        external = evaluate_folder(classifier, Path(params.external), info, params.batch_size, bins)
    return Report(info, test, mistakes, external)


def mistakes_figure(mistakes: list[Mistake], wrong: int, columns: int = 4) -> Figure:
    """A grid of the mistakes: image, file name, true and predicted label, its probability.

    `wrong` is how many test predictions were wrong in all, shown or not.
    """
    columns = max(1, min(columns, len(mistakes)))
    rows = max(1, math.ceil(len(mistakes) / columns))
    figure = Figure(figsize=(2.6 * columns, 3.0 * rows + 0.6), dpi=100, layout="constrained")
    figure.suptitle(f"Most confident test mistakes ({len(mistakes)} of {wrong})")
    axes = figure.subplots(rows, columns, squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    if not mistakes:
        empty = "no mistakes on the test split" if wrong == 0 else "none shown (evaluate.mistakes)"
        axes[0, 0].text(0, 0.5, empty, fontsize=12)
    for ax, mistake in zip(axes.flat, mistakes, strict=False):
        ax.imshow(mistake.pixels)
        ax.set_title(
            f"{Path(mistake.path).name}\ntrue {mistake.true}, predicted {mistake.predicted}\n"
            f"p({mistake.predicted}) = {mistake.probability:.3f}",
            fontsize=8,
        )
    return figure


def save_png(figure: Figure, path: Path) -> None:
    """Write a figure as PNG atomically, without the metadata that varies between versions."""
    with atomic_path(path, suffix=".png") as tmp:
        figure.savefig(tmp, format="png", metadata={"Software": None})
