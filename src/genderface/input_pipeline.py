"""tf.data input pipeline over the preprocessed TFRecord shards."""

import json
from dataclasses import dataclass
from pathlib import Path

import tensorflow as tf

from genderface.errors import GenderfaceError
from genderface.layout import SHARD_META

AUTOTUNE = tf.data.AUTOTUNE


@dataclass(frozen=True)
class ShardInfo:
    """What preprocess wrote: image size, class names (index = label) and per-split class counts."""

    image_size: int
    classes: list[str]
    counts: dict[str, dict[str, int]]

    @classmethod
    def read(cls, shards_dir: Path) -> "ShardInfo":
        try:
            meta = json.loads((shards_dir / SHARD_META).read_text())
        except FileNotFoundError:
            raise GenderfaceError(
                f"{shards_dir / SHARD_META}: not found; run `dvc repro preprocess` first"
            ) from None
        return cls(meta["image_size"], meta["classes"], meta["counts"])

    def size(self, split: str) -> int:
        return sum(self.counts[split].values())


def shard_files(shards_dir: Path, split: str) -> list[str]:
    """The split's shard files, in the order its records are read (record indices rely on it)."""
    return sorted(str(p) for p in shards_dir.glob(f"{split}-*.tfrecord"))


def load_split(shards_dir: Path, split: str, info: ShardInfo) -> tf.data.Dataset:
    """Stream (image uint8 of shape (size, size, 3), label float32) for one split.

    The dataset knows its length (from meta.json), so Keras shows real progress and epoch ends.
    """
    size = info.image_size
    files = shard_files(shards_dir, split)
    spec = {
        "image": tf.io.FixedLenFeature([], tf.string),
        "label": tf.io.FixedLenFeature([], tf.int64),
    }

    def parse(record: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        example = tf.io.parse_single_example(record, spec)
        pixels = tf.io.decode_raw(example["image"], tf.uint8)
        return tf.reshape(pixels, (size, size, 3)), tf.cast(example["label"], tf.float32)

    dataset = tf.data.TFRecordDataset(files).map(parse, num_parallel_calls=AUTOTUNE)
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
