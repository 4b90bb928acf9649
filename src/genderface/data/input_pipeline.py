"""tf.data input pipeline over the preprocessed TFRecord shards."""

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import tensorflow as tf

from genderface.data import shards
from genderface.data.shards import ShardInfo
from genderface.layout import shard_files

AUTOTUNE = tf.data.AUTOTUNE

Draw = Callable[[tf.data.Dataset, tf.Tensor], tf.data.Dataset]
"""An epoch's records drawn from the split, given the seed [train.seed, epoch] (sampling.py)."""


def load_split(shards_dir: Path, split: str, info: ShardInfo) -> tf.data.Dataset:
    """Stream (image uint8 of shape (size, size, 3), label float32) for one split, in file order.

    The dataset knows its length (from meta.json), so Keras shows real progress and epoch ends.
    """
    files = [str(p) for p in shard_files(shards_dir, split)]
    dataset = tf.data.TFRecordDataset(files).map(
        lambda record: shards.parse(record, info.image_size), num_parallel_calls=AUTOTUNE
    )
    return dataset.apply(tf.data.experimental.assert_cardinality(info.size(split)))


def _as_float(batches: tf.data.Dataset) -> tf.data.Dataset:
    """Float32 pixels in [0, 255] (scaling is the model's job, as in predict), prefetched."""
    batches = batches.map(
        lambda images, labels: (tf.cast(images, tf.float32), labels), num_parallel_calls=AUTOTUNE
    )
    return batches.prefetch(AUTOTUNE)


def batched(dataset: tf.data.Dataset, batch_size: int) -> tf.data.Dataset:
    """A split in its stored order, batched: one pass for the bottleneck features and the
    validation threshold."""
    return _as_float(dataset.batch(batch_size))


def steps_per_epoch(dataset: tf.data.Dataset, batch_size: int) -> int:
    """Batches in one epoch of a split (the last one may be smaller)."""
    return math.ceil(int(dataset.cardinality()) / batch_size)


def shuffled_epochs(
    dataset: tf.data.Dataset,
    batch_size: int,
    seed: int,
    first: int,
    last: int,
    draw: Draw | None = None,
) -> tf.data.Dataset:
    """Epochs `first`..`last - 1` back to back, each the whole split (or as many records as
    `draw` picks from it) reshuffled by `seed + epoch`.

    An epoch's order depends on its number alone, not on how many epochs this process has
    iterated, so a run resumed at epoch k sees the batches an uninterrupted run saw at k. The
    shuffle buffer holds the whole split: shards are written in content-hash order, and a smaller
    buffer would still hand out long runs of one class. Fit it with steps_per_epoch().
    """
    size = dataset.cardinality()

    def epoch(number: tf.Tensor) -> tf.data.Dataset:
        records = dataset if draw is None else draw(dataset, tf.stack([seed, number]))
        order = records.shuffle(size, seed=seed + number, reshuffle_each_iteration=False)
        return order.batch(batch_size)

    return _as_float(tf.data.Dataset.range(first, last).flat_map(epoch))


@dataclass(frozen=True)
class TrainingData:
    """Train and validation splits, decoded once and cached in memory as uint8."""

    train: tf.data.Dataset
    validation: tf.data.Dataset
    info: ShardInfo

    @classmethod
    def from_shards(cls, shards_dir: Path) -> "TrainingData":
        info = ShardInfo.read(shards_dir)
        return cls(
            train=load_split(shards_dir, "train", info).cache(),
            validation=load_split(shards_dir, "validation", info).cache(),
            info=info,
        )
