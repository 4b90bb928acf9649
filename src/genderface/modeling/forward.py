"""The forward pass: the one place a Keras model is run for inference, for every caller.

Training's bottleneck features and validation threshold, the evaluate stage's test and external
scores, and `genderface predict` all hand batches of pixels to `forward_pass`, so an image gets
the same probability however it arrives.
"""

from collections.abc import Callable, Iterator

import keras
import numpy as np
import tensorflow as tf
from tqdm import tqdm


def forward_pass(model: keras.Model) -> Callable[[np.ndarray], np.ndarray]:
    """The model in inference mode as a function of a batch of float32 pixels in [0, 255],
    (n, size, size, 3), to its outputs; traced once per batch shape.

    A direct call under tf.function, not predict(): under a distribution strategy (training's
    threshold and bottleneck passes) Keras' predict_on_batch hands the whole batch to every
    replica and returns the copies concatenated.
    """
    traced = tf.function(lambda images: model(images, training=False), reduce_retracing=True)
    return lambda images: traced(tf.convert_to_tensor(images, tf.float32)).numpy()


def labelled_outputs(
    model: keras.Model, batches: tf.data.Dataset, desc: str
) -> tuple[np.ndarray, np.ndarray]:
    """(labels as int, outputs) over a dataset of (images, labels) batches, in order."""
    forward = forward_pass(model)
    labels: list[np.ndarray] = []
    results: list[np.ndarray] = []
    with tqdm(batches, desc=desc, unit="batch", mininterval=1.0) as progress:
        for images, batch_labels in progress:
            labels.append(batch_labels.numpy().astype(int))
            results.append(forward(images))
    return np.concatenate(labels), np.concatenate(results)


def outputs(
    forward: Callable[[np.ndarray], np.ndarray], batches: Iterator[np.ndarray]
) -> np.ndarray:
    """The forward pass over every batch, concatenated and flattened to one value per image."""
    return np.concatenate([forward(images).reshape(-1) for images in batches])
