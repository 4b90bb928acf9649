"""Preprocess: decode every image once, resize, and write a few sharded TFRecord files per split.

A few large files (rather than 27k small ones) are what DVC hashes, stores and pushes fast, and what
tf.data streams without re-decoding JPEG/PNG every epoch.
"""

import logging
import math
import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
import tensorflow as tf
from tqdm import tqdm

from genderface.fsutil import atomic_path, write_json
from genderface.images import ImageError, load_rgb
from genderface.layout import SHARD_META, SPLITS

log = logging.getLogger("preprocess")


def decode_all(paths: list[Path], image_size: int) -> Iterator[np.ndarray | ImageError]:
    """Decode images on every core, in order: the pixels, or the error for an unreadable file.

    Decoding is images.load_rgb, the one path predict uses too (by content, EXIF-aware). Pillow
    releases the GIL while decoding and resizing, so plain threads scale; a tf.data map of
    tf.numpy_function ran slower than one thread here (its per-element overhead dominates).
    """

    def decode(path: Path) -> np.ndarray | ImageError:
        try:
            return load_rgb(path, image_size)
        except ImageError as err:
            return err

    with ThreadPoolExecutor(max_workers=os.cpu_count()) as pool:
        yield from pool.map(decode, paths)


def _example(pixels: bytes, label: int, path: str) -> bytes:
    feature = {
        "image": tf.train.Feature(bytes_list=tf.train.BytesList(value=[pixels])),
        "label": tf.train.Feature(int64_list=tf.train.Int64List(value=[label])),
        "path": tf.train.Feature(bytes_list=tf.train.BytesList(value=[path.encode()])),
    }
    example = tf.train.Example(features=tf.train.Features(feature=feature))
    # Protobuf writes map entries in a per-process order unless asked not to: without this the
    # same images give different shard bytes on every run, and DVC retrains for nothing.
    return example.SerializeToString(deterministic=True)


def write_shards(
    manifest: pd.DataFrame, raw_dir: Path, out_dir: Path, image_size: int, images_per_shard: int
) -> dict:
    """Write <split>-NNNNN-of-MMMMM.tfrecord files and meta.json into out_dir, atomically.

    Records go in content-hash order, which mixes the classes in every shard (path order would
    put every man before every woman). Images that cannot be decoded are skipped and listed in
    meta.json under "skipped".
    """
    classes = sorted(manifest["label"].unique())
    meta: dict = {"image_size": image_size, "classes": classes, "counts": {}, "skipped": []}
    with atomic_path(out_dir) as tmp:
        tmp.mkdir()
        progress = tqdm(total=len(manifest), desc="writing shards", unit="img", mininterval=1.0)
        for split_name in SPLITS:
            rows = manifest[manifest["split"] == split_name].sort_values(["sha256", "path"])
            n_shards = max(1, math.ceil(len(rows) / images_per_shard))
            counts = dict.fromkeys(classes, 0)
            for shard in range(n_shards):
                chunk = rows.iloc[shard * images_per_shard : (shard + 1) * images_per_shard]
                decoded = decode_all([raw_dir / p for p in chunk["path"]], image_size)
                name = f"{split_name}-{shard:05d}-of-{n_shards:05d}.tfrecord"
                with tf.io.TFRecordWriter(str(tmp / name)) as writer:
                    for row, pixels in zip(chunk.itertuples(), decoded, strict=True):
                        progress.update()
                        if isinstance(pixels, ImageError):
                            log.warning("skipping %s", pixels)
                            meta["skipped"].append(row.path)
                            continue
                        label = classes.index(row.label)
                        writer.write(_example(pixels.tobytes(), label, row.path))
                        counts[row.label] += 1
            meta["counts"][split_name] = counts
        progress.close()
        write_json(tmp / SHARD_META, meta)
    return meta
