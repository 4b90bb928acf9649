"""What the evaluate stage writes: DVCLive metrics and plot data (metrics/eval), the mistakes
gallery, per-image predictions (for pairing revisions) and the model card.

Numbers come from evaluation.py; this module only lays them out, so rewording a plot title or
the card reruns evaluate alone.
"""

import json
import math
from pathlib import Path

import numpy as np
from dvclive import Live
from matplotlib.figure import Figure

from genderface import layout
from genderface.evaluation import outputs
from genderface.evaluation.evaluate import Mistake, Report
from genderface.evaluation.groups import GroupScores
from genderface.evaluation.metrics import Scores
from genderface.evaluation.model_card import render
from genderface.evaluation.scoring import Evaluation
from genderface.fsutil import atomic_path, write_csv, write_json, write_text


def log_scores(live: Live, prefix: str, scores: Scores) -> None:
    for key, value in scores.items():
        if isinstance(value, dict):
            for sub, v in value.items():
                live.log_metric(f"{prefix}/{key}/{sub}", v, plot=False)
        else:
            live.log_metric(f"{prefix}/{key}", value, plot=False)


def log_plots(live: Live, result: Evaluation) -> None:
    """Confusion-matrix, ROC, precision-recall and calibration plot data (class 1 positive)."""
    y_prob = result.y_prob.astype(np.float64)  # DVCLive's JSON writer refuses float32 thresholds
    names = np.array(result.classes)
    live.log_sklearn_plot(
        "confusion_matrix",
        names[result.y_true].tolist(),
        names[result.y_pred].tolist(),
        name="test/confusion_matrix.json",
        title="Test confusion matrix",
    )
    live.log_sklearn_plot("roc", result.y_true, y_prob, name="test/roc.json", title="Test ROC")
    live.log_sklearn_plot(
        "precision_recall",
        result.y_true,
        y_prob,
        name="test/precision_recall.json",
        title=f"Test precision-recall ({result.classes[1]})",
    )
    live.log_sklearn_plot(
        "calibration",
        result.y_true,
        y_prob,
        name="test/calibration.json",
        title="Test calibration",
        n_bins=result.bins,
    )


def mistakes_figure(mistakes: list[Mistake], wrong: int, columns: int = 4) -> Figure:
    """A grid of the mistakes: image, file name, true and predicted label, its probability.

    `wrong` is how many test predictions were wrong in all, shown or not.
    """
    columns = max(1, min(columns, len(mistakes)))
    rows = max(1, math.ceil(len(mistakes) / columns))
    figure = Figure(figsize=(2.6 * columns, 3.0 * rows + 0.6), dpi=100, layout="constrained")
    figure.suptitle(f"Most confident test mistakes ({len(mistakes)} of {wrong})")
    axes = figure.subplots(rows, columns, squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    if not mistakes:
        empty = "no mistakes on the test split" if wrong == 0 else "none shown (evaluate.mistakes)"
        axes[0, 0].text(0, 0.5, empty, fontsize=12)
    for ax, mistake in zip(axes.flat, mistakes, strict=False):
        ax.imshow(mistake.pixels)
        ax.set_title(
            f"{Path(mistake.path).name}\ntrue {mistake.true}, predicted {mistake.predicted}\n"
            f"p({mistake.predicted}) = {mistake.probability:.3f}",
            fontsize=8,
        )
    return figure


def save_png(figure: Figure, path: Path) -> None:
    """Write a figure as PNG atomically, without the metadata that varies between versions."""
    with atomic_path(path, suffix=".png") as tmp:
        figure.savefig(tmp, format="png", metadata={"Software": None})


def _plain(value: object) -> object:
    """JSON-ready: numpy scalars as Python numbers, NaN (an undefined rate) as null."""
    if isinstance(value, np.generic):
        value = value.item()
    return None if isinstance(value, float) and math.isnan(value) else value


def log_groups(live: Live, prefix: str, groups: GroupScores) -> None:
    """<prefix>/groups/<attribute>/<group>/<score>, .../largest_gap/<score> and .../left_out
    (images without a value), in the same metrics.json as every other score, so `dvc metrics
    diff` shows them. Undefined rates (a group without images of a class) are left out, not
    written as NaN."""
    for row in groups.table.to_dict("records"):
        group = f"{prefix}/groups/{row.pop('attribute')}/{row.pop('group')}"
        for key, value in row.items():
            if not (isinstance(value, float) and math.isnan(value)):
                live.log_metric(f"{group}/{key}", _plain(value), plot=False)
    for attribute, gaps in groups.gaps.items():
        for score, gap in gaps.items():
            key = f"{prefix}/groups/{attribute}/largest_gap/{score}"
            live.log_metric(key, gap["gap"], plot=False)
    for attribute, count in groups.left_out.items():
        live.log_metric(f"{prefix}/groups/{attribute}/left_out", count, plot=False)


def group_plot(groups: GroupScores | None, score: str) -> list[dict]:
    """Plot data: each group's `score` and 95% interval, one facet per attribute (bars with
    whiskers). Empty without groups (an external folder without attributes.csv): DVC then draws
    no chart and reports no error."""
    if groups is None:
        return []
    return [
        {
            "attribute": row["attribute"],
            "group": row["group"],
            score: _plain(row[score]),
            "low": _plain(row[f"{score}_low"]),
            "high": _plain(row[f"{score}_high"]),
            "images": int(row["n"]),
            "small": bool(row["small"]),
        }
        for row in groups.table.to_dict("records")
    ]


def write_report(report: Report) -> None:
    """Every output of the evaluate stage, each written atomically."""
    external = report.external
    with Live(str(outputs.METRICS_DIR), dvcyaml=False, save_dvc_exp=False) as live:
        log_scores(live, "test", report.test.scores)
        log_groups(live, "test", report.groups)
        for name, evaluation in report.sources.items():
            log_scores(live, f"test/sources/{name}", evaluation.scores)
        log_plots(live, report.test)
        if external is not None:
            log_scores(live, "external", external.evaluation.scores)
        if external is not None and external.groups is not None:
            log_groups(live, "external", external.groups)
    write_csv(outputs.predictions_file("test"), report.test.predictions())
    if external is not None:
        write_csv(outputs.predictions_file("external"), external.evaluation.predictions())
    write_json(outputs.GROUP_PLOT, group_plot(external and external.groups, "accuracy"))
    # balanced accuracy: a group's class mix would otherwise move its accuracy
    write_json(outputs.TEST_GROUP_PLOT, group_plot(report.groups, "balanced_accuracy"))
    wrong = int((report.test.y_pred != report.test.y_true).sum())
    save_png(mistakes_figure(report.mistakes, wrong), outputs.MISTAKES_GALLERY)
    data = json.loads(layout.DATA_METRICS.read_text())
    exported = layout.EXPORT_METRICS  # the export stage's; absent when evaluate runs alone
    export = json.loads(exported.read_text()) if exported.is_file() else None
    write_text(outputs.MODEL_CARD, render(report, data, export))
