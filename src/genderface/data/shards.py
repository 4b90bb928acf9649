"""The shard record format, writer and reader in one place: one tf.train.Example per image with
its pixels (raw uint8, size x size x 3), label index, path under data/raw and content hash, plus
meta.json beside the shards (image size, class names, per-split counts, skipped files, the framing
and the images with no face found, kept whole, per split and class).
"""

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import tensorflow as tf

from genderface.data.framing import UNRECORDED, Framing
from genderface.errors import GenderfaceError
from genderface.layout import SHARD_META, shard_files

_SPEC = {
    "image": tf.io.FixedLenFeature([], tf.string),
    "label": tf.io.FixedLenFeature([], tf.int64),
    "path": tf.io.FixedLenFeature([], tf.string),
    "sha256": tf.io.FixedLenFeature([], tf.string),
}


@dataclass(frozen=True)
class ShardInfo:
    """What preprocess wrote: image size, class names (index = label), per-split class counts,
    the framing, and per split and class the images with no face found (stored whole)."""

    image_size: int
    classes: list[str]
    counts: dict[str, dict[str, int]]
    framing: Framing = UNRECORDED
    no_face: dict[str, dict[str, int]] = field(default_factory=dict)

    @classmethod
    def read(cls, shards_dir: Path) -> "ShardInfo":
        try:
            meta = json.loads((shards_dir / SHARD_META).read_text())
        except FileNotFoundError:
            raise GenderfaceError(
                f"{shards_dir / SHARD_META}: not found; run `dvc repro preprocess` first"
            ) from None
        framing = Framing.from_dict(meta.get("framing"))
        return cls(
            meta["image_size"], meta["classes"], meta["counts"], framing, meta.get("no_face", {})
        )

    def size(self, split: str) -> int:
        return sum(self.counts[split].values())


@dataclass(frozen=True)
class StoredImage:
    """One stored image, as read back for the evaluate stage's outputs."""

    path: str
    sha256: str
    label: int
    pixels: np.ndarray


def encode(pixels: np.ndarray, label: int, path: str, sha256: str) -> bytes:
    def _bytes(value: bytes) -> tf.train.Feature:
        return tf.train.Feature(bytes_list=tf.train.BytesList(value=[value]))

    feature = {
        "image": _bytes(pixels.tobytes()),
        "label": tf.train.Feature(int64_list=tf.train.Int64List(value=[label])),
        "path": _bytes(path.encode()),
        "sha256": _bytes(sha256.encode()),
    }
    example = tf.train.Example(features=tf.train.Features(feature=feature))
    # Protobuf writes map entries in a per-process order unless asked not to: without this the
    # same images give different shard bytes on every run, and DVC retrains for nothing.
    return example.SerializeToString(deterministic=True)


def parse(record: tf.Tensor, image_size: int) -> tuple[tf.Tensor, tf.Tensor]:
    """(pixels uint8 (size, size, 3), label float32) of one serialized record, inside tf.data."""
    example = tf.io.parse_single_example(record, _SPEC)
    pixels = tf.io.decode_raw(example["image"], tf.uint8)
    return tf.reshape(pixels, (image_size, image_size, 3)), tf.cast(example["label"], tf.float32)


def records(shards_dir: Path, split: str, info: ShardInfo) -> Iterator[StoredImage]:
    """Every record of a split in load order (the order input_pipeline.load_split yields)."""
    shape = (info.image_size, info.image_size, 3)
    files = [str(p) for p in shard_files(shards_dir, split)]
    for raw in tf.data.TFRecordDataset(files).as_numpy_iterator():
        feature = tf.train.Example.FromString(raw).features.feature
        yield StoredImage(
            path=feature["path"].bytes_list.value[0].decode(),
            sha256=feature["sha256"].bytes_list.value[0].decode(),
            label=int(feature["label"].int64_list.value[0]),
            pixels=np.frombuffer(feature["image"].bytes_list.value[0], np.uint8).reshape(shape),
        )
