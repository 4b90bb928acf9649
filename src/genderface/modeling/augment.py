"""Random augmentation as ONE affine resampling plus contrast per image, inside the Keras model.

Keras' RandomFlip, RandomRotation, RandomZoom, RandomTranslation and RandomShear each resample
the whole batch, one bilinear pass per transform, each blurring the image a little more. This
layer composes one matrix per image instead: flip, shear, zoom, rotation and translation are
folded into a single transform, and the resampling and RandomContrast's adjustment run as one
XLA-compiled function (coordinates, four gathers, the bilinear blend and the contrast fused into
one loop). The resampling matches keras.ops.image.affine_transform (bilinear, nearest-edge fill)
and the contrast matches keras.layers.RandomContrast (tests/test_augment.py compares them).

Why not those two in keras.ops, which would run on any Keras backend: on TensorFlow,
affine_transform is the ImageProjectiveTransformV3 kernel, which XLA cannot compile (fit with
train.xla on fails on it), and without XLA it is slower (benchmarks/augment.py times both;
docs/performance.md quotes a run). The price: training with this layer needs the TensorFlow
backend (outside training it returns its input and runs no TensorFlow op).
"""

import math

import keras
import tensorflow as tf
from keras import ops


@keras.saving.register_keras_serializable(package="genderface")
class RandomAugment(keras.layers.Layer):
    """Per image: optional horizontal flip, shear, zoom, rotation and shift, then contrast.

    rotation and shear are maximum angles as fractions of a full turn (Keras' convention for
    RandomRotation); zoom z scales by a factor drawn from [1 - z, 1 + z] (same on both axes);
    translation t shifts by up to t of the width and of the height. Pixels pulled from outside
    the image repeat the nearest edge, as ImageDataGenerator's default fill does. contrast c
    scales each image's deviation from its per-channel mean by a factor from [1 - c, 1 + c] and
    clips to [0, 255], as RandomContrast does. Inactive outside training.
    """

    def __init__(
        self,
        flip: bool = False,
        rotation: float = 0.0,
        shear: float = 0.0,
        zoom: float = 0.0,
        translation: float = 0.0,
        contrast: float = 0.0,
        seed: int | None = None,
        **kwargs: object,
    ) -> None:
        super().__init__(**kwargs)
        self.flip, self.rotation, self.shear = flip, rotation, shear
        self.zoom, self.translation, self.contrast = zoom, translation, contrast
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def _uniform(self, batch: int, limit: float) -> keras.KerasTensor:
        return keras.random.uniform((batch,), minval=-limit, maxval=limit, seed=self.seed_generator)

    def call(self, images: keras.KerasTensor, training: bool | None = None) -> keras.KerasTensor:
        if not training:
            return images
        shape = ops.shape(images)
        return augment_batch(images, *self.draw(shape[0], shape[1], shape[2]))

    def draw(
        self, batch: int, height: int, width: int
    ) -> tuple[keras.KerasTensor, keras.KerasTensor]:
        """The next random (transforms, contrast factors) for a batch of height x width images:
        what call applies, drawn separately so benchmarks/augment.py can feed other samplers."""
        height, width = ops.cast(height, "float32"), ops.cast(width, "float32")
        flip = (
            ops.where(keras.random.uniform((batch,), seed=self.seed_generator) < 0.5, -1.0, 1.0)
            if self.flip
            else ops.ones((batch,))
        )
        angle = self._uniform(batch, self.rotation * 2 * math.pi)
        shear = self._uniform(batch, self.shear * 2 * math.pi)
        scale = 1.0 + self._uniform(batch, self.zoom)
        shift_x = self._uniform(batch, self.translation) * width
        shift_y = self._uniform(batch, self.translation) * height
        # Output pixel p maps to input pixel c + R(angle) @ Shear @ scale @ Flip @ (p - c) + shift.
        cos, sin = ops.cos(angle), ops.sin(angle)
        shear_x, shear_y = -ops.sin(shear), ops.cos(shear)
        m00 = scale * flip * cos
        m01 = scale * (cos * shear_x - sin * shear_y)
        m10 = scale * flip * sin
        m11 = scale * (sin * shear_x + cos * shear_y)
        cx, cy = (width - 1) / 2, (height - 1) / 2
        transforms = ops.stack(
            [
                m00,
                m01,
                cx + shift_x - m00 * cx - m01 * cy,
                m10,
                m11,
                cy + shift_y - m10 * cx - m11 * cy,
                ops.zeros((batch,)),
                ops.zeros((batch,)),
            ],
            axis=1,
        )
        return transforms, 1.0 + self._uniform(batch, self.contrast)

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        return input_shape

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "flip": self.flip,
            "rotation": self.rotation,
            "shear": self.shear,
            "zoom": self.zoom,
            "translation": self.translation,
            "contrast": self.contrast,
            "seed": self.seed,
        }


@tf.function(jit_compile=True)
def augment_batch(images: tf.Tensor, transforms: tf.Tensor, contrast: tf.Tensor) -> tf.Tensor:
    """affine_transform(images, transforms, "bilinear", fill_mode="nearest"), then contrast.

    transforms holds one [a0, a1, a2, b0, b1, b2, 0, 0] per image: output pixel (x, y) samples
    the input at (a0 x + a1 y + a2, b0 x + b1 y + b2); points outside take the nearest edge.
    contrast holds one factor per image (1 leaves it as it is).
    """
    shape = tf.shape(images)
    batch, height, width, channels = shape[0], shape[1], shape[2], shape[3]
    rows, cols = tf.meshgrid(
        tf.range(height, dtype=tf.float32), tf.range(width, dtype=tf.float32), indexing="ij"
    )
    t = tf.cast(transforms, tf.float32)[:, :, None, None]
    x = t[:, 0] * cols + t[:, 1] * rows + t[:, 2]
    y = t[:, 3] * cols + t[:, 4] * rows + t[:, 5]
    x = tf.clip_by_value(x, 0.0, tf.cast(width - 1, tf.float32))
    y = tf.clip_by_value(y, 0.0, tf.cast(height - 1, tf.float32))
    x0, y0 = tf.floor(x), tf.floor(y)
    fx, fy = (x - x0)[..., None], (y - y0)[..., None]
    x0, y0 = tf.cast(x0, tf.int32), tf.cast(y0, tf.int32)
    x1, y1 = tf.minimum(x0 + 1, width - 1), tf.minimum(y0 + 1, height - 1)
    base = (tf.range(batch) * height * width)[:, None, None]
    pixels = tf.reshape(tf.cast(images, tf.float32), (-1, channels))

    def at(yy: tf.Tensor, xx: tf.Tensor) -> tf.Tensor:
        return tf.gather(pixels, base + yy * width + xx)

    top = at(y0, x0) + (at(y0, x1) - at(y0, x0)) * fx
    bottom = at(y1, x0) + (at(y1, x1) - at(y1, x0)) * fx
    moved = top + (bottom - top) * fy
    mean = tf.reduce_mean(moved, axis=(1, 2), keepdims=True)
    factor = tf.cast(contrast, tf.float32)[:, None, None, None]
    return tf.cast(tf.clip_by_value((moved - mean) * factor + mean, 0.0, 255.0), images.dtype)
