import errno
from pathlib import Path

import keras
import numpy as np
import pytest

from genderface.errors import GenderfaceError
from genderface.modeling.model import (
    BASE_NAME,
    build_model,
    feature_extractor,
    head_of,
    prepare_fine_tuning,
    resolve_weights,
)

from .conftest import free_ports


def test_model_shape_frozen_base_and_head(tiny_params):
    model = build_model(32, tiny_params.model, tiny_params.train.augment, seed=1, recipe="transfer")
    assert model.input_shape == (None, 32, 32, 3)
    assert model.output_shape == (None, 1)
    base = model.get_layer(BASE_NAME)
    assert not base.trainable
    assert all(not w.trainable for w in base.weights)
    assert {layer.name for layer in model.layers} == {
        "pixels",
        "augment",
        "vgg16_preprocess",
        BASE_NAME,
        "head",
    }
    assert {layer.name for layer in head_of(model).layers} >= {
        "head_norm",
        "head_dense",
        "head_dropout",
        "probability",
    }
    probabilities = model.predict(np.full((2, 32, 32, 3), 128, np.float32), verbose=0)
    assert probabilities.shape == (2, 1)
    assert ((probabilities > 0) & (probabilities < 1)).all()


def test_preprocessing_is_inside_the_model(tiny_params):
    """VGG16's caffe preprocessing, computed by hand: RGB to BGR, then each channel less its
    ImageNet mean (B 103.939, G 116.779, R 123.68), no scaling."""
    model = build_model(32, tiny_params.model, tiny_params.train.augment, seed=1, recipe="transfer")
    pixels = np.zeros((1, 32, 32, 3), np.float32)
    pixels[0, 0, 0] = (255, 0, 0)  # red
    pixels[0, 0, 1] = (0, 128, 255)
    pixels[0, 5, 7] = (10.5, 20.25, 30.0)
    inside = np.asarray(model.get_layer("vgg16_preprocess")(pixels))
    expected = {
        (0, 0): (0 - 103.939, 0 - 116.779, 255 - 123.68),
        (0, 1): (255 - 103.939, 128 - 116.779, 0 - 123.68),
        (5, 7): (30.0 - 103.939, 20.25 - 116.779, 10.5 - 123.68),
        (31, 31): (-103.939, -116.779, -123.68),
    }
    for (row, column), bgr in expected.items():
        np.testing.assert_allclose(inside[0, row, column], bgr, rtol=0, atol=1e-4)


def test_augmentation_only_in_training(tiny_params):
    model = build_model(32, tiny_params.model, tiny_params.train.augment, seed=1, recipe="transfer")
    augment = model.get_layer("augment")
    pixels = np.random.default_rng(0).uniform(0, 255, (4, 32, 32, 3)).astype(np.float32)
    np.testing.assert_array_equal(np.asarray(augment(pixels, training=False)), pixels)
    assert not np.allclose(np.asarray(augment(pixels, training=True)), pixels)


def test_zero_factors_leave_augmentation_layers_out(tiny_params):
    off = tiny_params.train.augment.model_copy(
        update={"flip": False, "rotation": 0, "zoom": 0, "translation": 0, "contrast": 0}
    )
    model = build_model(32, tiny_params.model, off, seed=1, recipe="transfer")
    assert "augment" not in {layer.name for layer in model.layers}


def test_pooling_flatten(tiny_params):
    flat = tiny_params.model.model_copy(update={"pooling": "flatten"})
    model = build_model(64, flat, tiny_params.train.augment, seed=1, recipe="transfer")
    assert head_of(model).get_layer("head_dense").kernel.shape == (2 * 2 * 512, flat.head_units)


def test_head_on_extracted_features_equals_the_full_model(tiny_params):
    """The bottleneck path (features once, then the head) computes what the full model does."""
    model = build_model(32, tiny_params.model, tiny_params.train.augment, seed=1, recipe="transfer")
    pixels = np.random.default_rng(0).uniform(0, 255, (3, 32, 32, 3)).astype(np.float32)
    features = feature_extractor(model).predict_on_batch(pixels)
    assert features.shape == (3, 1, 1, 512)
    np.testing.assert_allclose(
        head_of(model).predict_on_batch(features), model.predict_on_batch(pixels), rtol=1e-5
    )


@pytest.mark.parametrize(
    ("blocks", "expected"), [(0, set()), (1, {"block5"}), (2, {"block4", "block5"})]
)
def test_prepare_fine_tuning(tiny_params, blocks, expected):
    model = build_model(32, tiny_params.model, tiny_params.train.augment, seed=1, recipe="transfer")
    prepare_fine_tuning(model, blocks)
    base = model.get_layer(BASE_NAME)
    trainable = {layer.name.split("_")[0] for layer in base.layers if layer.trainable_weights}
    assert trainable == expected
    conv_weights = 2 * 3 * blocks  # blocks 4 and 5 hold three conv layers, each kernel + bias
    assert len(model.trainable_weights) == len(head_of(model).trainable_weights) + conv_weights
    assert not head_of(model).get_layer("head_norm").trainable, "BN in inference mode"


