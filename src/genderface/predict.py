"""Predict: label image files with a trained model, for the `genderface predict` command."""

import glob
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from genderface.decision import decide
from genderface.folders import files_under
from genderface.inference import Failure, Loader, score_files, whole_image
from genderface.model import Classifier

GLOB_CHARACTERS = frozenset("*?[")


@dataclass(frozen=True)
class Prediction:
    """A file's label, the model's probability of class 1 (`positive`) and the threshold that
    turned one into the other, so a reader sees why the label is what it is."""

    path: str
    label: str
    positive: str
    probability: float
    threshold: float
    face: str | None = None


def expand_inputs(arguments: list[str]) -> list[Path]:
    """Files as given; folders as every file under them (folders.files_under); glob patterns the
    shell left unexpanded (e.g. quoted 'photos/**/*.jpg'), expanded recursively.

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
            paths.extend(files_under(candidate) if candidate.is_dir() else [candidate])
    return paths


def predict_paths(
    classifier: Classifier,
    paths: list[Path],
    threshold: float | None = None,
    batch_size: int = 32,
    loader: Loader = whole_image,
) -> Iterator[Prediction | Failure]:
    """Label each path; the threshold defaults to the model's own (chosen on validation)."""
    cut = classifier.threshold if threshold is None else threshold
    positive = classifier.classes[1]
    for result in score_files(classifier, paths, batch_size, loader):
        if isinstance(result, Failure):
            yield result
            continue
        label = classifier.classes[int(decide(result.probability, cut))]
        yield Prediction(result.path, label, positive, result.probability, cut, result.face)
