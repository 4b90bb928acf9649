"""Predict: label image files with a trained model, through the same decode path as preprocess."""

import glob
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from genderface.images import ImageError, load_rgb
from genderface.model import Classifier

GLOB_CHARACTERS = frozenset("*?[")

# Decodes one file to (size, size, 3) uint8 pixels plus a note on what was classified: None for
# the whole image, or the face finder's verdict (faces.load_face).
Loader = Callable[[Path, int], tuple[np.ndarray, str | None]]


@dataclass(frozen=True)
class Scored:
    """A decoded file and the model's probability of class 1."""

    path: str
    score: float
    face: str | None


@dataclass(frozen=True)
class Prediction:
    path: str
    label: str
    probability: float
    face: str | None = None


@dataclass(frozen=True)
class Failure:
    path: str
    reason: str


def whole_image(path: Path, size: int) -> tuple[np.ndarray, None]:
    return load_rgb(path, size), None


def expand_inputs(arguments: list[str]) -> list[Path]:
    """Files as given; folders as every regular file under them; glob patterns the shell left
    unexpanded (e.g. quoted 'photos/**/*.jpg'), expanded recursively.

    Folders and patterns are listed sorted, so output order never depends on the file system.
    A pattern matching nothing stays as it is and is then reported as a missing file; non-image
    files in a folder are reported one by one, like any unreadable file.
    """
    paths: list[Path] = []
    for argument in arguments:
        given = Path(argument)
        if not given.exists() and GLOB_CHARACTERS & set(argument):
            # glob.glob, unlike Path.glob, takes absolute patterns as users type them.
            matches = sorted(glob.glob(argument, recursive=True))  # noqa: PTH207
            candidates = [Path(match) for match in matches] or [given]
        else:
            candidates = [given]
        for candidate in candidates:
            if candidate.is_dir():
                paths.extend(sorted(p for p in candidate.rglob("*") if p.is_file()))
            else:
                paths.append(candidate)
    return paths


def score_paths(
    classifier: Classifier,
    paths: list[Path],
    batch_size: int = 32,
    loader: Loader = whole_image,
) -> Iterator[Scored | Failure]:
    """Yield one result per path, in order, scoring a batch at a time; unreadable files become
    Failures, not exceptions, so one bad file never stops the rest.
    """
    for start in range(0, len(paths), batch_size):
        chunk = paths[start : start + batch_size]
        loaded: list[tuple[Path, np.ndarray, str | None]] = []
        failures: dict[Path, Failure] = {}
        for path in chunk:
            try:
                loaded.append((path, *loader(path, classifier.image_size)))
            except ImageError as err:
                failures[path] = Failure(str(path), str(err))
        scored: dict[Path, Scored] = {}
        if loaded:
            batch = np.stack([pixels for _, pixels, _ in loaded]).astype(np.float32)
            scores = classifier.model.predict_on_batch(batch).reshape(-1)
            scored = {
                path: Scored(str(path), float(score), face)
                for (path, _, face), score in zip(loaded, scores, strict=True)
            }
        for path in chunk:
            yield failures.get(path) or scored[path]


def predict_paths(
    classifier: Classifier,
    paths: list[Path],
    threshold: float | None = None,
    batch_size: int = 32,
    loader: Loader = whole_image,
) -> Iterator[Prediction | Failure]:
    """Label each path: the class the score falls on and the probability of that class.

    The threshold defaults to the one the model was saved with (chosen on validation).
    """
    cut = classifier.threshold if threshold is None else threshold
    for result in score_paths(classifier, paths, batch_size, loader):
        if isinstance(result, Failure):
            yield result
            continue
        positive = result.score >= cut
        probability = result.score if positive else 1 - result.score
        yield Prediction(result.path, classifier.classes[int(positive)], probability, result.face)
