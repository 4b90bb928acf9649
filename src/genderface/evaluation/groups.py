"""Scores by group: an attributes.csv beside an external folder's class folders names, for each
image, its group under each attribute (age, skin tone, ...); stats.group_scores scores them."""

import re
from pathlib import Path

import pandas as pd

from genderface.errors import GenderfaceError
from genderface.evaluation.outputs import PREDICTION_COLUMNS
from genderface.evaluation.scoring import Evaluation
from genderface.evaluation.stats import GroupScores, group_scores
from genderface.fsutil import parse_csv

ATTRIBUTES = "attributes.csv"
ATTRIBUTE_NAME = re.compile(r"[A-Za-z0-9_.-]+")  # each names a metrics key and a plot file


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


def by_group(evaluation: Evaluation, attributes: pd.DataFrame, min_group: int) -> GroupScores:
    """Scores per attribute and group; images attributes.csv does not list form group "?"."""
    names = [c for c in attributes.columns if c != "file"]
    joined = evaluation.predictions().merge(attributes, on="file", how="left")
    joined[names] = joined[names].fillna("?")
    return group_scores(joined, names, evaluation.classes, min_group)
