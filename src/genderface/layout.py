"""Where the pipeline's files live and what they are called (the paths dvc.yaml names)."""

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
MODEL_CARD = Path("models/MODEL_CARD.md")

FACES = "faces"
SPLITS = ("train", "test", "validation")
SHARD_META = "meta.json"
