"""How sure a score is: bootstrap intervals, paired comparisons and scores by group.

On a test split of a few hundred images a 95% interval on accuracy spans several points, so most
differences between two runs are noise. Everything here is a pure function of labels and
predictions; the bootstrap draws from a numpy Generator seeded by the caller, so the same inputs
give the same intervals.

Labels are class indices (0, 1); probabilities are of class 1, as the model's sigmoid gives them.
"""

import re
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.stats import binomtest

LEVEL = 0.95
PERCENTILES = (100 * (1 - LEVEL) / 2, 100 * (1 + LEVEL) / 2)


@dataclass(frozen=True)
class Interval:
    """A point estimate and its 95% interval (NaN bounds when no resample could score it)."""

    estimate: float
    low: float
    high: float

    def as_dict(self) -> dict[str, float]:
        return {"estimate": self.estimate, "low": self.low, "high": self.high}


@dataclass(frozen=True)
class Difference(Interval):
    """B minus A with its paired-bootstrap interval and two-sided bootstrap p-value: twice the
    share of resamples on the far side of zero (1 when B and A never differ)."""

    p_value: float

    def as_dict(self) -> dict[str, float]:
        return super().as_dict() | {"p": self.p_value}


def _resample_counts(n: int, resamples: int, seed: int) -> np.ndarray:
    """How often each of n images is drawn in each resample: (resamples, n) integer counts.

    Counts instead of index lists let every score below be a weighted sum, one matrix product
    for all resamples at once.
    """
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, n, size=(resamples, n))
    rows = np.repeat(np.arange(resamples), n)
    return np.bincount(rows * n + draws.ravel(), minlength=resamples * n).reshape(resamples, n)


def _accuracy(weights: np.ndarray, correct: np.ndarray) -> np.ndarray:
    """Accuracy per row of weights (images drawn per resample)."""
    return weights @ correct / weights.sum(axis=-1)


def _balanced_accuracy(weights: np.ndarray, y_true: np.ndarray, correct: np.ndarray) -> np.ndarray:
    """Mean of the two classes' recalls per row; NaN for a row holding only one class."""
    recalls = []
    for cls in (0, 1):
        member = (y_true == cls).astype(float)
        drawn = weights @ member
        with np.errstate(invalid="ignore", divide="ignore"):
            recalls.append(np.where(drawn > 0, weights @ (member * correct) / drawn, np.nan))
    return (recalls[0] + recalls[1]) / 2


def _roc_auc(weights: np.ndarray, y_true: np.ndarray, y_prob: np.ndarray) -> np.ndarray:
    """ROC-AUC per row of weights (Mann-Whitney: P(positive scored above negative), ties count
    half); NaN for a row holding only one class."""
    order = np.argsort(y_prob, kind="stable")
    scores, positive = y_prob[order], y_true[order] == 1
    starts = np.flatnonzero(np.r_[True, scores[1:] != scores[:-1]])  # runs of tied scores
    w = np.atleast_2d(weights)[:, order]
    pos = np.add.reduceat(w * positive, starts, axis=1)
    neg = np.add.reduceat(w * ~positive, starts, axis=1)
    below = np.cumsum(neg, axis=1) - neg
    pairs = pos.sum(axis=1) * neg.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        auc = (pos * (below + neg / 2)).sum(axis=1) / pairs
    return np.where(pairs > 0, auc, np.nan).reshape(np.shape(weights)[:-1])


def _interval(estimate: float, samples: np.ndarray) -> Interval:
    """Percentile interval over the resamples that could be scored (a resample lacking a class
    has no balanced accuracy or ROC-AUC, and is left out of those two)."""
    kept = samples[~np.isnan(samples)]
    if kept.size == 0:
        return Interval(float(estimate), float("nan"), float("nan"))
    low, high = np.percentile(kept, PERCENTILES)
    return Interval(float(estimate), float(low), float(high))


def bootstrap_scores(
    y_true: np.ndarray, y_prob: np.ndarray, threshold: float, resamples: int, seed: int
) -> dict[str, Interval]:
    """95% percentile bootstrap intervals over images for accuracy, balanced accuracy and ROC-AUC.

    Images are drawn with replacement `resamples` times; the threshold stays fixed (it was chosen
    on validation, not on these images).
    """
    y_true = np.asarray(y_true, dtype=int)
    y_prob = np.asarray(y_prob, dtype=float)
    # decision.decide's rule, written here: decision imports scikit-learn, which the pull-request
    # workflow's light install of `genderface compare` (stats, no TensorFlow) leaves out
    correct = ((y_prob >= threshold).astype(int) == y_true).astype(float)
    counts = _resample_counts(len(y_true), resamples, seed)
    ones = np.ones(len(y_true))
    return {
        "accuracy": _interval(_accuracy(ones, correct), _accuracy(counts, correct)),
        "balanced_accuracy": _interval(
            _balanced_accuracy(ones, y_true, correct), _balanced_accuracy(counts, y_true, correct)
        ),
        "roc_auc": _interval(_roc_auc(ones, y_true, y_prob), _roc_auc(counts, y_true, y_prob)),
    }


