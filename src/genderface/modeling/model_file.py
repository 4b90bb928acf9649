"""The trained model as a file: models/model.keras and its sidecar models/model.json, saved so
that the same weights give the same bytes, loaded for inference in float32.

Keras' `.keras` file is a zip archive. `model.save` puts the optimizer's state in it, stamps
metadata.json with the save time ("date_saved") and dates the weights entry with the clock, and
config.json names objects shared between layers by their Python id() ("shared_object_id"), a
memory address that differs from process to process. Here the model is saved as a
never-compiled copy and the archive is rewritten with fixed entry dates, without "date_saved",
and with shared objects numbered in order of appearance.

Training may run under a mixed precision policy; the saved model computes in float32, so it
loads and predicts the same on any machine, with or without bfloat16 hardware, and evaluate,
predict and the validation threshold all score that one model.
"""

import json
import shutil
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

import keras

from genderface.errors import GenderfaceError
from genderface.fsutil import atomic_path
from genderface.modeling.model import CUSTOM_LAYERS
from genderface.modeling.model_info import ModelInfo

# The zip format's earliest date, the one Keras already gives its metadata and config entries.
ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)
_METADATA = "metadata.json"
_CONFIG = "config.json"
_SHARED = "shared_object_id"


def inference_copy(model: keras.Model) -> keras.Model:
    """The same layers (and so the same weights) in a new Functional model that was never
    compiled: saving it writes no optimizer state and no compile config."""
    return keras.Model(model.inputs, model.outputs, name=model.name)


def _without_save_time(metadata: bytes) -> bytes:
    fields = json.loads(metadata)
    fields.pop("date_saved", None)
    return json.dumps(fields).encode()


def _numbered_shared_objects(config: bytes) -> bytes:
    """config.json with each shared object's id() replaced by its order of first appearance;
    loading only matches equal ids, so the model loads the same."""
    numbers: dict[int, int] = {}

    def walk(node: object) -> object:
        if isinstance(node, list):
            return [walk(item) for item in node]
        if not isinstance(node, dict):
            return node
        return {
            key: numbers.setdefault(value, len(numbers)) if key == _SHARED else walk(value)
            for key, value in node.items()
        }

    return json.dumps(walk(json.loads(config))).encode()


_CANONICAL = {_METADATA: _without_save_time, _CONFIG: _numbered_shared_objects}


def _rewrite(source: Path, target: Path) -> None:
    """Copy a .keras archive entry by entry: fixed dates and modes, canonical JSON entries."""
    with zipfile.ZipFile(source) as archive, zipfile.ZipFile(target, "w") as out:
        for entry in archive.infolist():
            info = zipfile.ZipInfo(entry.filename, date_time=ZIP_EPOCH)
            info.compress_type = entry.compress_type
            info.external_attr = 0o644 << 16
            if entry.filename in _CANONICAL:
                out.writestr(info, _CANONICAL[entry.filename](archive.read(entry)))
                continue
            info.file_size = entry.file_size  # lets zipfile choose ZIP64 up front if needed
            with archive.open(entry) as reader, out.open(info, "w") as writer:
                shutil.copyfileobj(reader, writer, 1 << 20)


def save_for_inference(model: keras.Model, path: Path) -> None:
    """Write `path` (a .keras file): the model's architecture and weights, reproducibly.

    The caller makes it atomic (fsutil.atomic_path); Keras' own archive is a scratch file.
    """
    with tempfile.TemporaryDirectory(prefix="genderface-save-") as scratch:
        raw = Path(scratch) / "model.keras"
        inference_copy(model).save(raw)
        _rewrite(raw, path)


HALF_DTYPES = frozenset({"float16", "bfloat16", "mixed_float16", "mixed_bfloat16"})


def _float32_config(node: object) -> object:
    """A Keras config with every half or mixed dtype (layers' policies, inputs) set to float32."""
    if isinstance(node, list):
        return [_float32_config(item) for item in node]
    if not isinstance(node, dict):
        return node
    if node.get("class_name") == "DTypePolicy" and node["config"]["name"] in HALF_DTYPES:
        return "float32"
    return {
        key: "float32"
        if key == "dtype" and isinstance(value, str) and value in HALF_DTYPES
        else _float32_config(value)
        for key, value in node.items()
    }


def float32_model(model: keras.Model) -> keras.Model:
    """The same model and weights computing in float32 (the model itself if it already does).
    The variables are float32 under every policy, so no weight is rounded."""
    config = keras.saving.serialize_keras_object(model)
    float32 = _float32_config(config)
    if float32 == config:
        return model
    copy = keras.saving.deserialize_keras_object(float32)
    copy.set_weights(model.get_weights())
    return copy


@dataclass(frozen=True)
class Classifier:
    """A trained model and its sidecar: what evaluate scores and predict uses."""

    model: keras.Model
    info: ModelInfo

    @property
    def classes(self) -> list[str]:
        return self.info.classes

    @property
    def threshold(self) -> float:
        return self.info.threshold

    @property
    def image_size(self) -> int:
        return int(self.model.input_shape[1])


def save_classifier(classifier: Classifier, model_path: Path) -> None:
    """Write model.keras (inference only, reproducible bytes) and model.json, each atomically."""
    with atomic_path(model_path, suffix=".keras") as tmp:
        save_for_inference(classifier.model, tmp)
    classifier.info.write(model_path)


def load_classifier(model_path: Path) -> Classifier:
    """Load model.keras and its sidecar, or say in one line which file is missing or broken."""
    info = ModelInfo.read(model_path)
    try:
        model = keras.saving.load_model(model_path, compile=False, custom_objects=CUSTOM_LAYERS)
    except Exception as err:  # a damaged or foreign file fails anywhere in Keras' loader
        raise GenderfaceError(
            f"{model_path}: cannot load the model ({type(err).__name__}); rebuild it with dvc repro"
        ) from err
    return Classifier(model, info)
