"""How sure a score is: bootstrap intervals, paired comparisons, McNemar's test, Wilson intervals
(of a proportion, and of a mean of proportions such as a balanced accuracy).

On a test split of a few hundred images a 95% interval on accuracy spans several points, so most
differences between two runs are noise. Everything here is a pure function of labels and
predictions; the bootstrap draws from a numpy Generator seeded by the caller, so the same inputs
give the same intervals. It sits below modeling and evaluation (export judges a quantized model,
evaluate and compare the test split) and needs numpy and scipy only: `genderface compare`'s light
install has no scikit-learn.

Labels are class indices (0, 1); probabilities are of class 1, as the model's sigmoid gives them,
and decision.decide turns them into labels.
"""

from dataclasses import dataclass

import numpy as np
from scipy.stats import binomtest

from genderface.decision import decide

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
    for all resamples at once: scikit-learn scores one resample per call, a thousand times slower.
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


def _bounds(samples: np.ndarray) -> tuple[float, float]:
    """Percentile interval over the resamples that could be scored (a resample lacking a class
    has no balanced accuracy or ROC-AUC, and is left out of those two); NaN when none could."""
    kept = samples[~np.isnan(samples)]
    if kept.size == 0:
        return float("nan"), float("nan")
    low, high = np.percentile(kept, PERCENTILES)
    return float(low), float(high)


def bootstrap_bounds(
    y_true: np.ndarray, y_prob: np.ndarray, threshold: float, resamples: int, seed: int
) -> dict[str, tuple[float, float]]:
    """95% percentile bootstrap bounds (low, high) over images of accuracy, balanced accuracy and
    ROC-AUC, by metrics.compute_metrics' names.

    Images are drawn with replacement `resamples` times; the threshold stays fixed (it was chosen
    on validation, not on these images). The point scores are scikit-learn's, computed once by
    metrics.compute_metrics; only the resamples are scored here.
    """
    y_true = np.asarray(y_true, dtype=int)
    y_prob = np.asarray(y_prob, dtype=float)
    correct = (decide(y_prob, threshold) == y_true).astype(float)
    counts = _resample_counts(len(y_true), resamples, seed)
    return {
        "accuracy": _bounds(_accuracy(counts, correct)),
        "balanced_accuracy": _bounds(_balanced_accuracy(counts, y_true, correct)),
        "roc_auc": _bounds(_roc_auc(counts, y_true, y_prob)),
    }


@dataclass(frozen=True)
class Paired:
    """One score of two models on the same images: each with its bootstrap interval, and B minus
    A with its paired-bootstrap interval and p."""

    a: Interval
    b: Interval
    difference: Difference


def paired_scores(
    y_true: np.ndarray, pred_a: np.ndarray, pred_b: np.ndarray, resamples: int, seed: int
) -> dict[str, Paired]:
    """Accuracy and balanced accuracy of A and of B, and B minus A, from one shared resampling.

    Both models are scored on the same resampled images each time, so what the images have in
    common (easy or hard ones) cancels out and the difference's interval is far narrower than
    two separate intervals suggest. p < 0.05 exactly when zero lies outside that interval; its
    resolution is 2 / resamples. A point score is the same weighted sum with every image drawn
    once (no scikit-learn, see above), so the difference's estimate is exactly B's minus A's.
    """
    y_true = np.asarray(y_true, dtype=int)
    correct_a = (np.asarray(pred_a) == y_true).astype(float)
    correct_b = (np.asarray(pred_b) == y_true).astype(float)
    # Row 0 draws every image once (the point score); the others are the resamples.
    weights = np.vstack([np.ones(len(y_true)), _resample_counts(len(y_true), resamples, seed)])
    result = {}
    for name, score in (
        ("accuracy", _accuracy),
        ("balanced_accuracy", lambda w, c: _balanced_accuracy(w, y_true, c)),
    ):
        a, b = score(weights, correct_a), score(weights, correct_b)
        samples = b[1:] - a[1:]
        kept = samples[~np.isnan(samples)]
        tail = min(np.mean(kept <= 0), np.mean(kept >= 0)) if kept.size else 0.5
        result[name] = Paired(
            Interval(float(a[0]), *_bounds(a[1:])),
            Interval(float(b[0]), *_bounds(b[1:])),
            Difference(float(b[0] - a[0]), *_bounds(samples), min(1.0, 2 * tail)),
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


def wilson_mean(counts: list[tuple[int, int]]) -> Interval:
    """The mean of independent proportions, given as (successes, trials), with a 95% interval
    built from their Wilson intervals by MOVER (Zou & Donner 2008): each bound lies from the mean
    by the root sum of squares of each proportion's distance to its own bound, over their number.

    For a balanced accuracy, the proportions are the classes' recalls (disjoint images, so
    independent). The interval stays open where every image is right, as Wilson's does, and
    inside [0, 1]. Simulated, it holds the true balanced accuracy 91-95% of the time with 20 to
    300 images per class and recalls of 0.85 to 0.99; 88% with both recalls 0.99 on 40 images
    each, where a percentile bootstrap holds it 54% of the time (nearly half the draws have no
    mistake, and their interval is [1, 1]). NaN when a proportion has no trials (a class
    absent: no balanced accuracy).
    """
    parts = [wilson(successes, trials) for successes, trials in counts]
    count = len(parts)
    estimate = sum(part.estimate for part in parts) / count
    if np.isnan(estimate):
        return Interval(estimate, estimate, estimate)
    below = np.sqrt(sum((part.estimate - part.low) ** 2 for part in parts)) / count
    above = np.sqrt(sum((part.high - part.estimate) ** 2 for part in parts)) / count
    return Interval(estimate, float(estimate - below), float(estimate + above))
