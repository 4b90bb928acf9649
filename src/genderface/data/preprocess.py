"""Preprocess: decode every image once, resize, and write a few sharded TFRecord files per split.

A few large files (rather than 27k small ones) are what DVC hashes, stores and pushes fast, and what
tf.data streams without re-decoding JPEG/PNG every epoch.
"""

import logging
import math
import os
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import tensorflow as tf
from tqdm import tqdm

from genderface.data.images import ImageError, load_rgb
from genderface.data.shards import encode
from genderface.fsutil import atomic_path, write_json
from genderface.layout import SHARD_META, SPLITS, shard_name

log = logging.getLogger("preprocess")


@dataclass(frozen=True)
class _Shard:
    """One output file: its split, its name and the manifest rows it holds, in order."""

    split: str
    name: str
    rows: pd.DataFrame


_Written = tuple[Counter, list[str]]  # a shard's images per class, and the paths it skipped


def _plan(manifest: pd.DataFrame, images_per_shard: int) -> list[_Shard]:
    """Records in content-hash order, which mixes the classes in every shard (path order would
    put every man before every woman), cut into <split>-NNNNN-of-MMMMM.tfrecord files."""
    shards = []
    for split_name in SPLITS:
        rows = manifest[manifest["split"] == split_name].sort_values(["sha256", "path"])
        n_shards = max(1, math.ceil(len(rows) / images_per_shard))
        for shard in range(n_shards):
            chunk = rows.iloc[shard * images_per_shard : (shard + 1) * images_per_shard]
            shards.append(_Shard(split_name, shard_name(split_name, shard, n_shards), chunk))
    return shards


def _meta(
    classes: list[str], image_size: int, shards: list[_Shard], results: list[_Written]
) -> dict:
    """meta.json: image size, class names, images per split and class, skipped files."""
    meta: dict = {"image_size": image_size, "classes": classes, "counts": {}, "skipped": []}
    for split_name in SPLITS:
        counts: Counter = Counter()
        for shard, (shard_counts, skipped) in zip(shards, results, strict=True):
            if shard.split == split_name:
                counts += shard_counts
                meta["skipped"] += skipped
        meta["counts"][split_name] = {label: counts[label] for label in classes}
    meta["skipped"].sort()
    return meta


def write_shards(
    manifest: pd.DataFrame, raw_dir: Path, out_dir: Path, image_size: int, images_per_shard: int
) -> dict:
    """Write the shards and meta.json into out_dir, atomically; never stops on a bad image.

    Every shard is written by its own thread while one pool decodes images on every core
    (images.load_rgb, the path predict uses too; Pillow releases the GIL while decoding and
    resizing, so threads scale). Images that cannot be decoded are skipped and listed in
    meta.json under "skipped".
    """
    classes = sorted(manifest["label"].unique())
    shards = _plan(manifest, images_per_shard)

    def decode(path: str) -> np.ndarray | ImageError:
        try:
            return load_rgb(raw_dir / path, image_size)
        except ImageError as err:
            return err

    def write(shard: _Shard, folder: Path) -> _Written:
        counts: Counter = Counter()
        skipped = []
        with tf.io.TFRecordWriter(str(folder / shard.name)) as writer:
            decoded = decoder.map(decode, shard.rows["path"])
            for row, pixels in zip(shard.rows.itertuples(), decoded, strict=True):
                progress.update()
                if isinstance(pixels, ImageError):
                    log.warning("skipping %s", pixels)
                    skipped.append(row.path)
                    continue
                writer.write(encode(pixels, classes.index(row.label), row.path, row.sha256))
                counts[row.label] += 1
        return counts, skipped

    workers = os.cpu_count() or 1
    with (
        atomic_path(out_dir) as tmp,
        tqdm(total=len(manifest), desc="writing shards", unit="img", mininterval=1.0) as progress,
        ThreadPoolExecutor(workers, thread_name_prefix="decode") as decoder,
        ThreadPoolExecutor(min(workers, len(shards)), thread_name_prefix="shard") as writers,
    ):
        tmp.mkdir()
        results = list(writers.map(lambda shard: write(shard, tmp), shards))
        meta = _meta(classes, image_size, shards, results)
        write_json(tmp / SHARD_META, meta)
    return meta
