"""tf.data input pipeline over the preprocessed TFRecord shards."""

from dataclasses import dataclass
from pathlib import Path

import tensorflow as tf

from genderface import shards
from genderface.layout import shard_files
from genderface.shards import ShardInfo

AUTOTUNE = tf.data.AUTOTUNE


def load_split(shards_dir: Path, split: str, info: ShardInfo) -> tf.data.Dataset:
    """Stream (image uint8 of shape (size, size, 3), label float32) for one split, in file order.

    The dataset knows its length (from meta.json), so Keras shows real progress and epoch ends.
    """
    files = [str(p) for p in shard_files(shards_dir, split)]
    dataset = tf.data.TFRecordDataset(files).map(
        lambda record: shards.parse(record, info.image_size), num_parallel_calls=AUTOTUNE
    )
    return dataset.apply(tf.data.experimental.assert_cardinality(info.size(split)))


def batched(
    dataset: tf.data.Dataset, batch_size: int, shuffle_seed: int | None = None
) -> tf.data.Dataset:
    """Optionally reshuffle the whole split each epoch (seeded), then batch and prefetch.

    The shuffle buffer holds the whole split: shards are written in content-hash order, and a
    smaller buffer would still hand out long runs of one class. Batches are float32 pixels in
    [0, 255]; scaling is the model's job, as in predict.
    """
    if shuffle_seed is not None:
        dataset = dataset.shuffle(
            dataset.cardinality(), seed=shuffle_seed, reshuffle_each_iteration=True
        )
    dataset = dataset.batch(batch_size).map(
        lambda images, labels: (tf.cast(images, tf.float32), labels), num_parallel_calls=AUTOTUNE
    )
    return dataset.prefetch(AUTOTUNE)


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
