"""train.balance: every combination of the balance columns' values (a group) drawn equally often
in training, by tf.data sampling of the cached train split rather than copies on disk.

A train record's group is its manifest row's values in those columns, looked up by path. Each
epoch draws as many records as the split holds, 1/G of them from each of the G groups; within a
group the records are drawn as evenly as the group's share allows (a group of 10 with a share of
50 draws each record 5 times), the ones drawn once more chosen at random. The draws depend only
on train.seed and the epoch's number, so a resumed run sees the batches an uninterrupted run saw;
input_pipeline.shuffled_epochs then shuffles them as it shuffles an epoch drawn in proportion.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import tensorflow as tf

from genderface.data.manifests import read_manifest
from genderface.data.shards import ShardInfo, records
from genderface.errors import GenderfaceError
from genderface.layout import MANIFEST

_EMPTY = '""'
"""How a log line shows the value "" (a source without the attribute)."""


@dataclass(frozen=True, eq=False)
class Groups:
    """The groups the train records fall in: each group's values in `columns` (sorted), and the
    group index of every train record, in load order (input_pipeline.load_split's)."""

    columns: tuple[str, ...]
    values: list[tuple[str, ...]]
    of_record: np.ndarray

    def sizes(self) -> list[int]:
        """Train records per group."""
        return np.bincount(self.of_record, minlength=len(self.values)).tolist()

    def names(self) -> list[str]:
        """Each group as `column=value, ...` ("" where its source lacks the attribute)."""
        return [
            ", ".join(
                f"{column}={value or _EMPTY}"
                for column, value in zip(self.columns, values, strict=True)
            )
            for values in self.values
        ]

    def describe(self) -> str:
        """The line train logs before training."""
        count = len(self.values)
        listed = "; ".join(
            f"{name}: {size}" for name, size in zip(self.names(), self.sizes(), strict=True)
        )
        return (
            f"train.balance [{', '.join(self.columns)}]: {count} groups, each drawn at 1/{count} "
            f"of every epoch; train records per group: {listed}"
        )

    def as_dict(self) -> dict:
        """What models/model.json's provenance records: the columns, each group's values and
        train records."""
        return {
            "columns": list(self.columns),
            "groups": [
                {"values": list(values), "records": size}
                for values, size in zip(self.values, self.sizes(), strict=True)
            ],
        }

    def draw(self, dataset: tf.data.Dataset, seed: tf.Tensor) -> tf.data.Dataset:
        """One epoch's draws from `dataset` (the train split, or its base features, in load
        order), for input_pipeline.shuffled_epochs to shuffle: every record repeated as often as
        the epoch draws it, as many records as the split holds. `seed` is [train.seed, epoch]."""
        counts = tf.data.Dataset.from_tensor_slices(tf.cast(_draws(self, seed), tf.int64))
        return tf.data.Dataset.zip(dataset, counts).flat_map(
            lambda record, count: tf.data.Dataset.from_tensors(record).repeat(count)
        )


def group_records(paths: list[str], manifest: pd.DataFrame, columns: Sequence[str]) -> Groups:
    """The group of every record named in `paths`, by its manifest row's values in `columns`."""
    for column in columns:
        if column not in manifest.columns:
            raise GenderfaceError(
                f"train.balance: {MANIFEST} has no column {column!r} (it has "
                f"{', '.join(manifest.columns)}); balance on those, or add a source that gives "
                f"{column} and run `dvc repro`"
            )
    row_values = dict(
        zip(manifest["path"], zip(*(manifest[c] for c in columns), strict=True), strict=True)
    )
    unlisted = [path for path in paths if path not in row_values]
    if unlisted:
        raise GenderfaceError(
            f"train.balance: {len(unlisted)} train record(s) of the shards, e.g. {unlisted[0]!r}, "
            f"are not in {MANIFEST}; run `dvc repro preprocess` so the shards follow it"
        )
    keys = [row_values[path] for path in paths]
    values = sorted(set(keys))
    index = {key: i for i, key in enumerate(values)}
    return Groups(tuple(columns), values, np.array([index[key] for key in keys], np.int32))


def read_groups(
    columns: Sequence[str], manifest: Path, shards_dir: Path, info: ShardInfo
) -> Groups | None:
    """The groups of the train split's records (None without balance columns: the manifest is
    then never read)."""
    if not columns:
        return None
    paths = [record.path for record in records(shards_dir, "train", info)]
    return group_records(paths, read_manifest(manifest), columns)


def _draws(groups: Groups, seed: tf.Tensor) -> tf.Tensor:
    """How many times this epoch draws each record: its group's share of the epoch (n // G, one
    more for n % G groups chosen at random) spread over the group's records, those drawn once
    more chosen at random. Stateless, so the same seed gives the same draws."""
    sizes = np.array(groups.sizes(), np.int32)
    starts = np.cumsum(sizes, dtype=np.int32) - sizes
    count, total = len(sizes), len(groups.of_record)
    share_seed, record_seed = tf.unstack(tf.random.experimental.stateless_split(seed, 2))
    favoured = tf.cast(tf.range(count) < total % count, tf.int32)
    share = total // count + tf.random.experimental.stateless_shuffle(
        favoured, share_seed, alg="philox"
    )
    # Rank the records within their group in a random order: the first share % size go again.
    keys = tf.random.stateless_uniform([total], record_seed, dtype=tf.float64, alg="philox")
    by_key = tf.argsort(keys, stable=True)
    grouped = tf.gather(by_key, tf.argsort(tf.gather(groups.of_record, by_key), stable=True))
    rank = tf.math.invert_permutation(grouped) - tf.gather(starts, groups.of_record)
    record_share = tf.gather(share, groups.of_record)
    size = tf.gather(sizes, groups.of_record)
    return record_share // size + tf.cast(rank < record_share % size, tf.int32)
