"""The export stage: models/model.keras converted to models/model.tflite for LiteRT, and checked.

The float32 model (model_file.py loads it so) goes through Keras' LiteRT export (a SavedModel,
then TensorFlow's converter) with TF-Lite's builtin ops only, so the file runs on the plain
ai-edge-litert runtime (no Flex delegate). Nothing is trusted unchecked: both models score the
validation split, and the stage fails before writing anything if the file's probabilities
stray from the Keras model's by more than PARITY_TOLERANCE. Within it, no label changes at the
model's threshold except, possibly, that of an image closer to the threshold than the
tolerance: the threshold is one validation image's probability (decision.choose_threshold), so
a rounding difference in the last bit may put that image on either side; labels_changed counts
every change. export.quantize adds a smaller model (float16 or dynamic range weights), whose
cost is reported, not judged: how often it agrees with the float model and its balanced
accuracy with a bootstrap interval.

The converter is deterministic: the same model gives the same bytes (tests/test_export.py).
"""

import logging
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf
from tqdm import tqdm

from genderface.data.input_pipeline import batched, load_split, steps_per_epoch
from genderface.data.shards import ShardInfo
from genderface.decision import decide
from genderface.errors import GenderfaceError
from genderface.fsutil import atomic_path
from genderface.layout import QUANTIZED_DIR, QUANTIZED_README, quantized_model
from genderface.modeling.forward import forward_pass
from genderface.modeling.litert_model import LiteModel
from genderface.modeling.model_file import load_classifier
from genderface.modeling.model_info import ModelInfo
from genderface.params import ExportParams
from genderface.stats import paired_scores

log = logging.getLogger("export")

# Of a probability: far above float32 rounding (kernels summing in another order), far below
# any change of the model a converter could make.
PARITY_TOLERANCE = 1e-4
BATCH_SIZE = 64
SPLIT = "validation"


def _converter_settings(quantize: str) -> dict:
    """Keras' LiteRT exporter passes these to tf.lite.TFLiteConverter."""
    builtins = [tf.lite.OpsSet.TFLITE_BUILTINS]
    if quantize == "none":
        return {"target_spec": {"supported_ops": builtins}}
    optimizations = {"optimizations": [tf.lite.Optimize.DEFAULT]}
    if quantize == "dynamic":  # int8 weights, float activations
        return {**optimizations, "target_spec": {"supported_ops": builtins}}
    types = [tf.float16]  # float16 weights, computed in float32
    return {**optimizations, "target_spec": {"supported_ops": builtins, "supported_types": types}}


@contextmanager
def _quiet_tensorflow_log() -> Iterator[None]:
    """Keras' SavedModel step logs "Assets written to: /tmp/..." at INFO: a scratch folder."""
    logger = logging.getLogger("tensorflow")
    level = logger.level
    logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        logger.setLevel(level)


def convert(model: keras.Model, quantize: str = "none") -> bytes:
    """The model as a .tflite file's bytes: pixels (any batch size) in, probabilities out."""
    with (
        tempfile.TemporaryDirectory(prefix="genderface-export-") as scratch,
        _quiet_tensorflow_log(),
    ):
        path = Path(scratch) / "model.tflite"
        try:
            model.export(str(path), format="litert", verbose=False, **_converter_settings(quantize))
        except Exception as err:  # the converter fails in TensorFlow's C++ under many types
            reason = str(err).strip().splitlines()[0] if str(err).strip() else ""
            raise GenderfaceError(
                f"cannot convert the model to TF-Lite ({type(err).__name__}: {reason})"
            ) from err
        return path.read_bytes()


@dataclass(frozen=True)
class ValidationOutputs:
    """The validation split's labels, the Keras model's probabilities and each exported file's
    (by export.quantize name: "none" is the float32 file), in the split's stored order."""

    labels: np.ndarray
    keras: np.ndarray
    exported: dict[str, np.ndarray]


def validation_outputs(
    model: keras.Model, files: dict[str, bytes], shards_dir: Path
) -> ValidationOutputs:
    """Every model over the same batches of the validation split."""
    info = ShardInfo.read(shards_dir)
    split = load_split(shards_dir, SPLIT, info)
    batches, steps = batched(split, BATCH_SIZE), steps_per_epoch(split, BATCH_SIZE)
    forward = forward_pass(model)
    runners = {name: LiteModel(content) for name, content in files.items()}
    labels, scores = [], []
    exported: dict[str, list[np.ndarray]] = {name: [] for name in files}
    for images, batch_labels in tqdm(batches, desc="parity", unit="batch", total=steps):
        pixels = images.numpy()
        labels.append(batch_labels.numpy().astype(int))
        scores.append(forward(pixels).reshape(-1))
        for name, runner in runners.items():
            exported[name].append(runner(pixels).reshape(-1))
    return ValidationOutputs(
        np.concatenate(labels),
        np.concatenate(scores),
        {name: np.concatenate(values) for name, values in exported.items()},
    )


@dataclass(frozen=True)
class Parity:
    """How far an exported model's probabilities are from the Keras model's, and how many labels
    change at the threshold."""

    max_abs_difference: float
    labels_changed: int

    def checked(self) -> dict:
        """What metrics/export.json records of the float model's check: the tolerance it passed
        and the labels changed. LiteRT picks its kernels by CPU, so the exact difference (the
        stage's log line) changes from one CPU to another, and the committed file must not."""
        return {
            "max_abs_difference_within": PARITY_TOLERANCE,
            "labels_changed": self.labels_changed,
        }


