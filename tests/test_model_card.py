import re

import numpy as np

from genderface.evaluation import Evaluation, Report
from genderface.metrics import compute_metrics
from genderface.model_card import render
from genderface.shards import ShardInfo

CLASSES = ["man", "woman"]
INFO = ShardInfo(
    image_size=64,
    classes=CLASSES,
    counts={
        "train": {"man": 70, "woman": 30},
        "test": {"man": 6, "woman": 4},
        "validation": {"man": 7, "woman": 3},
    },
)


def _evaluation(threshold: float = 0.42) -> Evaluation:
    y_true = np.array([0] * 6 + [1] * 4)
    y_prob = np.array([0.1, 0.2, 0.3, 0.5, 0.6, 0.2, 0.9, 0.8, 0.4, 0.7])
    scores = compute_metrics(y_true, y_prob, threshold, CLASSES, majority=0, bins=10)
    files = [f"{i}.jpg" for i in range(10)]
    return Evaluation(scores, CLASSES, threshold, files, files, y_true, y_prob, bins=10)


def _render(*args: object) -> str:
    """The card with table cells' padding folded, so tests read its content, not its layout."""
    return re.sub(r" {2,}", " ", render(*args))


def test_card_states_data_scores_threshold_and_limits():
    test = _evaluation()
    card = _render(
        Report(INFO, test, [], None), {"source": "faces.zip", "resolved": "faces.zip"}, ""
    )
    assert "| train | 70 | 30 | 100 | 70.0% |" in card
    assert "| test | 6 | 4 | 10 | 60.0% |" in card
    assert "Source: `faces.zip`." in card
    assert "SYNTHETIC" not in card
    assert "The decision threshold, 0.4200, was chosen on the validation split" in card
    assert (
        f"| balanced accuracy (mean of per-class recall) | {test.scores['balanced_accuracy']:.3f} |"
        in card
    )
    assert "| majority baseline (always the training majority) | 0.600 |" in card
    assert f"| expected calibration error | {test.scores['ece']:.3f} |" in card
    woman = test.scores["woman"]
    assert f"| woman | {woman['precision']:.3f} | {woman['recall']:.3f} |" in card
    assert "over-represents `man` (70.0% of training images)" in card
    assert "taken from the dataset's folder names" in card
    assert "**Not for decisions about people**" in card
    assert "External" not in card
    demo = _render(Report(INFO, test, [], None), {"source": "demo", "synthetic": True}, "")
    assert "Source: `demo` - **SYNTHETIC demo images**" in demo


def test_card_reports_the_external_folder_separately():
    external = _evaluation()
    external.scores["skipped"] = 2
    card = _render(Report(INFO, _evaluation(), [], external), None, "other/faces")
    assert "## External folder `other/faces` (10 images, 2 unreadable skipped)" in card
    assert "Source:" not in card
    assert card.count("| accuracy |") == 2


def test_card_states_what_made_the_model():
    provenance = {
        "versions": {"dvc": "3.1", "keras": "3.2", "python": "3.12.1", "tensorflow": "2.3"},
        "devices": {"kind": "GPU", "count": 2},
        "mixed_precision": "mixed_float16",
        "xla": True,
        "deterministic": False,
    }
    card = _render(Report(INFO, _evaluation(), [], None), None, "", provenance)
    assert "## How it was made" in card
    for row in (
        "| tensorflow version | 2.3 |",
        "| keras version | 3.2 |",
        "| dvc version | 3.1 |",
        "| devices | 2 x GPU |",
        "| mixed precision (dtype policy) | mixed_float16 |",
        "| XLA (jit_compile) | on |",
        "| TensorFlow op determinism | off |",
    ):
        assert row in card
    assert "\n\n\n" not in render(Report(INFO, _evaluation(), [], None), None, "", provenance)
    assert "How it was made" not in _render(Report(INFO, _evaluation(), [], None), None, "")
