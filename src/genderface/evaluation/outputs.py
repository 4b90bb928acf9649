"""Where the evaluate stage writes, and the per-image predictions' format that
`genderface compare` reads back (so this module imports nothing heavy)."""

from pathlib import Path

METRICS_DIR = Path("metrics/eval")
MISTAKES_GALLERY = METRICS_DIR / "plots" / "images" / "mistakes.png"
GROUP_PLOT = METRICS_DIR / "plots" / "groups.json"  # the external folder's groups
TEST_GROUP_PLOT = METRICS_DIR / "plots" / "test_groups.json"  # the test split's
PREDICTIONS_DIR = METRICS_DIR / "predictions"
PREDICTION_COLUMNS = ["sha256", "file", "label", "probability", "predicted"]  # in this order
MODEL_CARD = Path("models/MODEL_CARD.md")


def predictions_file(name: str) -> Path:
    """Per-image predictions of one evaluated set (test, external), kept in git for pairing."""
    return PREDICTIONS_DIR / f"{name}.csv"
