"""The `genderface` command line."""

import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer

from genderface.errors import run_main
from genderface.layout import MODEL


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


@app.callback()
def _main() -> None:
    """Face-crop gender classifier (VGG16, Keras) built by a DVC pipeline."""


@app.command()
def predict(
    paths: Annotated[list[Path], typer.Argument(help="Image files to label.")],
    model: Annotated[Path, typer.Option(help="Trained model.")] = MODEL,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line.")] = False,
    threshold: Annotated[
        float | None,
        typer.Option(min=0.0, max=1.0, help="Default: the model's, chosen on validation."),
    ] = None,
) -> None:
    """Print one line per image: path, label, probability of that label."""

    def run() -> None:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
        with _native_stderr_silenced():
            from genderface.model import load_classifier
            from genderface.predict import Failure, predict_paths

        classifier = load_classifier(model)
        failed = 0
        for result in predict_paths(classifier, paths, threshold):
            if isinstance(result, Failure):
                failed += 1
                print(f"error: {result.reason}", file=sys.stderr)
            elif as_json:
                print(json.dumps(result.__dict__), flush=True)
            else:
                print(f"{result.path}\t{result.label}\t{result.probability:.4f}", flush=True)
        if failed:
            raise SystemExit(1)

    run_main(run)
