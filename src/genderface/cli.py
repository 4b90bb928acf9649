"""The `genderface` command line."""

import csv
import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from enum import StrEnum
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from tqdm import tqdm

from genderface.errors import run_main
from genderface.layout import MODEL

if TYPE_CHECKING:
    from genderface.predict import Prediction


@contextmanager
def _native_stderr_silenced() -> Iterator[None]:
    """Send file descriptor 2 to /dev/null while TensorFlow loads.

    TensorFlow's C++ start-up lines (oneDNN, CUDA probing) are written before any log setting is
    read (tensorflow/tensorflow#62770), and would bury predict's one-line errors.
    """
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


app = typer.Typer(no_args_is_help=True, add_completion=False, help=__doc__)

PROGRESS_MIN_FILES = 64  # fewer files finish before a bar would tell anything


class Format(StrEnum):
    table = "table"
    json = "json"
    csv = "csv"


@app.callback()
def _main(
    verbose: Annotated[
        bool, typer.Option("--verbose", help="Show a traceback with an error.")
    ] = False,
) -> None:
    """Face-crop gender classifier (VGG16, Keras) built by a DVC pipeline."""
    if verbose:
        os.environ["GENDERFACE_VERBOSE"] = "1"


def _columns(crop_face: bool) -> list[str]:
    return ["path", "label", "probability", *(["face"] if crop_face else [])]


def _row(result: "Prediction", crop_face: bool) -> list[str]:
    row = [result.path, result.label, f"{result.probability:.4f}"]
    return [*row, result.face] if crop_face else row


def _print_table(rows: list[list[str]], columns: list[str]) -> None:
    widths = [max(map(len, column)) for column in zip(columns, *rows, strict=True)]
    for row in [columns, *rows]:
        cells = (cell.ljust(width) for cell, width in zip(row, widths, strict=True))
        print("  ".join(cells).rstrip())


@app.command()
def predict(
    paths: Annotated[
        list[str],
        typer.Argument(help="Image files, folders (searched recursively) or glob patterns."),
    ],
    model: Annotated[Path, typer.Option(help="Trained model.")] = MODEL,
    output: Annotated[
        Format,
        typer.Option(
            "--format",
            help="table: aligned columns, printed when all are done; json: one JSON object per "
            "line; csv: a header, then one row per image (json and csv stream).",
        ),
    ] = Format.table,
    threshold: Annotated[
        float | None,
        typer.Option(min=0.0, max=1.0, help="Default: the model's, chosen on validation."),
    ] = None,
    crop_face: Annotated[
        bool,
        typer.Option(
            "--crop-face",
            help="Classify a square crop around the largest face (MediaPipe BlazeFace), turned "
            "upright by the eyes; the face column says found and the detector's score, or none "
            "(none: the whole image was classified).",
        ),
    ] = False,
    margin: Annotated[
        float | None,
        typer.Option(
            min=0.0,
            max=2.0,
            help="With --crop-face: what the crop adds to the face box on every side, as a share "
            "of the box's side. Default: the face finder's, 0.2.",
        ),
    ] = None,
    batch_size: Annotated[int, typer.Option(min=1, help="Images per model call.")] = 32,
    progress: Annotated[
        bool,
        typer.Option(help=f"Progress bar on stderr for {PROGRESS_MIN_FILES}+ files on a terminal."),
    ] = True,
) -> None:
    """Label each image: path, label, probability of that label.

    An unreadable file is one `error:` line on stderr; the rest are labelled; the exit code is 1.
    """

    def run() -> None:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
        with _native_stderr_silenced():
            from genderface.model import load_classifier
            from genderface.predict import Failure, expand_inputs, predict_paths, whole_image

        loader = whole_image
        if crop_face:
            from genderface.faces import load_face

            loader = load_face if margin is None else partial(load_face, margin=margin)
        classifier = load_classifier(model)
        files = expand_inputs(paths)
        columns = _columns(crop_face)
        writer = csv.writer(sys.stdout, lineterminator="\n")
        if output is Format.csv:
            writer.writerow(columns)
        rows, failed = [], 0
        bar = tqdm(
            total=len(files),
            unit="img",
            file=sys.stderr,
            disable=None if progress and len(files) >= PROGRESS_MIN_FILES else True,
        )
        for result in predict_paths(classifier, files, threshold, batch_size, loader):
            bar.update()
            if isinstance(result, Failure):
                failed += 1
                bar.write(f"error: {result.reason}", file=sys.stderr)
            elif output is Format.json:
                record = {name: getattr(result, name) for name in columns}
                print(json.dumps(record), flush=True)
            elif output is Format.csv:
                writer.writerow(_row(result, crop_face))
                sys.stdout.flush()
            else:
                rows.append(_row(result, crop_face))
        bar.close()
        if output is Format.table and rows:
            _print_table(rows, columns)
        if failed:
            raise SystemExit(1)

    run_main(run)
