"""models/model.keras as an inference artifact whose bytes depend on the model alone.

Keras' `.keras` file is a zip archive. `model.save` puts the optimizer's state in it (for VGG16
fine-tuned with Adam, nearly twice the weights again), stamps metadata.json with the save time
("date_saved"), and dates the weights entry with the clock. So the same weights gave a new md5
on every save, and DVC, git and every push, pull and predict start-up paid for the optimizer.
config.json also names objects shared between layers by their Python id() ("shared_object_id"),
a memory address that differs from process to process. Here the model is saved as a
never-compiled copy and the archive is rewritten with fixed entry dates, without "date_saved",
and with shared objects numbered in order of appearance: the same weights give the same bytes.
"""

import json
import shutil
import tempfile
import zipfile
from pathlib import Path

import keras

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
    with tempfile.TemporaryDirectory(dir=path.parent, prefix=".keras-save-") as scratch:
        raw = Path(scratch) / "model.keras"
        inference_copy(model).save(raw)
        _rewrite(raw, path)
