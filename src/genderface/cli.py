"""The `genderface` command line."""

import json
import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from genderface.errors import run_main
from genderface.layout import MODEL

# Keep TensorFlow's C++ start-up messages (CPU features, CUDA probing) off a predict user's screen.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

app = typer.Typer(no_args_is_help=True, add_completion=False, help=__doc__)


@app.callback()
def _main() -> None:
    """Face-crop gender classifier (VGG16, Keras) built by a DVC pipeline."""


@app.command()
def predict(
    paths: Annotated[list[Path], typer.Argument(help="Image files to label.")],
    model: Annotated[Path, typer.Option(help="Trained model.")] = MODEL,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line.")] = False,
    threshold: Annotated[float, typer.Option(min=0.0, max=1.0)] = 0.5,
) -> None:
    """Print one line per image: path, label, probability of that label."""

    def run() -> None:
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
