"""Is B better than A, or is the difference noise? Two revisions' predictions, image by image.

Each revision's evaluate stage commits metrics/eval/predictions/test.csv (sha256, file, label,
probability, predicted), and external.csv for evaluate.external's folder. Pairing the rows by
content hash lets one paired test judge the two models on the very same images: far sharper
than comparing two accuracies, each with its own interval.

Pairing: by sha256 with multiplicity. A test split can hold byte-identical copies of an image
(always in one class); the k-th copy at A (in file order) pairs with the k-th at B. Copies have
the same bytes, so the model scores them alike, and a renamed file still pairs with itself.
"""

import io
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from tabulate import tabulate

from genderface import stats
from genderface.errors import GenderfaceError
from genderface.evaluation.outputs import PREDICTION_COLUMNS as COLUMNS
from genderface.evaluation.outputs import predictions_file
from genderface.fsutil import parse_csv

WORKSPACE = "workspace"  # as `dvc metrics diff` names the files on disk
ALPHA = 1 - stats.LEVEL
METRICS = {"accuracy": "accuracy", "balanced_accuracy": "balanced accuracy"}


def _parse(data: bytes, where: str) -> pd.DataFrame:
    frame = parse_csv(io.BytesIO(data))
    missing = [column for column in COLUMNS if column not in frame.columns]
    if missing:
        raise GenderfaceError(
            f"{where}: no column {', '.join(missing)}; expected {','.join(COLUMNS)} "
            "(written by `dvc repro evaluate`)"
        )
    return frame[COLUMNS]


def read_predictions(
    rev: str | None, root: Path | None = None, split: str = "test"
) -> pd.DataFrame:
    """One set's predictions ("test" or "external") at a git revision, branch, tag or `dvc exp`
    name, or on disk (rev None or "workspace"); `root` is the project's root folder (default: the
    current one)."""
    root = Path.cwd() if root is None else root
    predictions = predictions_file(split)
    if rev in (None, WORKSPACE):
        path = root / predictions
        if not path.is_file():
            raise GenderfaceError(f"{predictions}: not in the workspace; run `dvc repro` first")
        return _parse(path.read_bytes(), f"{predictions} (workspace)")
    import dvc.api
    from dvc.exceptions import PathMissingError
    from dvc.scm import RevError, SCMError

    try:
        # dvc.api resolves revisions as `dvc metrics diff` does: `dvc exp` names included.
        data = dvc.api.read(predictions.as_posix(), repo=str(root), rev=rev, mode="rb")
    except RevError as err:
        raise GenderfaceError(f"{err}: not a commit, branch, tag or experiment") from None
    except SCMError as err:
        raise GenderfaceError(f"{err}; run compare inside the project's git clone") from None
    except PathMissingError:
        raise GenderfaceError(
            f"{predictions}: not committed at {rev}; that revision predates per-image "
            "predictions or was never evaluated"
        ) from None
    return _parse(data, f"{predictions} at {rev}")


@dataclass(frozen=True)
class Paired:
    """The images both revisions scored, one row each: sha256, label, predicted_a, predicted_b."""

    images: pd.DataFrame
    left_out_a: int  # images only A scored
    left_out_b: int


def pair(a: pd.DataFrame, b: pd.DataFrame) -> Paired:
    """Pair rows by content hash, copies in file order (see the module docstring)."""

    def numbered(frame: pd.DataFrame) -> pd.DataFrame:
        ordered = frame.sort_values(["sha256", "file"], kind="stable")
        return ordered.assign(copy=ordered.groupby("sha256").cumcount())

    merged = numbered(a).merge(numbered(b), on=["sha256", "copy"], suffixes=("_a", "_b"))
    if merged.empty:
        raise GenderfaceError(
            "A and B share no test image (compared by content hash); nothing to compare"
        )
    relabelled = merged[merged["label_a"] != merged["label_b"]]
    if not relabelled.empty:
        first = relabelled.iloc[0]
        raise GenderfaceError(
            f"{len(relabelled)} images have another true label at B than at A (e.g. "
            f"{first['file_a']}: {first['label_a']} / {first['label_b']}); a comparison needs the "
            "same ground truth"
        )
    images = merged.rename(columns={"label_a": "label"})[
        ["sha256", "label", "predicted_a", "predicted_b"]
    ]
    return Paired(images, len(a) - len(merged), len(b) - len(merged))


def favours(metric: str, difference: stats.Difference, mcnemar: stats.McNemar) -> str | None:
    """The side ("A" or "B") a metric clearly favours (p < 0.05), or None: accuracy by McNemar's
    exact p (the test made for paired right/wrong outcomes), balanced accuracy by its
    paired-bootstrap p (no exact test exists for it)."""
    p_value = mcnemar.p_value if metric == "accuracy" else difference.p_value
    if p_value >= ALPHA or difference.estimate == 0:
        return None
    return "B" if difference.estimate > 0 else "A"


