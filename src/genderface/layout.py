"""Where the pipeline's stages hand files to each other: the paths one stage writes and a later
stage (or `genderface predict`) reads. What a stage alone writes lives with that stage's code
(the evaluate stage's outputs: evaluation/outputs.py)."""

from pathlib import Path

RAW_DIR = Path("data/raw")  # one folder per source: data/raw/<name>
CHECKS_DIR = Path("data/validate")  # one table per source: <name>.csv
MANIFEST = Path("data/split/manifest.csv")
SHARDS_DIR = Path("data/shards")
MODEL = Path("models/model.keras")
TFLITE_MODEL = Path("models/model.tflite")  # the export stage's conversion of MODEL; predict's
QUANTIZED_DIR = Path("models/quantized")  # export.quantize's smaller model, with its sidecar
QUANTIZED_README = QUANTIZED_DIR / "README.md"  # what the folder holds, even when nothing else
EXPORT_METRICS = Path("metrics/export.json")
TRAIN_BACKUP = Path("data/train-backup")
SOURCES_METRICS_DIR = Path("metrics/sources")  # what each download was: <name>.json
DATA_METRICS = Path("metrics/data.json")
DATA_REPORT = Path("metrics/data.md")
TRAIN_METRICS_DIR = Path("metrics/train")

FACES = "faces"
SPLITS = ("train", "test", "validation")
SHARD_META = "meta.json"


def checks_file(source: str) -> Path:
    """A source's per-file verdicts, written by validate@<source>."""
    return CHECKS_DIR / f"{source}.csv"


def source_metrics(source: str) -> Path:
    """What download@<source> fetched (origin, version, licence, files)."""
    return SOURCES_METRICS_DIR / f"{source}.json"


def model_meta(model: Path) -> Path:
    """The sidecar of a model file (class names, threshold): models/model.keras (and
    models/model.tflite) -> model.json."""
    return model.with_suffix(".json")


def quantized_model(quantize: str) -> Path:
    """Where export.quantize's model goes: models/quantized/model-<quantize>.tflite."""
    return QUANTIZED_DIR / f"model-{quantize}.tflite"


def shard_name(split: str, index: int, count: int) -> str:
    """<split>-NNNNN-of-MMMMM.tfrecord, TensorFlow's sharded-file convention."""
    return f"{split}-{index:05d}-of-{count:05d}.tfrecord"


def shard_files(shards_dir: Path, split: str) -> list[Path]:
    """A split's shard files in the order its records are read (record indices rely on it)."""
    return sorted(shards_dir.glob(f"{split}-*.tfrecord"))