def point_scores(y_true: np.ndarray, pred: np.ndarray) -> dict[str, float]:
    """Accuracy and balanced accuracy of class predictions (NaN balanced accuracy: one class)."""
    y_true = np.asarray(y_true, dtype=int)
    correct = (np.asarray(pred) == y_true).astype(float)
    ones = np.ones(len(y_true))
    return {
        "accuracy": float(_accuracy(ones, correct)),
        "balanced_accuracy": float(_balanced_accuracy(ones, y_true, correct)),
    }


def paired_difference(
    y_true: np.ndarray, pred_a: np.ndarray, pred_b: np.ndarray, resamples: int, seed: int
) -> dict[str, Difference]:
    """B minus A in accuracy and balanced accuracy, with a paired-bootstrap 95% interval and p.

    Both models are scored on the same resampled images each time, so what the images have in
    common (easy or hard ones) cancels out and the interval is far narrower than two separate
    intervals suggest. p < 0.05 exactly when zero lies outside the interval; its resolution is
    2 / resamples.
    """
    y_true = np.asarray(y_true, dtype=int)
    correct_a = (np.asarray(pred_a) == y_true).astype(float)
    correct_b = (np.asarray(pred_b) == y_true).astype(float)
    counts = _resample_counts(len(y_true), resamples, seed)
    ones = np.ones(len(y_true))
    result = {}
    for name, score in (
        ("accuracy", _accuracy),
        ("balanced_accuracy", lambda w, c: _balanced_accuracy(w, y_true, c)),
    ):
        estimate = score(ones, correct_b) - score(ones, correct_a)
        samples = score(counts, correct_b) - score(counts, correct_a)
        interval = _interval(estimate, samples)
        kept = samples[~np.isnan(samples)]
        tail = min(np.mean(kept <= 0), np.mean(kept >= 0)) if kept.size else 0.5
        result[name] = Difference(
            interval.estimate, interval.low, interval.high, min(1.0, 2 * tail)
        )
    return result


@dataclass(frozen=True)
class McNemar:
    """Exact McNemar test: of the images exactly one model got right, is the split 50/50?"""

    only_a: int  # images A got right and B wrong
    only_b: int
    p_value: float


def mcnemar(y_true: np.ndarray, pred_a: np.ndarray, pred_b: np.ndarray) -> McNemar:
    """Two-sided exact binomial test on the discordant pairs; p = 1 when there are none."""
    y_true = np.asarray(y_true)
    right_a, right_b = np.asarray(pred_a) == y_true, np.asarray(pred_b) == y_true
    only_a, only_b = int(np.sum(right_a & ~right_b)), int(np.sum(right_b & ~right_a))
    discordant = only_a + only_b
    p_value = binomtest(only_a, discordant, 0.5).pvalue if discordant else 1.0
    return McNemar(only_a, only_b, float(p_value))


def wilson(successes: int, trials: int) -> Interval:
    """A proportion with its 95% Wilson score interval (NaN for no trials)."""
    if trials == 0:
        return Interval(float("nan"), float("nan"), float("nan"))
    ci = binomtest(successes, trials).proportion_ci(confidence_level=LEVEL, method="wilson")
    return Interval(successes / trials, float(ci.low), float(ci.high))


def _natural_key(value: str) -> list[int | str]:
    """Sort "3-9" before "10-19": digit runs compare as numbers."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", value)]


@dataclass(frozen=True)
class GroupScores:
    """Scores of each group of each attribute, and the largest gap between groups."""

    table: pd.DataFrame  # one row per (attribute, group); see group_scores
    gaps: dict[str, dict[str, dict[str, float | str]]]  # attribute -> score -> gap, best, worst
    min_group: int  # groups with fewer images are flagged `small` and left out of the gaps


def _group_row(group: pd.DataFrame, classes: list[str], min_group: int) -> dict:
    correct = group["label"] == group["predicted"]
    row: dict = {"n": len(group), "small": len(group) < min_group}
    accuracy = wilson(int(correct.sum()), len(group))
    row |= {"accuracy": accuracy.estimate, "accuracy_low": accuracy.low}
    row["accuracy_high"] = accuracy.high
    for cls in classes:
        member = group["label"] == cls
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
    """Per attribute and group: n, accuracy and each class's error rate, with 95% intervals.

    `predictions` has a row per image with `label` and `predicted` (class names) and one column
    per attribute. Intervals are Wilson score intervals, not bootstrap: groups are small (tens of
    images) and their error rates are often near 0 or 1, where a percentile bootstrap collapses
    to [0, 0] and claims certainty the data do not give; Wilson's interval stays honest there,
    needs no seed and is exact to compute. A class's error rate is the share of the group's
    images of that class the model labelled wrong (NaN when the group has none of it).

    Groups with fewer than `min_group` images are kept and flagged (`small`), and left out of
    the gaps: the largest minus the smallest score among the other groups of the attribute.
    """
    rows = []
    for attribute in attributes:
        values = predictions[attribute].astype(str)
        for group in sorted(values.unique(), key=_natural_key):
            members = predictions[values == group]
            rows.append(
                {"attribute": attribute, "group": group} | _group_row(members, classes, min_group)
            )
    table = pd.DataFrame(rows)
    gaps = {}
    for attribute in attributes:
        big = table[(table["attribute"] == attribute) & ~table["small"]]
        columns = ["accuracy", *(f"{cls}_error" for cls in classes)]
        gaps[attribute] = {c: gap for c in columns if (gap := _gap(big, c)) is not None}
    return GroupScores(table, gaps, min_group)
