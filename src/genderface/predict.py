"""Predict: label image files with a trained model, through the same decode path as preprocess."""

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np

from genderface.errors import GenderfaceError
from genderface.images import ImageError, load_rgb


@dataclass(frozen=True)
class Classifier:
    model: keras.Model
    classes: list[str]

    @property
    def image_size(self) -> int:
        return int(self.model.input_shape[1])


@dataclass(frozen=True)
class Prediction:
    path: str
    label: str
    probability: float


@dataclass(frozen=True)
class Failure:
    path: str
    reason: str


def load_classifier(model_path: Path) -> Classifier:
    """Load model.keras and its label sidecar, or say which file is missing or broken."""
    import genderface.model  # noqa: F401  registers the custom layers used by the saved model

    sidecar = model_path.with_suffix(".json")
    for required in (model_path, sidecar):
        if not required.is_file():
            raise GenderfaceError(
                f"{required}: model file not found; run `dvc repro` (or dvc pull)"
            )
    try:
        model = keras.saving.load_model(model_path)
        classes = json.loads(sidecar.read_text())["classes"]
    except Exception as err:
        raise GenderfaceError(
            f"{model_path}: cannot load the model ({type(err).__name__}); rebuild it with dvc repro"
        ) from None
    return Classifier(model, classes)


def predict_paths(
    classifier: Classifier, paths: list[Path], threshold: float = 0.5, batch_size: int = 32
) -> Iterator[Prediction | Failure]:
    """Yield one result per path, in order; unreadable files become Failures, not exceptions."""
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
            positive = p >= threshold
            yield Prediction(str(path), classifier.classes[int(positive)], p if positive else 1 - p)
