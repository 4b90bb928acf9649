"""Scores by group (evaluation/groups.py): on a small table, and on real faces: fairface-540
(CC BY 4.0) as evaluate.external, framed as the model was trained (face crops), through a real
`dvc repro` of the tiny project, the metrics, the plots and the model card."""

import json
import math

import pandas as pd
import pytest

from genderface.evaluation.groups import group_scores
from genderface.stats import wilson, wilson_mean

from .conftest import Project
from .test_plots import DATA_MARK, declared_charts, plots_command, rendered

AGES = ["0-2", "3-9", "10-19", "20-29", "30-39", "40-49", "50-59", "60-69", "70+"]


@pytest.fixture(scope="module")
def fairface_project(reproduced_project, fairface, tmp_path_factory) -> Project:
    project = Project(tmp_path_factory.mktemp("fairface") / "project", template=reproduced_project)
    external = {"evaluate.external": str(fairface)}  # framed as the model: its face
    project.set_params(**external)
    assert project.repro() == ["evaluate"]
    return project


Z = 1.959963984540054  # the normal quantile of a two-sided 95% interval


def wilson_by_hand(right: int, n: int) -> tuple[float, float, float]:
    """A share and its Wilson score interval, from the textbook formula."""
    centre = (right + Z**2 / 2) / (n + Z**2)
    half = Z / (n + Z**2) * math.sqrt(right * (n - right) / n + Z**2 / 4)
    return right / n, centre - half, centre + half


@pytest.mark.slow
def test_scores_by_age_and_gender_with_intervals(fairface_project, fairface):
    external = fairface_project.json("metrics/eval/metrics.json")["external"]
    assert external["images"] == 540 and external["skipped"] == 0
    assert external["no_face"] == 0  # every fairface-540 crop holds a face the finder sees
    age = external["groups"]["age"]
    assert [group for group in age if group not in ("largest_gap", "left_out")] == AGES
    assert age["left_out"] == 0  # every image listed has an age
    predictions = pd.read_csv(fairface_project.root / "metrics/eval/predictions/external.csv")
    joined = predictions.merge(pd.read_csv(fairface / "attributes.csv", dtype=str), on="file")
    assert len(joined) == 540
    for group in AGES:
        scores = age[group]
        assert (scores["n"], scores["man_n"], scores["woman_n"], scores["small"]) == (
            60,
            30,
            30,
            False,
        )
        members = joined[joined["age"] == group]
        right = int((members["label"] == members["predicted"]).sum())
        shown = (scores["accuracy"], scores["accuracy_low"], scores["accuracy_high"])
        assert shown == pytest.approx(wilson_by_hand(right, 60), abs=1e-9), group
    assert age["largest_gap"]["accuracy"] == pytest.approx(
        max(age[g]["accuracy"] for g in AGES) - min(age[g]["accuracy"] for g in AGES)
    )
    assert set(external["groups"]["gender"]) >= {"man", "woman"}


@pytest.mark.slow
def test_the_group_plots_render_offline_and_the_card_has_the_section(fairface_project, tmp_path):
    shown = json.loads(fairface_project.run("dvc", "plots", "show", "--json"))["data"]
    rows = shown["metrics/eval/plots/groups.json"][0]["content"]["data"]["values"]
    assert [row["group"] for row in rows if row["attribute"] == "age"] == AGES
    assert {row["attribute"] for row in rows} == {"age", "gender"}
    page = plots_command(fairface_project)
    charts = rendered(page, tmp_path / "chromium")
    assert len(charts) == len(declared_charts())  # the groups chart: a panel per attribute
    groups = next(svg for svg in charts if "External accuracy by group" in svg)
    assert all(f">{age}<" in groups for age in AGES)
    assert all(DATA_MARK.search(svg) for svg in charts)  # every chart drawn with data
    card = (fairface_project.root / "models/MODEL_CARD.md").read_text()
    assert "## Performance by group" in card
    assert "### By age" in card and "### By gender" in card
    assert "0 had no face found and are left out of these scores" in card


