"""Inference: the one place a model is run to score images, for every caller.

Threshold selection and the bottleneck features (training), test and external scores (evaluate)
and `genderface predict` all hand batches of decoded pixels to `outputs`, so an image gets the
same probability however it arrives. Files are decoded by images.py (or faces.py, for a face
crop), the path preprocess uses too.
"""

import itertools
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf
from tqdm import tqdm

from genderface.images import ImageError, load_rgb
from genderface.model import Classifier

# Decodes one file to (size, size, 3) uint8 pixels plus a note on what was classified: None for
# the whole image, or the face finder's verdict (faces.load_face).
Loader = Callable[[Path, int], tuple[np.ndarray, str | None]]


@dataclass(frozen=True)
class Scored:
    """A decoded file and the model's probability of class 1."""

    path: str
    probability: float
    face: str | None


@dataclass(frozen=True)
class Failure:
    path: str
    reason: str


def outputs(model: keras.Model, batches: Iterable[np.ndarray | tf.Tensor]) -> Iterator[np.ndarray]:
    """The model's output for each batch of float32 pixels in [0, 255], in inference mode.

    A direct call under tf.function, not predict(): under a distribution strategy (training's
    threshold and bottleneck passes) Keras' predict_on_batch hands the whole batch to every
    replica and returns the copies concatenated.
    """
    forward = tf.function(lambda images: model(images, training=False), reduce_retracing=True)
    for images in batches:
        yield forward(tf.convert_to_tensor(images, tf.float32)).numpy()


def labelled_outputs(
    model: keras.Model, batches: tf.data.Dataset, desc: str
) -> tuple[np.ndarray, np.ndarray]:
    """(labels as int, outputs) over a dataset of (images, labels) batches, in order."""
    labels: list[np.ndarray] = []

    def images() -> Iterator[tf.Tensor]:
        with tqdm(batches, desc=desc, unit="batch", mininterval=1.0) as progress:
            for batch_images, batch_labels in progress:
                labels.append(batch_labels.numpy().astype(int))
                yield batch_images

    results = np.concatenate(list(outputs(model, images())))
    return np.concatenate(labels), results


def whole_image(path: Path, size: int) -> tuple[np.ndarray, None]:
    return load_rgb(path, size), None


@dataclass(frozen=True)
class _Chunk:
    """One batch worth of files: each decoded (path, face note) or a Failure, and the pixels."""

    results: list[tuple[Path, str | None] | Failure]
    pixels: np.ndarray


def _decode(paths: list[Path], loader: Loader, size: int) -> _Chunk:
    results: list[tuple[Path, str | None] | Failure] = []
    pixels = []
    for path in paths:
        try:
            image, face = loader(path, size)
        except ImageError as err:
            results.append(Failure(str(path), str(err)))
            continue
        results.append((path, face))
        pixels.append(image)
    stacked = np.stack(pixels) if pixels else np.zeros((0, size, size, 3), np.uint8)
    return _Chunk(results, stacked.astype(np.float32))


def score_files(
    classifier: Classifier, paths: list[Path], batch_size: int = 32, loader: Loader = whole_image
) -> Iterator[Scored | Failure]:
    """One result per path, in order, a batch at a time; an unreadable file becomes a Failure,
    not an exception, so one bad file never stops the rest.
    """
    size = classifier.image_size
    chunks = (
        _decode(paths[start : start + batch_size], loader, size)
        for start in range(0, len(paths), batch_size)
    )
    for_results, for_model = itertools.tee(chunks)
    batches = outputs(classifier.model, (c.pixels for c in for_model if len(c.pixels)))
    for chunk in for_results:
        scores = iter(next(batches).reshape(-1).tolist() if len(chunk.pixels) else [])
        for result in chunk.results:
            if isinstance(result, Failure):
                yield result
            else:
                path, face = result
                yield Scored(str(path), next(scores), face)
