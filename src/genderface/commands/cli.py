"""The `genderface` command line."""

import json
import sys
from enum import StrEnum
from functools import partial
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from tqdm import tqdm

from genderface import entry_point  # noqa: F401 (first: quiets TensorFlow's start-up)
from genderface.commands.plots import DEFAULT_OUT
from genderface.errors import VERBOSE_FLAG, run_main, set_verbose
from genderface.layout import TFLITE_MODEL

app = typer.Typer(no_args_is_help=True, add_completion=False, help=__doc__)

PROGRESS_MIN_FILES = 64  # fewer files finish before a bar would tell anything


class Format(StrEnum):
    table = "table"
    json = "json"
    csv = "csv"


@app.callback()
def _main(
    verbose: Annotated[
        bool, typer.Option(VERBOSE_FLAG, help="Show a traceback with an error.")
    ] = False,
) -> None:
    """Face-crop gender classifier (VGG16, Keras) built by a DVC pipeline."""
    if verbose:
        set_verbose()


def _label(
    paths: list[str],
    model: Path,
    output: Format,
    threshold: float | None,
    crop_face: bool | None,
    margin: float | None,
    batch_size: int,
    progress: bool,
) -> None:
    """predict's work; crop_face and margin None: the model's framing."""
    from genderface.commands.predict import (
        Printer,
        chosen_framing,
        expand_inputs,
        load_labeller,
        predict_paths,
        skipped_line,
    )
    from genderface.data.faces import load_framed
    from genderface.evaluation.files import Failure

    labeller = load_labeller(model)
    framing = chosen_framing(labeller.info.framing, crop_face, margin)
    loader = partial(load_framed, framing=framing)
    inputs = expand_inputs(paths)
    if inputs.skipped:
        print(skipped_line(inputs.skipped), file=sys.stderr)
    printer = Printer(output.value, labeller.info.classes[1], framing.crops)
    failed = 0
    show = progress and len(inputs.files) >= PROGRESS_MIN_FILES
    results = predict_paths(labeller, inputs.files, threshold, batch_size, loader)
    with tqdm(results, total=len(inputs.files), unit="img", disable=None if show else True) as bar:
        for result in bar:
            if isinstance(result, Failure):
                failed += 1
                bar.write(f"error: {result.reason}", file=sys.stderr)
            else:
                printer.add(result)
    printer.close()
    if failed:
        raise SystemExit(1)


@app.command()
def predict(
    paths: Annotated[
        list[str],
        typer.Argument(help="Image files, folders (searched recursively) or glob patterns."),
    ],
    model: Annotated[
        Path,
        typer.Option(
            help="Trained model: .tflite runs on LiteRT (no TensorFlow); .keras on Keras, slower "
            "to start."
        ),
    ] = TFLITE_MODEL,
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
        bool | None,
        typer.Option(
            "--crop-face/--whole-image",
            help="A square crop around the largest face (BlazeFace), upright by the eyes, or the "
            "whole image. Default: the model's framing. face column: found and the score, or "
            "none (labelled `no face`, no probability).",
            show_default=False,
        ),
    ] = None,
    margin: Annotated[
        float | None,
        typer.Option(
            min=0.0,
            max=2.0,
            help="Added to the face box on every side, a share of its side. Default: the model's.",
        ),
    ] = None,
    batch_size: Annotated[int, typer.Option(min=1, help="Images per model call.")] = 32,
    progress: Annotated[
        bool,
        typer.Option(help=f"Progress bar on stderr for {PROGRESS_MIN_FILES}+ files on a terminal."),
    ] = True,
) -> None:
    """Label each image: path, label, the model's probability of its positive class (p_woman),
    and the threshold at or above which that probability means the positive class.

    An unreadable file is one `error:` line on stderr; the rest are labelled; the exit code is 1.
    A folder's files not named as images (README.md, attributes.csv) are skipped, counted in one
    line on stderr.
    """
    run_main(
        partial(_label, paths, model, output, threshold, crop_face, margin, batch_size, progress)
    )


class ComparedSplit(StrEnum):
    test = "test"
    external = "external"


class CompareFormat(StrEnum):
    table = "table"
    json = "json"
    md = "md"


@app.command()
def compare(
    rev_a: Annotated[str, typer.Argument(help="Git revision, branch, tag or `dvc exp` name.")] = (
        "HEAD"
    ),
    rev_b: Annotated[
        str, typer.Argument(help='Same, or "workspace": the files on disk (the default).')
    ] = "workspace",
    output: Annotated[
        CompareFormat,
        typer.Option("--format", help="table (console), json (machines) or md (a PR comment)."),
    ] = CompareFormat.table,
    resamples: Annotated[int, typer.Option(min=100, help="Paired-bootstrap resamples.")] = 2000,
    seed: Annotated[int, typer.Option(help="Seed of the bootstrap.")] = 0,
    split: Annotated[
        ComparedSplit,
        typer.Option(help="test (the test split) or external (evaluate.external's folder)."),
    ] = ComparedSplit.test,
) -> None:
    """Is B better than A? Pairs two revisions' test (or external) predictions image by image.

    Prints accuracy and balanced accuracy of each, B - A with a paired-bootstrap 95% interval,
    McNemar's exact p, and one sentence: "B is better", "A is better" or "no significant
    difference". Only images both revisions scored are compared (matched by content hash).
    """

    def run() -> None:
        from genderface.commands import compare as comparison

        frames = [comparison.read_predictions(rev, split=split.value) for rev in (rev_a, rev_b)]
        result = comparison.compare(*frames, rev_a, rev_b, resamples, seed)
        if output is CompareFormat.json:
            print(json.dumps(result.as_dict(), indent=2))
        elif output is CompareFormat.md:
            print(comparison.markdown(result), end="")
        else:
            table = Table(*comparison.header(result))
            for row in comparison.rows(result):
                table.add_row(*row)
            console = Console(width=None if sys.stdout.isatty() else 160)  # no wrap in a pipe
            console.print(table)
            for line in comparison.notes(result):
                console.print(line, highlight=False)

    run_main(run)


@app.command()
def plots(
    revisions: Annotated[
        list[str] | None,
        typer.Argument(
            help="None: the workspace's plots (dvc plots show). One or more revisions: dvc plots "
            "diff, those against the workspace (several: against each other)."
        ),
    ] = None,
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder of the page.")] = DEFAULT_OUT,
) -> None:
    """Write the plots page with Vega inlined: it renders offline (dvc's page loads a CDN)."""

    def run() -> None:
        from genderface.commands.plots import render

        print(f"file://{render(revisions or [], out).resolve()}")

    run_main(run)
