"""Random geometric augmentation as ONE affine resampling per image, inside the Keras model.

Keras' RandomFlip, RandomRotation, RandomZoom, RandomTranslation and RandomShear each resample
the whole batch: four to five bilinear passes, each blurring the image a little more and each
costing about as much as decoding it (measured ~500 img/s for the stack at 150 px on 2 cores).
ImageDataGenerator, the original project's augmenter, composes one matrix per image instead.
This layer does the same with keras.ops: flip, shear, zoom, rotation and translation are folded
into a single transform and applied by one keras.ops.image.affine_transform call.
"""

import math

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="genderface")
class RandomAffine(keras.layers.Layer):
    """Per image: optional horizontal flip, then shear, zoom, rotation and shift, one resampling.

    rotation and shear are maximum angles as fractions of a full turn (Keras' convention for
    RandomRotation); zoom z scales by a factor drawn from [1 - z, 1 + z] (same on both axes);
    translation t shifts by up to t of the width and of the height. Pixels pulled from outside
    the image repeat the nearest edge, as ImageDataGenerator's default fill does. Inactive
    outside training.
    """

    def __init__(
        self,
        flip: bool = False,
        rotation: float = 0.0,
        shear: float = 0.0,
        zoom: float = 0.0,
        translation: float = 0.0,
        seed: int | None = None,
        **kwargs: object,
    ) -> None:
        super().__init__(**kwargs)
        self.flip, self.rotation, self.shear = flip, rotation, shear
        self.zoom, self.translation, self.seed = zoom, translation, seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def _uniform(self, batch: int, limit: float) -> keras.KerasTensor:
        return keras.random.uniform((batch,), minval=-limit, maxval=limit, seed=self.seed_generator)

    def call(self, images: keras.KerasTensor, training: bool | None = None) -> keras.KerasTensor:
        if not training:
            return images
        shape = ops.shape(images)
        batch = shape[0]
        height, width = ops.cast(shape[1], "float32"), ops.cast(shape[2], "float32")
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
        transform = ops.stack(
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
        return ops.image.affine_transform(
            images, transform, interpolation="bilinear", fill_mode="nearest"
        )

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
            "seed": self.seed,
        }