def _frame() -> pd.DataFrame:
    rows = []
    # age 3-9: 10 images, all right; 10-19: 10 images, the women all wrong; 70+: 2 images, wrong.
    for age, label, predicted, count in (
        ("3-9", "man", "man", 5),
        ("3-9", "woman", "woman", 5),
        ("10-19", "man", "man", 6),
        ("10-19", "woman", "man", 4),
        ("70+", "man", "woman", 2),
    ):
        rows += [{"label": label, "predicted": predicted, "age": age, "gender": label}] * count
    return pd.DataFrame(rows)


def test_group_scores_per_group_with_intervals_and_small_groups_flagged():
    result = group_scores(_frame(), ["age", "gender"], ["man", "woman"], min_group=5)
    table = result.table.set_index(["attribute", "group"])
    assert list(table.loc["age"].index) == ["3-9", "10-19", "70+"]  # numbers sort as numbers
    teen = table.loc[("age", "10-19")]
    assert (teen["n"], teen["man_n"], teen["woman_n"]) == (10, 6, 4)
    assert teen["accuracy"] == pytest.approx(0.6)
    assert (teen["man_error"], teen["woman_error"]) == (0.0, 1.0)
    expected = wilson(6, 10)
    assert (teen["accuracy_low"], teen["accuracy_high"]) == (expected.low, expected.high)
    assert teen["woman_error_low"] < 1.0 and teen["man_error_high"] > 0.0
    assert table.loc[("age", "70+"), "small"] and not teen["small"]
    assert math.isnan(table.loc[("gender", "man"), "woman_error"])
    # 70+ (accuracy 0) is small, so the accuracy gap is between 3-9 and 10-19 only.
    assert result.gaps["age"]["accuracy"] == {
        "gap": pytest.approx(0.4),
        "max": "3-9",
        "min": "10-19",
    }
    assert result.gaps["age"]["woman_error"]["gap"] == 1.0
    assert result.gaps["gender"]["accuracy"]["min"] == "woman"
    assert "woman_error" not in result.gaps["gender"]  # only one group has women
    # balanced accuracy: the men all right, the women all wrong, with the classes' intervals
    balanced = wilson_mean([(6, 6), (0, 4)])
    assert (teen["balanced_accuracy"], teen["balanced_accuracy_low"]) == (0.5, balanced.low)
    assert teen["balanced_accuracy_high"] == balanced.high
    assert table.loc[("age", "3-9"), "balanced_accuracy"] == 1.0
    assert math.isnan(table.loc[("age", "70+"), "balanced_accuracy"])  # no women: undefined
    assert result.gaps["age"]["balanced_accuracy"]["gap"] == 0.5
    assert "balanced_accuracy" not in result.gaps["gender"]  # each group holds one class
    assert result.left_out == {"age": 0, "gender": 0}


def test_images_without_a_value_are_left_out_of_that_attribute_only_and_counted():
    """The archive gives no age: its 8 images are in the source table, not in the age table."""
    rows = []
    for source, age, label, predicted, count in (
        ("archive", "", "man", "man", 4),
        ("archive", "", "woman", "woman", 3),
        ("archive", "", "woman", "man", 1),
        ("utkface", "20-29", "man", "man", 2),
        ("utkface", "20-29", "woman", "woman", 1),
        ("utkface", "70+", "woman", "man", 1),
    ):
        rows += [{"label": label, "predicted": predicted, "source": source, "age": age}] * count
    result = group_scores(pd.DataFrame(rows), ["source", "age"], ["man", "woman"], min_group=2)
    table = result.table.set_index(["attribute", "group"])
    assert list(table.index) == [
        ("source", "archive"),
        ("source", "utkface"),
        ("age", "20-29"),
        ("age", "70+"),
    ]
    assert result.left_out == {"source": 0, "age": 8}
    archive = table.loc[("source", "archive")]
    assert (archive["n"], archive["accuracy"]) == (8, 7 / 8)
    assert archive["balanced_accuracy"] == (4 / 4 + 3 / 4) / 2
    assert table.loc[("age", "20-29"), "n"] == 3
