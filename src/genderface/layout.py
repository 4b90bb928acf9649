"""Where the pipeline's files live and what they are called: every path dvc.yaml names."""

from pathlib import Path

RAW_DIR = Path("data/raw")
CHECKS = Path("data/validate/files.csv")
MANIFEST = Path("data/split/manifest.csv")
SHARDS_DIR = Path("data/shards")
MODEL = Path("models/model.keras")
TRAIN_BACKUP = Path("data/train-backup")
SOURCE_METRICS = Path("metrics/source.json")
DATA_METRICS = Path("metrics/data.json")
DATA_REPORT = Path("metrics/data.md")
TRAIN_METRICS_DIR = Path("metrics/train")
EVAL_METRICS_DIR = Path("metrics/eval")
MISTAKES_GALLERY = EVAL_METRICS_DIR / "plots" / "images" / "mistakes.png"
PREDICTIONS_DIR = EVAL_METRICS_DIR / "predictions"
GROUP_PLOT = EVAL_METRICS_DIR / "plots" / "groups.json"
PREDICTION_COLUMNS = ["sha256", "file", "label", "probability", "predicted"]  # in this order
MODEL_CARD = Path("models/MODEL_CARD.md")

FACES = "faces"
SPLITS = ("train", "test", "validation")
SHARD_META = "meta.json"


def model_meta(model: Path) -> Path:
    """The sidecar of a model file (class names, threshold): models/model.keras -> model.json."""
    return model.with_suffix(".json")


def shard_name(split: str, index: int, count: int) -> str:
    """<split>-NNNNN-of-MMMMM.tfrecord, TensorFlow's sharded-file convention."""
    return f"{split}-{index:05d}-of-{count:05d}.tfrecord"


def shard_files(shards_dir: Path, split: str) -> list[Path]:
    """A split's shard files in the order its records are read (record indices rely on it)."""
    return sorted(shards_dir.glob(f"{split}-*.tfrecord"))


def predictions_file(name: str) -> Path:
    """Per-image predictions of one evaluated set (test, external), kept in git for pairing."""
    return PREDICTIONS_DIR / f"{name}.csv"
