"""Bootstrap intervals, paired scores and differences, McNemar and Wilson (genderface/stats.py)."""

import math

import numpy as np
import pytest
from scipy.stats import norm
from sklearn import metrics as skm

from genderface import stats


def _simulated(rng: np.random.Generator, n: int, prior: float, shift: float):
    """Labels, and probabilities from a logistic of N(shift * label, 1) scores."""
    y = (rng.random(n) < prior).astype(int)
    return y, 1 / (1 + np.exp(-(rng.normal(size=n) + shift * y)))


def test_the_bounds_hold_scikit_learns_scores_and_come_from_resamples_alone():
    """The point scores are scikit-learn's (metrics.compute_metrics); the bounds bracket them."""
    y, p = _simulated(np.random.default_rng(3), 150, 0.35, 1.0)
    p = np.round(p, 1)  # ties, which ROC-AUC counts as half
    result = stats.bootstrap_bounds(y, p, 0.5, 200, seed=0)
    pred = (p >= 0.5).astype(int)
    estimates = {
        "accuracy": skm.accuracy_score(y, pred),
        "balanced_accuracy": skm.balanced_accuracy_score(y, pred),
        "roc_auc": skm.roc_auc_score(y, p),
    }
    assert set(result) == set(estimates)
    for name, (low, high) in result.items():
        assert low < estimates[name] < high, name


def test_the_threshold_is_decision_s_rule_at_or_above():
    """A probability equal to the threshold is class 1 (decision.decide), so every image is right
    here and every resample scores 1."""
    y = np.array([0, 1, 0, 1])
    p = np.array([0.2, 0.5, 0.1, 0.7])
    assert stats.bootstrap_bounds(y, p, 0.5, 50, seed=0)["accuracy"] == (1.0, 1.0)


def test_each_resample_scores_as_scikit_learn_scores_the_drawn_images():
    y, p = _simulated(np.random.default_rng(4), 80, 0.4, 1.0)
    p = np.round(p, 1)
    counts = stats._resample_counts(80, 3, seed=9)
    assert (counts.sum(axis=1) == 80).all()
    correct = ((p >= 0.5) == y).astype(float)
    for row in range(3):
        drawn = np.repeat(np.arange(80), counts[row])
        assert stats._roc_auc(counts, y, p)[row] == pytest.approx(
            skm.roc_auc_score(y[drawn], p[drawn])
        )
        assert stats._balanced_accuracy(counts, y, correct)[row] == pytest.approx(
            skm.balanced_accuracy_score(y[drawn], (p[drawn] >= 0.5).astype(int))
        )


def test_the_same_seed_gives_the_same_intervals_another_seed_others():
    y, p = _simulated(np.random.default_rng(5), 100, 0.4, 1.0)
    first = stats.bootstrap_bounds(y, p, 0.5, 300, seed=1)
    assert stats.bootstrap_bounds(y, p, 0.5, 300, seed=1) == first
    assert stats.bootstrap_bounds(y, p, 0.5, 300, seed=2) != first


def test_resamples_lacking_a_class_are_left_out_not_fatal():
    y = np.array([0, 0, 0, 0, 1])  # a resample misses the one positive 1 time in 3
    p = np.array([0.1, 0.2, 0.3, 0.6, 0.9])
    result = stats.bootstrap_bounds(y, p, 0.5, 500, seed=0)
    for low, high in result.values():
        assert math.isfinite(low) and math.isfinite(high)
    one_class = stats.bootstrap_bounds(np.zeros(5, int), p, 0.5, 100, seed=0)
    assert 0 <= one_class["accuracy"][0] <= 0.6 <= one_class["accuracy"][1]
    assert all(math.isnan(bound) for bound in one_class["roc_auc"])


def test_interval_coverage_of_the_true_value_is_95_percent():
    """1,000 simulated test sets drawn from a known population; the 95% interval of each must
    hold the population's true score about 95% of the time (binomial sd 0.7 points)."""
    n, prior, shift, cut, draws = 300, 0.4, 1.0, 0.5, 1000
    truth = {
        "accuracy": prior * norm.sf(cut - shift) + (1 - prior) * norm.cdf(cut),
        "balanced_accuracy": (norm.sf(cut - shift) + norm.cdf(cut)) / 2,
        "roc_auc": norm.cdf(shift / math.sqrt(2)),
    }
    rng = np.random.default_rng(0)
    hits = dict.fromkeys(truth, 0)
    for draw in range(draws):
        y, p = _simulated(rng, n, prior, shift)
        result = stats.bootstrap_bounds(y, p, 1 / (1 + math.exp(-cut)), 400, seed=draw)
        for name, value in truth.items():
            hits[name] += result[name][0] <= value <= result[name][1]
    for name, count in hits.items():
        assert 0.93 <= count / draws <= 0.97, (name, count / draws)


def test_paired_difference_of_a_model_with_itself_is_exactly_zero():
    y, p = _simulated(np.random.default_rng(6), 120, 0.4, 1.0)
    pred = (p >= 0.5).astype(int)
    for paired in stats.paired_scores(y, pred, pred, 300, seed=0).values():
        difference = paired.difference
        assert (difference.estimate, difference.low, difference.high) == (0.0, 0.0, 0.0)
        assert difference.p_value == 1.0
        assert paired.a == paired.b


