import keras
import numpy as np
import pytest

from genderface.modeling.augment import RandomAugment, augment_batch


def _transforms(rng: np.random.Generator, n: int) -> np.ndarray:
    angle = rng.uniform(-0.7, 0.7, n)
    cos, sin = np.cos(angle), np.sin(angle)
    shift = rng.uniform(-12, 12, (2, n))
    zeros = np.zeros(n)
    rows = [cos * 1.2, -sin * 0.9, shift[0], sin, cos * 0.8, shift[1], zeros, zeros]
    return np.stack(rows, axis=1).astype(np.float32)


def test_fused_pass_matches_keras_affine_transform_then_contrast():
    rng = np.random.default_rng(0)
    images = rng.uniform(0, 255, (5, 37, 50, 3)).astype(np.float32)
    transforms = _transforms(rng, 5)
    factors = np.array([1.0, 0.9, 1.1, 0.95, 1.3], np.float32)
    ours = np.asarray(augment_batch(images, transforms, factors))
    moved = np.asarray(
        keras.ops.image.affine_transform(images, transforms, "bilinear", fill_mode="nearest")
    )
    np.testing.assert_allclose(ours[0], moved[0], atol=0.01)
    # RandomContrast's own adjustment (keras/src/.../random_contrast.py), per image and channel
    mean = moved.mean(axis=(1, 2), keepdims=True)
    expected = np.clip((moved - mean) * factors[:, None, None, None] + mean, 0, 255)
    np.testing.assert_allclose(ours, expected, atol=0.02)


def _pixels(batch: int = 6) -> np.ndarray:
    return np.random.default_rng(1).uniform(0, 255, (batch, 24, 24, 3)).astype(np.float32)


def test_flip_only_mirrors_some_images_and_keeps_the_others():
    pixels = _pixels(16)
    out = np.asarray(RandomAugment(flip=True, seed=3)(pixels, training=True))
    mirrored = [np.allclose(o, p[:, ::-1], atol=1e-3) for o, p in zip(out, pixels, strict=True)]
    kept = [np.allclose(o, p, atol=1e-3) for o, p in zip(out, pixels, strict=True)]
    assert all(m != k for m, k in zip(mirrored, kept, strict=True))
    assert 0 < sum(mirrored) < 16


def test_only_in_training_and_seeded():
    pixels = _pixels()
    layer = RandomAugment(True, 0.1, 0.01, 0.2, 0.2, 0.1, seed=7)
    np.testing.assert_array_equal(np.asarray(layer(pixels, training=False)), pixels)
    first = np.asarray(layer(pixels, training=True))
    assert not np.allclose(first, pixels)
    again = RandomAugment(True, 0.1, 0.01, 0.2, 0.2, 0.1, seed=7)(pixels, training=True)
    np.testing.assert_array_equal(first, np.asarray(again))
    drawn = RandomAugment(True, 0.1, 0.01, 0.2, 0.2, 0.1, seed=7).draw(6, 24, 24)
    np.testing.assert_array_equal(first, np.asarray(augment_batch(pixels, *drawn)))


def test_borders_repeat_the_edge_instead_of_turning_black():
    # Large rotations, shifts and zoom-outs pull most border pixels from outside the image:
    # nearest-edge fill keeps a uniform image uniform; a constant (zero) fill would darken them.
    pixels = np.full((16, 32, 32, 3), 200.0, np.float32)
    layer = RandomAugment(True, 0.25, 0.05, 0.5, 0.4, seed=5)
    t = np.asarray(layer.draw(16, 32, 32)[0])[:, :6, None, None]  # what the call below draws
    rows, cols = np.mgrid[0:32, 0:32]
    x, y = t[:, 0] * cols + t[:, 1] * rows + t[:, 2], t[:, 3] * cols + t[:, 4] * rows + t[:, 5]
    outside = (x < 0) | (x > 31) | (y < 0) | (y > 31)
    assert outside[:, [0, -1]].mean() > 0.3 and outside[:, :, [0, -1]].mean() > 0.3
    out = np.asarray(RandomAugment(True, 0.25, 0.05, 0.5, 0.4, seed=5)(pixels, training=True))
    borders = np.concatenate([out[:, 0], out[:, -1], out[:, :, 0], out[:, :, -1]], axis=1)
    np.testing.assert_allclose(borders, 200.0, atol=1e-3)


@pytest.mark.parametrize("zoom", [0.0, 0.3])
def test_a_centred_dot_stays_centred_under_rotation_and_zoom(zoom):
    pixels = np.zeros((8, 31, 31, 1), np.float32)
    pixels[:, 15, 15] = 255
    out = np.asarray(RandomAugment(False, 0.25, 0.0, zoom, 0.0, seed=2)(pixels, training=True))
    assert (out[:, 15, 15, 0] > 100).all()


def test_survives_save_and_load(tmp_path):
    inputs = keras.Input((24, 24, 3))
    model = keras.Model(inputs, RandomAugment(True, 0.1, 0.02, 0.2, 0.1, 0.3, seed=4)(inputs))
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras")
    layer = loaded.layers[-1]
    assert isinstance(layer, RandomAugment)
    config = layer.get_config()
    assert {k: config[k] for k in ("flip", "rotation", "shear", "zoom", "translation")} == {
        "flip": True,
        "rotation": 0.1,
        "shear": 0.02,
        "zoom": 0.2,
        "translation": 0.1,
    }
    assert (config["contrast"], config["seed"]) == (0.3, 4)
