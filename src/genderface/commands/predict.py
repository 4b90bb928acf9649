"""`genderface predict`: label image files with a trained model, and print the labels.

The model is models/model.tflite on LiteRT by default: no TensorFlow, Keras or DVC is imported,
so one image takes about a second and the command runs from the light install
(requirements-predict.txt). A .keras model still works, through Keras and TensorFlow.
"""

import csv
import glob
import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.table import Table

from genderface.data.faces import NONE
from genderface.data.folders import files_under, image_named
from genderface.data.framing import FACE, WHOLE, Framing
from genderface.decision import decide
from genderface.errors import GenderfaceError
from genderface.evaluation.files import Failure, Forward, Loader, score_files, whole_image
from genderface.modeling.model_info import ModelInfo

GLOB_CHARACTERS = frozenset("*?[")
NO_FACE = "no face"


@dataclass(frozen=True)
class Prediction:
    """A file's label, the model's probability of class 1 (`positive`) and the threshold that
    turned one into the other, so a reader sees why the label is what it is. A picture framed
    around its face in which none was found is labelled NO_FACE, with no probability."""

    path: str
    label: str
    positive: str
    probability: float | None
    threshold: float
    face: str | None = None


@dataclass(frozen=True)
class Inputs:
    """The files to label, and the files of the folders given that were left out by name."""

    files: list[Path]
    skipped: list[Path]


def expand_inputs(arguments: list[str]) -> Inputs:
    """Files as given; folders as every image-named file under them (folders.files_under and
    folders.image_named); glob patterns the shell left unexpanded (e.g. quoted
    'photos/**/*.jpg'), expanded recursively.

    Folders and patterns are listed sorted, so output order never depends on the file system.
    A pattern matching nothing stays as it is and is then reported as a missing file. A folder's
    other files (a README.md, an attributes.csv) are skipped; a file named on the command line or
    matched by a pattern is labelled whatever its name, and one that is no image is an error,
    like an image-named file that does not decode.
    """
    files: list[Path] = []
    skipped: list[Path] = []
    for argument in arguments:
        given = Path(argument)
        if not given.exists() and GLOB_CHARACTERS & set(argument):
            # glob.glob, unlike Path.glob, takes absolute patterns as users type them.
            matches = sorted(glob.glob(argument, recursive=True))  # noqa: PTH207
            candidates = [Path(match) for match in matches] or [given]
        else:
            candidates = [given]
        for candidate in candidates:
            if not candidate.is_dir():
                files.append(candidate)
                continue
            for path in files_under(candidate):
                (files if image_named(path) else skipped).append(path)
    return Inputs(files, skipped)


def skipped_line(skipped: list[Path], shown: int = 3) -> str:
    """One line for the files left out of the folders given, naming the first few."""
    names = ", ".join(str(path) for path in skipped[:shown])
    more = ", ..." if len(skipped) > shown else ""
    count = f"{len(skipped)} file{'' if len(skipped) == 1 else 's'}"
    return f"skipped {count} not named as an image in the folders given ({names}{more})"


def chosen_framing(trained: Framing, crop_face: bool | None, margin: float | None) -> Framing:
    """The model's framing (models/model.json) unless told otherwise: --crop-face or
    --whole-image, --margin."""
    kind = trained.kind if crop_face is None else FACE if crop_face else WHOLE
    return Framing(kind, trained.margin if margin is None else margin)


@dataclass(frozen=True)
class Labeller:
    """What labels files: a forward pass over pixels of the model's input size, and the model's
    classes and threshold (its sidecar)."""

    forward: Forward
    size: int
    info: ModelInfo


def load_labeller(model: Path) -> Labeller:
    """The model file as a Labeller, by its suffix: .tflite runs on LiteRT, .keras on Keras (and
    TensorFlow, imported only then). Both take the same pixels and give the same probabilities
    within the export stage's parity (metrics/export.json)."""
    if model.suffix == ".tflite":
        from genderface.modeling.litert_model import load_lite_classifier

        lite = load_lite_classifier(model)
        return Labeller(lite.model, lite.image_size, lite.info)
    if model.suffix == ".keras":
        # A missing model, or a missing or broken sidecar, is one line at once, not after
        # TensorFlow's start-up.
        ModelInfo.read(model)
        from genderface.modeling.forward import forward_pass  # TensorFlow: quiet.py
        from genderface.modeling.model_file import load_classifier

        classifier = load_classifier(model)
        return Labeller(forward_pass(classifier.model), classifier.image_size, classifier.info)
    raise GenderfaceError(
        f"{model}: not a model file (expected .tflite or .keras); the pipeline writes "
        "models/model.tflite and models/model.keras"
    )


def predict_paths(
    labeller: Labeller,
    paths: list[Path],
    threshold: float | None = None,
    batch_size: int = 32,
    loader: Loader = whole_image,
) -> Iterator[Prediction | Failure]:
    """Label each path; the threshold defaults to the model's own (chosen on validation). With
    the face framing, a picture with no face found is NO_FACE: the model never learned to label
    anything else (a blank picture would get a confident label)."""
    info = labeller.info
    cut = info.threshold if threshold is None else threshold
    positive = info.classes[1]
    for result in score_files(labeller.forward, paths, labeller.size, batch_size, loader):
        if isinstance(result, Failure):
            yield result
            continue
        if result.face == NONE:
            yield Prediction(result.path, NO_FACE, positive, None, cut, result.face)
            continue
        label = info.classes[int(decide(result.probability, cut))]
        yield Prediction(result.path, label, positive, result.probability, cut, result.face)


class Printer:
    """Writes predictions to stdout: json and csv a line per image as they come (a header
    first for csv), a table of aligned columns once all are in. No probability is null in
    json, empty in csv and "-" in the table."""

    def __init__(self, output: str, positive: str, crop_face: bool) -> None:
        """output: table, json or csv; crop_face: a face column (the finder's verdict)."""
        self.output = output
        self.crop_face = crop_face
        # The probability of the positive class under its own name, and the threshold beside
        # it, so no number seems to contradict the label.
        self.columns = ["path", "label", f"p_{positive}", "threshold"]
        self.columns += ["face"] if crop_face else []
        self.rows: list[dict[str, str | float | None]] = []
        self.csv = csv.writer(sys.stdout, lineterminator="\n")
        if output == "csv":
            self.csv.writerow(self.columns)

    def add(self, result: Prediction) -> None:
        face = [result.face or ""] if self.crop_face else []
        values = [result.path, result.label, result.probability, result.threshold, *face]
        row = dict(zip(self.columns, values, strict=True))
        if self.output == "json":
            print(json.dumps(row), flush=True)
        elif self.output == "csv":
            self.csv.writerow("" if value is None else value for value in row.values())
            sys.stdout.flush()
        else:
            self.rows.append(row)

    def close(self) -> None:
        if not self.rows:
            return
        table = Table(box=None, show_edge=False, pad_edge=False)
        for name in self.columns:
            table.add_column(name, justify="right" if name.startswith("p_") else "left")
        for row in self.rows:
            table.add_row(*(_cell(value) for value in row.values()))
        Console(width=1000, soft_wrap=True).print(table)


def _cell(value: str | float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.4f}" if isinstance(value, float) else value