def parity(reference: np.ndarray, exported: np.ndarray, threshold: float) -> Parity:
    changed = decide(reference, threshold) != decide(exported, threshold)
    difference = np.abs(reference.astype(np.float64) - exported.astype(np.float64))
    return Parity(float(difference.max(initial=0.0)), int(changed.sum()))


def check_float_parity(result: Parity) -> None:
    """The float32 file must give the Keras model's answers: one line saying how it does not."""
    if result.max_abs_difference > PARITY_TOLERANCE:
        raise GenderfaceError(
            f"the TF-Lite model's probabilities differ from the Keras model's by up to "
            f"{result.max_abs_difference:.2g} on the {SPLIT} split (allowed {PARITY_TOLERANCE:g}), "
            f"changing {result.labels_changed} label(s): the converter changed the model; check "
            "the TensorFlow and Keras versions"
        )


@dataclass(frozen=True)
class Quantized:
    """The smaller model: its parity with the Keras model, how often its label is the float
    model's, and its balanced accuracy beside the float model's (95% bootstrap intervals), with
    the paired difference (quantized minus float)."""

    quantize: str
    file: str
    bytes: int
    parity: Parity
    agreement: float
    balanced_accuracy: dict[str, float]
    float_balanced_accuracy: dict[str, float]
    balanced_accuracy_difference: dict[str, float]


def quantized_report(
    outputs: ValidationOutputs, params: ExportParams, threshold: float, size: int
) -> Quantized:
    name = params.quantize
    mine, reference = outputs.exported[name], outputs.keras
    pred_float, pred_mine = decide(reference, threshold), decide(mine, threshold)
    paired = paired_scores(outputs.labels, pred_float, pred_mine, params.bootstrap, params.seed)
    balanced = paired["balanced_accuracy"]
    return Quantized(
        name,
        quantized_model(name).as_posix(),
        size,
        parity(reference, mine, threshold),
        float(np.mean(pred_mine == pred_float)),
        balanced.b.as_dict(),
        balanced.a.as_dict(),
        balanced.difference.as_dict(),
    )


@dataclass(frozen=True)
class ExportReport:
    """metrics/export.json: the checked files and what they were checked on."""

    file: str
    bytes: int
    split: str
    images: int
    threshold: float
    parity: Parity
    quantized: Quantized | None

    def as_dict(self) -> dict:
        fields = asdict(self) | {"parity": self.parity.checked()}
        return fields if self.quantized else {k: v for k, v in fields.items() if k != "quantized"}


def quantized_readme(quantize: str) -> str:
    """What models/quantized holds, said in the folder itself: with export.quantize none it holds
    nothing else, and DVC warns on every run about an empty output folder."""
    if quantize == "none":
        return (
            "No quantized model: export.quantize is none in params.yaml. Set it to float16 or "
            "dynamic and run `dvc repro export` for a smaller model here.\n"
        )
    model = quantized_model(quantize)
    return (
        f"{model.name}: models/model.tflite with {quantize} quantization, and its sidecar "
        f"{model.with_suffix('.json').name}; `genderface predict --model {model.as_posix()}` "
        "runs it. What it costs is in metrics/export.json under `quantized`.\n"
    )


def _write_quantized(content: bytes | None, quantize: str, info: ModelInfo) -> None:
    """models/quantized/: its README and the smaller model with its sidecar (predict --model
    reads it), or the README alone (quantize: none), replaced as a whole."""
    with atomic_path(QUANTIZED_DIR) as tmp:
        tmp.mkdir()
        (tmp / QUANTIZED_README.name).write_text(quantized_readme(quantize))
        if content is not None:
            target = tmp / quantized_model(quantize).name
            target.write_bytes(content)
            info.write(target)


def export_model(
    model_path: Path, shards_dir: Path, target: Path, params: ExportParams
) -> ExportReport:
    """Convert, check on the validation split, then write `target` and models/quantized/."""
    classifier = load_classifier(model_path)
    files = {"none": convert(classifier.model)}
    if params.quantize != "none":
        files[params.quantize] = convert(classifier.model, params.quantize)
    outputs = validation_outputs(classifier.model, files, shards_dir)
    threshold = classifier.threshold
    float_parity = parity(outputs.keras, outputs.exported["none"], threshold)
    check_float_parity(float_parity)
    quantized = None
    if params.quantize != "none":
        quantized = quantized_report(outputs, params, threshold, len(files[params.quantize]))
    with atomic_path(target, suffix=".tflite") as tmp:
        tmp.write_bytes(files["none"])
    content = files[params.quantize] if quantized else None
    _write_quantized(content, params.quantize, classifier.info)
    report = ExportReport(
        target.as_posix(),
        len(files["none"]),
        SPLIT,
        len(outputs.labels),
        threshold,
        float_parity,
        quantized,
    )
    log.info("%s", summary(report))
    return report


def summary(report: ExportReport) -> str:
    """One line per written model: size, and how it compares with the Keras model."""
    lines = [
        f"{report.file} ({report.bytes / 1e6:.1f} MB): probabilities within "
        f"{report.parity.max_abs_difference:.2g} of the Keras model's on {report.images} "
        f"{report.split} images, {report.parity.labels_changed} label(s) changed"
    ]
    if report.quantized:
        q = report.quantized
        lines.append(
            f"{q.file} ({q.bytes / 1e6:.1f} MB): agrees with the float model on "
            f"{q.agreement:.1%}, balanced accuracy {q.balanced_accuracy['estimate']:.3f} "
            f"against {q.float_balanced_accuracy['estimate']:.3f}"
        )
    return "\n".join(lines)
