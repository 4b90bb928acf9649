"""Preprocess: decode every image once, frame it (data.framing: the crop around its face, as
predict makes it, or the whole picture), resize, and write a few sharded TFRecord files per split.

Images in which no face is found are kept whole and counted per split and class: on the full
archive they are real faces the finder misses (profiles, close-ups, dark pictures; docs/data.md),
so leaving them out would drop real data.

A few large files (rather than 27k small ones) are what DVC hashes, stores and pushes fast, and what
tf.data streams without re-decoding JPEG/PNG every epoch.
"""

import itertools
import logging
import math
import os
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import tensorflow as tf
from tabulate import tabulate
from tqdm import tqdm

from genderface.data.faces import NONE, load_framed
from genderface.data.framing import Framing
from genderface.data.images import ImageError
from genderface.data.shards import encode
from genderface.fsutil import atomic_path, write_json, write_text
from genderface.layout import SHARD_META, SPLITS, shard_name

log = logging.getLogger("preprocess")

FRAMING_METRICS = Path("metrics/framing.json")
FRAMING_REPORT = Path("metrics/framing.md")


@dataclass(frozen=True)
class _Shard:
    """One output file: its split, its name and the manifest rows it holds, in order."""

    split: str
    name: str
    rows: pd.DataFrame


@dataclass
class _Written:
    """What one shard holds: images per class, of those the ones with no face found per class,
    and the paths it skipped (unreadable)."""

    split: str
    counts: Counter
    no_face: Counter
    skipped: list[str]


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


def _meta(classes: list[str], image_size: int, framing: Framing, written: list[_Written]) -> dict:
    """meta.json: image size, class names, framing, images per split and class, of those the
    ones with no face found (framing face), skipped files. `written` is in _plan's order."""
    meta: dict = {"image_size": image_size, "classes": classes, "framing": framing.as_dict()}
    meta |= {"counts": {}, "no_face": {}, "skipped": []}
    for split_name, results in itertools.groupby(written, key=lambda w: w.split):
        counts, no_face = Counter(), Counter()
        for result in results:
            counts += result.counts
            no_face += result.no_face
            meta["skipped"] += result.skipped
        meta["counts"][split_name] = {label: counts[label] for label in classes}
        meta["no_face"][split_name] = {label: no_face[label] for label in classes}
    meta["skipped"].sort()
    return meta


@dataclass(frozen=True)
class _Framed:
    """One decoded, framed image, and whether its face was looked for and not found."""

    pixels: np.ndarray
    no_face: bool


def _framer(
    raw_dir: Path, image_size: int, framing: Framing
) -> Callable[[str], "_Framed | ImageError"]:
    """path -> _Framed, or the ImageError of a file that cannot be decoded (not raised: one bad
    file must not stop the pool)."""

    def frame(path: str) -> _Framed | ImageError:
        try:
            pixels, note = load_framed(raw_dir / path, image_size, framing)
        except ImageError as err:
            return err
        return _Framed(pixels, note == NONE)

    return frame


def write_shards(
    manifest: pd.DataFrame,
    raw_dir: Path,
    out_dir: Path,
    image_size: int,
    images_per_shard: int,
    framing: Framing,
) -> dict:
    """Write the shards and meta.json into out_dir, atomically; never stops on a bad image.

    Every shard is written by its own thread while one pool decodes and frames images on every
    core (faces.load_framed, the path predict uses too; Pillow and the face finder release the
    GIL, so threads scale). Images that cannot be decoded are skipped and listed in meta.json
    under "skipped"; images with no face found are kept whole and counted under "no_face".
    """
    classes = sorted(manifest["label"].unique())
    shards = _plan(manifest, images_per_shard)
    frame = _framer(raw_dir, image_size, framing)

    def write(shard: _Shard, folder: Path) -> _Written:
        written = _Written(shard.split, Counter(), Counter(), [])
        with tf.io.TFRecordWriter(str(folder / shard.name)) as writer:
            framed = decoder.map(frame, shard.rows["path"])
            for row, image in zip(shard.rows.itertuples(), framed, strict=True):
                progress.update()
                if isinstance(image, ImageError):
                    log.warning("skipping %s", image)
                    written.skipped.append(row.path)
                    continue
                writer.write(encode(image.pixels, classes.index(row.label), row.path, row.sha256))
                written.counts[row.label] += 1
                written.no_face[row.label] += image.no_face
        return written

    workers = os.cpu_count() or 1
    what = "framing faces, writing shards" if framing.crops else "writing shards"
    with (
        atomic_path(out_dir) as tmp,
        tqdm(total=len(manifest), desc=what, unit="img", mininterval=1.0) as progress,
        ThreadPoolExecutor(workers, thread_name_prefix="decode") as decoder,
        ThreadPoolExecutor(min(workers, len(shards)), thread_name_prefix="shard") as writers,
    ):
        tmp.mkdir()
        results = list(writers.map(lambda shard: write(shard, tmp), shards))
        meta = _meta(classes, image_size, framing, results)
        write_json(tmp / SHARD_META, meta)
    return meta


def framing_report(meta: dict) -> str:
    """metrics/framing.md: the framing, and per split and class the images stored and those of
    them with no face found (kept whole)."""
    framing = Framing.from_dict(meta["framing"])
    rows = [
        [split, label, meta["counts"][split][label], meta["no_face"][split][label]]
        for split in SPLITS
        for label in meta["classes"]
    ]
    lines = [
        "# Framing",
        "",
        f"Every image is framed as {framing.describe()} (data.framing: {framing.kind}).",
    ]
    if framing.crops:
        lines += ["Images with no face found are kept whole.", ""]
        lines += [tabulate(rows, ["split", "class", "images", "no face found"], "github")]
    return "\n".join(lines) + "\n"


def write_framing_report(meta: dict, metrics_path: Path, report_path: Path) -> None:
    """metrics/framing.json (framing, images and no-face counts per split and class) and .md."""
    summary = {key: meta[key] for key in ("framing", "counts", "no_face")}
    write_json(metrics_path, summary)
    write_text(report_path, framing_report(meta))