def test_paired_scores_are_scikit_learns_and_the_difference_is_b_minus_a():
    y, p = _simulated(np.random.default_rng(7), 400, 0.4, 1.5)
    good = (p >= 0.5).astype(int)
    bad = np.zeros_like(good)  # always class 0: balanced accuracy 0.5
    forward = stats.paired_scores(y, bad, good, 500, seed=3)
    backward = stats.paired_scores(y, good, bad, 500, seed=3)
    assert forward["accuracy"].a.estimate == pytest.approx(skm.accuracy_score(y, bad))
    assert forward["balanced_accuracy"].b.estimate == pytest.approx(
        skm.balanced_accuracy_score(y, good)
    )
    assert forward["balanced_accuracy"].a.estimate == 0.5
    for paired in forward.values():
        assert paired.difference.estimate == paired.b.estimate - paired.a.estimate
        assert paired.b.low < paired.b.estimate < paired.b.high
    gain = forward["balanced_accuracy"].difference
    assert 0 < gain.low < gain.estimate < gain.high
    assert gain.p_value == 0.0  # no resample of 500 reaches zero: p < 2 / 500
    # Paired, the difference of two models that mostly agree (one is the other with a tenth of
    # its labels flipped) has a narrower interval than either model's own score.
    flipped = np.random.default_rng(5).random(len(good)) < 0.1
    close = stats.paired_scores(y, np.where(flipped, 1 - good, good), good, 500, seed=3)
    paired = close["balanced_accuracy"]
    assert paired.difference.high - paired.difference.low < paired.b.high - paired.b.low
    slight = stats.paired_scores(y, good, np.where(np.arange(400) == 0, 1 - good, good), 500, 3)
    assert slight["accuracy"].difference.p_value > 0.05  # one image of 400 changed: no evidence
    for name, paired in backward.items():
        assert paired.difference.estimate == pytest.approx(-forward[name].difference.estimate)
        assert paired.difference.low == pytest.approx(-forward[name].difference.high)
        assert paired.a == forward[name].b


def test_mcnemar_exact_p_on_the_discordant_pairs():
    y = np.zeros(20, int)
    a = np.zeros(20, int)
    b = a.copy()
    b[:10] = 1  # B wrong on 10 images A got right, and no image the other way round
    result = stats.mcnemar(y, a, b)
    assert (result.only_a, result.only_b) == (10, 0)
    assert result.p_value == pytest.approx(2 * 0.5**10)
    b[10:13] = 1
    a[10:13] = 1  # both wrong: not discordant
    a[13:15] = 1  # A wrong, B right on two
    assert stats.mcnemar(y, a, b).only_b == 2
    assert stats.mcnemar(y, a, b).p_value == pytest.approx(
        2 * sum(math.comb(12, k) for k in range(3)) / 2**12
    )
    assert stats.mcnemar(y, a, a).p_value == 1.0


def test_wilson_interval_stays_open_at_zero_errors():
    zero = stats.wilson(0, 30)
    assert zero.estimate == 0.0 and zero.low == pytest.approx(0.0, abs=1e-12)
    assert zero.high == pytest.approx(1.96**2 / (30 + 1.96**2), rel=1e-3)  # closed form at 0
    half = stats.wilson(15, 30)
    assert half.low == pytest.approx(1 - half.high)
    assert math.isnan(stats.wilson(0, 0).estimate)


Z = norm.ppf(0.975)


def test_wilson_mean_combines_the_classes_wilson_intervals_by_hand():
    """Balanced accuracy of two classes: all 10 + 10 right stays open below, unlike a bootstrap
    ([1, 1]); 6 of 6 and 0 of 4 right is 0.5, each bound moved by the one class not at it."""
    perfect = stats.wilson_mean([(10, 10), (10, 10)])
    assert (perfect.estimate, perfect.high) == (1.0, pytest.approx(1.0))
    # Wilson's lower bound at n of n is n / (n + z^2); both classes move it alike.
    assert perfect.low == pytest.approx(1 - math.sqrt(2) / 2 * Z**2 / (10 + Z**2))
    half = stats.wilson_mean([(6, 6), (0, 4)])
    assert half.estimate == 0.5
    assert half.low == pytest.approx(0.5 - (1 - 6 / (6 + Z**2)) / 2)  # 0 of 4 has low 0
    assert half.high == pytest.approx(0.5 + Z**2 / (4 + Z**2) / 2)  # 6 of 6 has high 1
    assert math.isnan(stats.wilson_mean([(3, 3), (0, 0)]).estimate)  # a class absent


def test_wilson_mean_coverage_of_the_true_balanced_accuracy_is_about_95_percent():
    recalls, sizes, draws = np.array([0.9, 0.85]), [60, 60], 500
    rng = np.random.default_rng(0)
    hits = 0
    for right in rng.binomial(sizes, recalls, size=(draws, 2)):
        interval = stats.wilson_mean(list(zip(right.tolist(), sizes, strict=True)))
        hits += interval.low <= recalls.mean() <= interval.high
    assert 0.92 <= hits / draws <= 0.975