@dataclass(frozen=True)
class Comparison:
    rev_a: str
    rev_b: str
    images: int
    left_out_a: int
    left_out_b: int
    scores: dict[str, tuple[float, float]]  # metric -> (A, B) on the common images
    differences: dict[str, stats.Difference]  # metric -> B - A, paired-bootstrap interval and p
    mcnemar: stats.McNemar
    resamples: int  # of the paired bootstrap

    @property
    def favoured(self) -> dict[str, str | None]:
        return {m: favours(m, self.differences[m], self.mcnemar) for m in METRICS}

    @property
    def verdict(self) -> str:
        """ "B is better", "A is better", "no significant difference", or "mixed" when one metric
        favours A and the other B (a threshold trade-off)."""
        sides = set(self.favoured.values()) - {None}
        if len(sides) == 2:
            return "mixed"
        return f"{sides.pop()} is better" if sides else "no significant difference"

    @property
    def sentence(self) -> str:
        n = f"{self.images} images both scored, 95% level"
        if self.verdict == "mixed":
            parts = [f"{side} is better on {METRICS[m]}" for m, side in self.favoured.items()]
            return f"Mixed: {', '.join(parts)} ({n})."
        return f"{self.verdict[0].upper()}{self.verdict[1:]} ({n})."

    def as_dict(self) -> dict:
        return {
            "a": {"rev": self.rev_a, "left_out": self.left_out_a},
            "b": {"rev": self.rev_b, "left_out": self.left_out_b},
            "images": self.images,
            "metrics": {
                metric: {"a": a, "b": b, "difference": self.differences[metric].as_dict()}
                for metric, (a, b) in self.scores.items()
            },
            "mcnemar": {
                "only_a_right": self.mcnemar.only_a,
                "only_b_right": self.mcnemar.only_b,
                "p": self.mcnemar.p_value,
            },
            "resamples": self.resamples,
            "verdict": self.verdict,
            "sentence": self.sentence,
        }


def compare(
    a: pd.DataFrame, b: pd.DataFrame, rev_a: str, rev_b: str, resamples: int, seed: int
) -> Comparison:
    """Score A and B on their common images: accuracy and balanced accuracy of each, B minus A
    with a paired-bootstrap 95% interval, and McNemar's exact p."""
    paired = pair(a, b)
    images = paired.images
    classes = sorted(set(images["label"]) | set(images["predicted_a"]) | set(images["predicted_b"]))
    if len(classes) != 2:
        raise GenderfaceError(f"expected two classes in the predictions, found {classes}")
    y_true, pred_a, pred_b = (
        images[column].map(classes.index).to_numpy()
        for column in ("label", "predicted_a", "predicted_b")
    )
    scores = stats.paired_scores(y_true, pred_a, pred_b, resamples, seed)
    return Comparison(
        rev_a,
        rev_b,
        len(images),
        paired.left_out_a,
        paired.left_out_b,
        {metric: (scores[metric].a.estimate, scores[metric].b.estimate) for metric in METRICS},
        {metric: scores[metric].difference for metric in METRICS},
        stats.mcnemar(y_true, pred_a, pred_b),
        resamples,
    )


def _p(value: float, floor: float = 1e-4) -> str:
    """ "= 0.0506", or "< 0.0001" below what is worth printing (or what the bootstrap resolves)."""
    return f"< {floor:.2g}" if value < floor else f"= {value:.4g}"


def rows(result: Comparison) -> list[list[str]]:
    """The table's rows: metric, A, B, B - A, its 95% interval, p and the test that gave it."""
    table = []
    for metric, (a, b) in result.scores.items():
        difference = result.differences[metric]
        if metric == "accuracy":
            p_value = f"{_p(result.mcnemar.p_value)} McNemar"
        else:
            p_value = f"{_p(difference.p_value, 2 / result.resamples)} bootstrap"
        table.append(
            [
                METRICS[metric],
                f"{a:.4f}",
                f"{b:.4f}",
                f"{difference.estimate:+.4f}",
                f"[{difference.low:+.4f}, {difference.high:+.4f}]",
                f"p {p_value}",
            ]
        )
    return table


def header(result: Comparison) -> list[str]:
    return ["metric", f"A ({result.rev_a})", f"B ({result.rev_b})", "B - A", "95% interval", "p"]


def notes(result: Comparison) -> list[str]:
    """The lines under the table: left-out images, McNemar's counts, the verdict."""
    lines = []
    if result.left_out_a or result.left_out_b:
        lines.append(
            f"The test sets differ: only the {result.images} images both scored are compared; "
            f"{result.left_out_a} of A's and {result.left_out_b} of B's were left out."
        )
    test = result.mcnemar
    lines.append(
        f"McNemar exact test: {test.only_a} image{'' if test.only_a == 1 else 's'} only A got "
        f"right, {test.only_b} only B; p {_p(test.p_value)}."
    )
    lines.append(result.sentence)
    return lines


def markdown(result: Comparison) -> str:
    """A GitHub-flavoured table and the notes, for a pull-request comment."""
    table = tabulate(rows(result), header(result), tablefmt="github", disable_numparse=True)
    return "\n".join([table, "", *notes(result)]) + "\n"
