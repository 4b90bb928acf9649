"""Predict: label image files with a trained model, through the same decode path as preprocess."""

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from genderface.images import ImageError, load_rgb
from genderface.model import Classifier


@dataclass(frozen=True)
class Prediction:
    path: str
    label: str
    probability: float


@dataclass(frozen=True)
class Failure:
    path: str
    reason: str


def predict_paths(
    classifier: Classifier,
    paths: list[Path],
    threshold: float | None = None,
    batch_size: int = 32,
) -> Iterator[Prediction | Failure]:
    """Yield one result per path, in order; unreadable files become Failures, not exceptions.

    The threshold defaults to the one the model was saved with (chosen on validation).
    """
    cut = classifier.threshold if threshold is None else threshold
    for start in range(0, len(paths), batch_size):
        chunk = paths[start : start + batch_size]
        loaded: list[tuple[Path, np.ndarray]] = []
        failures: dict[Path, Failure] = {}
        for path in chunk:
            try:
                loaded.append((path, load_rgb(path, classifier.image_size)))
            except ImageError as err:
                failures[path] = Failure(str(path), str(err))
        probabilities: dict[Path, float] = {}
        if loaded:
            batch = np.stack([pixels for _, pixels in loaded]).astype(np.float32)
            scores = classifier.model.predict_on_batch(batch).reshape(-1)
            probabilities = {path: float(p) for (path, _), p in zip(loaded, scores, strict=True)}
        for path in chunk:
            if path in failures:
                yield failures[path]
                continue
            p = probabilities[path]
            positive = p >= cut
            yield Prediction(str(path), classifier.classes[int(positive)], p if positive else 1 - p)
