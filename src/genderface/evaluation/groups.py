"""Scores by group: each image's group under each attribute (age, skin tone, ...) comes from an
attributes.csv beside an external folder's class folders, or for the test split from the
manifest (its source and attribute columns); group_scores scores each group, with Wilson
intervals. An image without a value ("") for an attribute is left out of that attribute's table
and counted."""

import re
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from genderface.data.manifests import ATTRIBUTE_NAME
from genderface.errors import GenderfaceError
from genderface.evaluation.outputs import PREDICTION_COLUMNS
from genderface.evaluation.scoring import Evaluation
from genderface.fsutil import parse_csv
from genderface.stats import wilson, wilson_mean

ATTRIBUTES = "attributes.csv"


def read_attributes(path: Path) -> pd.DataFrame:
    """attributes.csv: a `file` column (relative to the folder, as `<class>/<name>`), then one
    column per attribute; every value is text."""
    frame = parse_csv(path)
    attributes = [c for c in frame.columns if c != "file"]
    bad = set(attributes) & set(PREDICTION_COLUMNS) or {
        name for name in attributes if not ATTRIBUTE_NAME.fullmatch(name)
    }
    if "file" not in frame.columns or not attributes or bad:
        raise GenderfaceError(
            f"{path}: needs a `file` column and attribute columns named with letters, digits, "
            f"_ . - (not {', '.join(c for c in PREDICTION_COLUMNS if c != 'file')}); got "
            f"{', '.join(frame.columns)}: fix its header"
        )
    repeated = frame["file"][frame["file"].duplicated()].tolist()
    if repeated:
        raise GenderfaceError(f"{path}: {repeated[0]} is listed twice; list each file once")
    return frame


def _natural_key(value: str) -> list[int | str]:
    """Sort "3-9" before "10-19": digit runs compare as numbers."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", value)]


@dataclass(frozen=True)
class GroupScores:
    """Scores of each group of each attribute, the largest gap between groups, and how many
    images had no value for each attribute."""

    table: pd.DataFrame  # one row per (attribute, group); see group_scores
    gaps: dict[str, dict[str, dict[str, float | str]]]  # attribute -> score -> gap, best, worst
    min_group: int  # groups with fewer images are flagged `small` and left out of the gaps
    left_out: dict[str, int]  # attribute -> images without a value (""), in none of its groups


def _group_row(group: pd.DataFrame, classes: list[str], min_group: int) -> dict:
    correct = group["label"] == group["predicted"]
    row: dict = {"n": len(group), "small": len(group) < min_group}
    accuracy = wilson(int(correct.sum()), len(group))
    row |= {"accuracy": accuracy.estimate, "accuracy_low": accuracy.low}
    row["accuracy_high"] = accuracy.high
    members = {cls: group["label"] == cls for cls in classes}
    balanced = wilson_mean([(int((m & correct).sum()), int(m.sum())) for m in members.values()])
    row |= {"balanced_accuracy": balanced.estimate, "balanced_accuracy_low": balanced.low}
    row["balanced_accuracy_high"] = balanced.high
    for cls, member in members.items():
        error = wilson(int((member & ~correct).sum()), int(member.sum()))
        row |= {f"{cls}_n": int(member.sum()), f"{cls}_error": error.estimate}
        row |= {f"{cls}_error_low": error.low, f"{cls}_error_high": error.high}
    return row


def _gap(rows: pd.DataFrame, column: str) -> dict[str, float | str] | None:
    scored = rows.dropna(subset=[column])
    if len(scored) < 2:
        return None
    best = scored.loc[scored[column].idxmax()]
    worst = scored.loc[scored[column].idxmin()]
    return {"gap": float(best[column] - worst[column]), "max": best["group"], "min": worst["group"]}


def group_scores(
    predictions: pd.DataFrame, attributes: list[str], classes: list[str], min_group: int
) -> GroupScores:
    """Per attribute and group: n, accuracy, balanced accuracy and each class's error rate, with
    95% intervals.

    `predictions` has a row per image with `label` and `predicted` (class names) and one column
    per attribute; an image whose value is "" is in no group of that attribute, only counted in
    `left_out` (a source without ages must not swamp the age table as one unknown group).
    Intervals are Wilson score intervals, not bootstrap: groups are small (tens of images) and
    their error rates are often near 0 or 1, where a percentile bootstrap collapses to [0, 0] and
    claims certainty the data do not give; Wilson's interval stays honest there, needs no seed
    and is exact to compute. For the same reasons balanced accuracy (the mean over classes of
    1 - the class's error rate, NaN when the group lacks a class) takes its interval from the
    classes' Wilson intervals (stats.wilson_mean), not from a bootstrap. A class's error rate is
    the share of the group's images of that class the model labelled wrong (NaN when the group
    has none of it).

    Groups with fewer than `min_group` images are kept and flagged (`small`), and left out of
    the gaps: the largest minus the smallest score among the other groups of the attribute.
    """
    rows, left_out = [], {}
    for attribute in attributes:
        values = predictions[attribute].astype(str)
        left_out[attribute] = int((values == "").sum())
        for group in sorted(set(values) - {""}, key=_natural_key):
            members = predictions[values == group]
            rows.append(
                {"attribute": attribute, "group": group} | _group_row(members, classes, min_group)
            )
    table = pd.DataFrame(rows)
    gaps = {}
    for attribute in attributes:
        big = table[(table["attribute"] == attribute) & ~table["small"]]
        columns = ["accuracy", "balanced_accuracy", *(f"{cls}_error" for cls in classes)]
        gaps[attribute] = {c: gap for c in columns if (gap := _gap(big, c)) is not None}
    return GroupScores(table, gaps, min_group, left_out)


def by_group(evaluation: Evaluation, attributes: pd.DataFrame, min_group: int) -> GroupScores:
    """Scores per attribute and group, `attributes` joined to the evaluation's images on `file`;
    images it does not list form group "?"."""
    names = [c for c in attributes.columns if c != "file"]
    joined = evaluation.predictions().merge(attributes, on="file", how="left")
    joined[names] = joined[names].fillna("?")
    return group_scores(joined, names, evaluation.classes, min_group)
