"""The decision rules every stage shares, each written once.

- A probability of class 1 at or above the threshold means class 1 (>=, so a threshold of 0
  always answers class 1 and of 1 only a certain class 1).
- The majority class is the one with the most images; a tie goes to the first name in sorted
  order, so the baseline never depends on dict or file-system order.
- The threshold is chosen on validation data, to maximise balanced accuracy.
"""

from collections.abc import Mapping

import numpy as np


def decide(probability: np.ndarray | float, threshold: float) -> np.ndarray:
    """Class index (0 or 1) for each probability of class 1."""
    return (np.asarray(probability) >= threshold).astype(int)


def majority_class(counts: Mapping[str, int]) -> str:
    """The name with the most images (ties: the first in sorted order)."""
    if not counts:
        raise ValueError("no classes to choose a majority from")
    return min(sorted(counts), key=lambda name: -counts[name])


def choose_threshold(y_true: np.ndarray, y_prob: np.ndarray) -> float:
    """The cut-off that maximises balanced accuracy (Youden's J) on the given, validation, data.

    With 65% of one class, 0.5 on a class-weighted model is rarely the best operating point, and
    choosing it on test would flatter the test scores.
    """
    from sklearn.metrics import roc_curve  # here: predict's light install has no scikit-learn

    fpr, tpr, thresholds = roc_curve(y_true, y_prob, drop_intermediate=False)
    best = int(np.argmax(tpr - fpr))
    # Halfway to the next lower score, not on the best one: the same validation labels, and no
    # validation image sits on the cut, where a last-bit difference (another CPU, the exported
    # model) would flip it.
    below = thresholds[best + 1] if best + 1 < len(thresholds) else 0.0
    return float(np.clip((thresholds[best] + below) / 2, 0.0, 1.0))