def test_mixed_precision_keeps_a_float32_output(tiny_params):
    from genderface.modeling.devices import precision

    with precision("mixed_float16"):
        model = build_model(
            32, tiny_params.model, tiny_params.train.augment, seed=1, recipe="transfer"
        )
    assert keras.config.dtype_policy().name == "float32", "the global policy is restored"
    assert head_of(model).get_layer("head_dense").compute_dtype == "float16"
    assert head_of(model).get_layer("probability").compute_dtype == "float32"
    out = model.predict_on_batch(np.full((1, 32, 32, 3), 100, np.float32))
    assert out.dtype == np.float32


def test_weights_resolution(tmp_path):
    assert resolve_weights("imagenet") == "imagenet"
    assert resolve_weights("none") is None
    weights = tmp_path / "vgg16_notop.h5"
    weights.write_bytes(b"")
    assert resolve_weights(str(weights)) == str(weights)
    with pytest.raises(GenderfaceError, match="expected an existing VGG16 no-top"):
        resolve_weights(str(tmp_path / "missing.h5"))


@pytest.mark.parametrize("legacy", [True, False])
def test_weights_from_an_h5_file(tmp_path, tiny_params, legacy):
    """Both Keras' published legacy no-top .h5 layout and a Keras 3 .weights.h5 file load."""
    import h5py
    from keras.src.legacy.saving import legacy_h5_format

    base = keras.applications.VGG16(include_top=False, weights=None, input_shape=(32, 32, 3))
    if legacy:
        path = tmp_path / "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5"
        with h5py.File(path, "w") as f:
            legacy_h5_format.save_weights_to_hdf5_group(f, base)
    else:
        path = tmp_path / "vgg16_notop.weights.h5"
        base.save_weights(path)
    params = tiny_params.model.model_copy(update={"weights": "file", "weights_file": str(path)})
    model = build_model(32, params, tiny_params.train.augment, seed=5, recipe="transfer")
    loaded = model.get_layer(BASE_NAME).get_weights()
    for got, want in zip(loaded, base.get_weights(), strict=True):
        np.testing.assert_array_equal(got, want)


@pytest.mark.filterwarnings("ignore:Skipping nested container:UserWarning")
def test_weights_file_of_another_model_is_one_clear_error(tmp_path, tiny_params):
    other = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    path = tmp_path / "not_vgg.weights.h5"
    other.save_weights(path)
    params = tiny_params.model.model_copy(update={"weights": "file", "weights_file": str(path)})
    with pytest.raises(GenderfaceError, match="not VGG16 no-top weights"):
        build_model(32, params, tiny_params.train.augment, seed=5, recipe="transfer")


def test_imagenet_download_failure_is_one_clear_error(tiny_params, monkeypatch, tmp_path):
    """Keras' real download code, pointed at a local port nobody listens on (no network used)."""
    (port,) = free_ports(1)
    monkeypatch.setattr(
        "keras.src.applications.vgg16.WEIGHTS_PATH_NO_TOP", f"http://127.0.0.1:{port}/notop.h5"
    )
    monkeypatch.setattr("keras.src.utils.file_utils.config.keras_home", lambda: str(tmp_path))
    params = tiny_params.model.model_copy(update={"weights": "imagenet"})
    with pytest.raises(GenderfaceError, match="cannot download the VGG16 weights"):
        build_model(32, params, tiny_params.train.augment, seed=5, recipe="transfer")


def test_a_full_disk_downloading_the_weights_says_so(tiny_params, monkeypatch, tmp_path):
    """Keras' real download code writing to /dev/full, where the kernel refuses every write with
    ENOSPC: the line names the disk, not the network."""
    monkeypatch.setattr(
        "keras.src.utils.file_utils.urlretrieve",
        lambda url, target, progress: Path("/dev/full").write_bytes(b"weights"),
    )
    monkeypatch.setattr("keras.src.utils.file_utils.config.keras_home", lambda: str(tmp_path))
    params = tiny_params.model.model_copy(update={"weights": "imagenet"})
    with pytest.raises(GenderfaceError) as err:
        build_model(32, params, tiny_params.train.augment, seed=5, recipe="transfer")
    assert str(err.value).startswith(
        "no space left on device writing the VGG16 weights to Keras' cache: free space there"
    )
    assert "KERAS_HOME" in str(err.value) and "network" not in str(err.value)
    assert err.value.__cause__.errno == errno.ENOSPC


def test_an_error_building_vgg16_that_is_no_download_failure_is_not_blamed_on_it(tiny_params):
    """VGG16 refuses inputs under 32 px: that ValueError is shown as it is, not as the network."""
    params = tiny_params.model.model_copy(update={"weights": "none"})
    with pytest.raises(ValueError, match="32"):
        build_model(16, params, tiny_params.train.augment, seed=5, recipe="transfer")
