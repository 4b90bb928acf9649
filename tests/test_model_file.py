"""models/model.keras: an inference artifact whose bytes depend on the weights alone."""

import hashlib
import json
import time
import zipfile

import keras
import numpy as np

from genderface.modeling.devices import precision
from genderface.modeling.model import build_model, prepare_fine_tuning
from genderface.modeling.model_file import ZIP_EPOCH, float32_model, save_for_inference

from .test_devices import _compute_dtypes


def test_same_weights_same_bytes_without_optimizer_or_save_time(tmp_path, tiny_params):
    model = build_model(32, tiny_params.model, tiny_params.train.augment, seed=1, recipe="transfer")
    prepare_fine_tuning(model, 2)
    model.compile(optimizer="adam", loss="binary_crossentropy")
    pixels = np.random.default_rng(0).uniform(0, 255, (4, 32, 32, 3)).astype(np.float32)
    model.fit(pixels, np.array([0, 1, 0, 1], np.float32), verbose=0)  # Adam now holds state
    first, second = tmp_path / "first.keras", tmp_path / "second.keras"
    save_for_inference(model, first)
    time.sleep(2.1)  # zip dates have 2 s resolution, "date_saved" 1 s: a later save, a later time
    save_for_inference(model, second)
    assert hashlib.md5(first.read_bytes()).digest() == hashlib.md5(second.read_bytes()).digest()
    weights = sum(np.asarray(w).nbytes for w in model.weights)
    assert abs(first.stat().st_size - weights) < 0.05 * weights, "no optimizer state inside"
    with zipfile.ZipFile(first) as archive:
        assert {entry.date_time for entry in archive.infolist()} == {ZIP_EPOCH}
        assert json.loads(archive.read("metadata.json")) == {"keras_version": keras.__version__}
        config = archive.read("config.json")
        assert not json.loads(config).get("compile_config")
        assert b'"shared_object_id": 0' in config, "numbered, not id()s that vary by process"
    loaded = keras.saving.load_model(first)  # compile=True: nothing to compile
    assert not hasattr(loaded, "optimizer") or loaded.optimizer is None
    np.testing.assert_array_equal(
        loaded.predict(pixels, verbose=0), model.predict(pixels, verbose=0)
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["first.keras", "second.keras"]


def test_float32_model_keeps_the_weights_and_computes_in_float32(tiny_params):
    with precision("mixed_bfloat16"):
        mixed = build_model(
            32, tiny_params.model, tiny_params.train.augment, seed=1, recipe="transfer"
        )
    copy = float32_model(mixed)
    assert set(_compute_dtypes(copy).values()) == {"float32"}
    assert _compute_dtypes(mixed)["block5_conv3"] == "bfloat16"
    for ours, theirs in zip(copy.get_weights(), mixed.get_weights(), strict=True):
        np.testing.assert_array_equal(ours, theirs)
    pixels = np.random.default_rng(0).uniform(0, 255, (4, 32, 32, 3)).astype(np.float32)
    np.testing.assert_allclose(copy(pixels), mixed(pixels), atol=0.02)
    assert float32_model(copy) is copy, "a float32 model is returned as it is"
