"""train.balance: every group of the train records drawn equally often per epoch, seeded by the
epoch's number; [] (or one group) leaves today's order; training with it runs both phases."""

import hashlib
import io
import logging
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import tensorflow as tf
from PIL import Image

from genderface.data.framing import Framing
from genderface.data.input_pipeline import TrainingData, shuffled_epochs
from genderface.data.manifests import MANIFEST_COLUMNS, write_manifest
from genderface.data.preprocess import write_shards
from genderface.data.sampling import Groups, group_records, read_groups
from genderface.data.shards import ShardInfo, records
from genderface.errors import GenderfaceError
from genderface.params import parse_params

from .conftest import TWO_PHASES, tiny_params_dict


def _manifest(sizes: dict[tuple[str, str], int]) -> pd.DataFrame:
    """Train rows, `count` per (source, race), as data/split/manifest.csv holds them."""
    rows = [
        (f"{source}/{race or 'none'}_{i}.jpg", source, "man", f"{i:064x}", "train", race)
        for (source, race), count in sizes.items()
        for i in range(count)
    ]
    return pd.DataFrame(rows, columns=[*MANIFEST_COLUMNS, "race"])


def _split(size: int) -> tf.data.Dataset:
    """A stand-in train split: each record's "image" is its index in load order."""
    return tf.data.Dataset.from_tensor_slices((np.arange(size), np.zeros(size, np.float32)))


def _epochs(groups: Groups | None, seed: int, first: int, last: int) -> list[list[int]]:
    """The record indices each epoch `first`..`last - 1` hands out, in order."""
    size = len(groups.of_record) if groups else 100
    batches = shuffled_epochs(_split(size), 7, seed, first, last, groups and groups.draw)
    flat = [int(index) for images, _ in batches.as_numpy_iterator() for index in images]
    assert len(flat) == size * (last - first), "an epoch draws as many records as the split holds"
    return [flat[i : i + size] for i in range(0, len(flat), size)]


def test_every_group_is_drawn_equally_often_seeded_by_the_epoch():
    manifest = _manifest({("archive", ""): 90, ("utkface", "White"): 10})
    groups = group_records(list(manifest["path"]), manifest, ["source"])
    assert groups.values == [("archive",), ("utkface",)] and groups.sizes() == [90, 10]
    three = _epochs(groups, 1, 0, 3)
    for epoch in three:
        drawn = Counter(groups.of_record[epoch])
        assert abs(drawn[0] - 50) <= 2 and abs(drawn[1] - 50) <= 2, drawn
        times = Counter(epoch)
        assert all(times[i] == 5 for i in range(90, 100)), "each of the 10 drawn 5 times"
        assert max(times[i] for i in range(90)) == 1, "50 of the 90, none twice"
    in_proportion = Counter(groups.of_record[_epochs(None, 1, 0, 1)[0]])
    assert abs(in_proportion[1] - 50) > 2, "without groups the tolerance above fails"
    assert _epochs(groups, 1, 0, 3) == three, "the same seed, the same draws"
    assert len({tuple(epoch) for epoch in three}) == 3, "every epoch draws anew"
    assert _epochs(groups, 1, 2, 3) == three[2:], "an epoch depends on its number alone (resume)"
    assert _epochs(groups, 2, 2, 3) != three[2:], "and on the seed"


def test_groups_are_combinations_and_an_uneven_split_shares_out_the_rest():
    """Three groups of two columns ("" where a source lacks the attribute) in 100 draws: 34, 33
    and 33."""
    manifest = _manifest({("archive", ""): 60, ("utkface", "White"): 30, ("utkface", "Black"): 10})
    groups = group_records(list(manifest["path"]), manifest, ["source", "race"])
    assert groups.values == [("archive", ""), ("utkface", "Black"), ("utkface", "White")]
    names = ['source=archive, race=""', "source=utkface, race=Black", "source=utkface, race=White"]
    assert groups.names() == names
    for epoch in _epochs(groups, 3, 0, 4):
        assert sorted(Counter(groups.of_record[epoch]).values()) == [33, 33, 34]


def test_one_group_draws_todays_order():
    """Balancing one group draws every record once, in the order shuffled_epochs always gave."""
    manifest = _manifest({("archive", ""): 100})
    groups = group_records(list(manifest["path"]), manifest, ["source"])
    assert _epochs(groups, 5, 0, 3) == _epochs(None, 5, 0, 3)


def test_an_unknown_column_or_unlisted_record_is_one_line():
    manifest = _manifest({("archive", ""): 3})
    no_column = r"no column 'age' .*add a source that gives age"
    with pytest.raises(GenderfaceError, match=no_column) as unknown:
        group_records(list(manifest["path"]), manifest, ["source", "age"])
    not_listed = r"'archive/new\.jpg', are not in .*preprocess"
    with pytest.raises(GenderfaceError, match=not_listed) as unlisted:
        group_records(["archive/new.jpg"], manifest, ["source"])
    assert "\n" not in str(unknown.value) + str(unlisted.value)


def _image(label: str, seed: int) -> bytes:
    """A 40 px JPEG: a class colour with noise, so the classes can be learned."""
    base = np.array((40, 60, 200) if label == "man" else (200, 80, 40))
    noise = np.random.default_rng(seed).integers(-30, 30, (40, 40, 3))
    pixels = np.clip(base + noise, 0, 255).astype(np.uint8)
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, "JPEG")
    return out.getvalue()


@pytest.fixture(scope="module")
def two_sources(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Shards of two sources, 24 and 4 train images (half each class), and their manifest.csv."""
    root = tmp_path_factory.mktemp("two_sources")
    per_split = {"archive": {"train": 12, "validation": 2, "test": 1}, "utkface": {"train": 2}}
    rows = []
    for source, splits in per_split.items():
        for split, count in splits.items():
            for label in ("man", "woman"):
                for i in range(count):
                    path = f"{source}/{split}_{label}_{i}.jpg"
                    data = _image(label, len(rows))
                    (root / "raw" / path).parent.mkdir(parents=True, exist_ok=True)
                    (root / "raw" / path).write_bytes(data)
                    digest = hashlib.sha256(data).hexdigest()
                    race = "White" if source == "utkface" else ""
                    rows.append((path, source, label, digest, split, race))
    manifest = pd.DataFrame(rows, columns=[*MANIFEST_COLUMNS, "race"])
    write_manifest(manifest, root / "manifest.csv")
    write_shards(manifest, root / "raw", root / "shards", 32, 100, Framing("whole", 0.2))
    return root / "shards", root / "manifest.csv"


def test_the_groups_follow_the_shards_load_order(two_sources):
    """[] never reads the manifest; balance looks up each train record's group by its path."""
    shards, manifest = two_sources
    info = ShardInfo.read(shards)
    assert read_groups([], shards / "absent.csv", shards, info) is None
    groups = read_groups(["source"], manifest, shards, info)
    assert groups is not None and groups.sizes() == [24, 4]
    in_order = [r.path.split("/")[0] for r in records(shards, "train", info)]
    assert [groups.values[g][0] for g in groups.of_record] == in_order
    assert in_order != sorted(in_order), "content-hash order mixes the sources"


def test_the_resume_fingerprint_follows_the_groups(two_sources, tiny_params):
    from genderface.modeling.resume import fingerprint

    shards, manifest = two_sources
    info = ShardInfo.read(shards)
    by_source = read_groups(["source"], manifest, shards, info)
    by_label = read_groups(["label"], manifest, shards, info)
    without = fingerprint(tiny_params, shards)
    assert without == fingerprint(tiny_params, shards, None)
    assert len({without, fingerprint(tiny_params, shards, by_source)}) == 2
    assert fingerprint(tiny_params, shards, by_source) != fingerprint(tiny_params, shards, by_label)


@pytest.mark.slow
def test_training_with_balance_runs_both_phases_reproducibly(two_sources, caplog):
    """Transfer phase 1 on bottleneck features, then phase 2 on pixels, both drawing by source;
    the groups are logged and recorded, and a second run ends on the same weights."""
    import keras

    from genderface.modeling.training import train

    shards, manifest = two_sources
    params = parse_params(tiny_params_dict(**TWO_PHASES, **{"train.balance": ["source"]}))
    weights = []
    for _ in range(2):
        keras.backend.clear_session()
        data = TrainingData.from_shards(shards)
        groups = read_groups(params.train.balance, manifest, shards, data.info)
        with caplog.at_level(logging.INFO, logger="train"):
            classifier = train(params, data, callbacks=[], groups=groups)
        weights.append(classifier.model.get_weights())
    assert (
        "train.balance [source]: 2 groups, each drawn at 1/2 of every epoch; train records per "
        "group: source=archive: 24; source=utkface: 4"
    ) in caplog.text
    assert classifier.info.provenance["balance"] == {
        "columns": ["source"],
        "groups": [{"values": ["archive"], "records": 24}, {"values": ["utkface"], "records": 4}],
    }
    for first, second in zip(*weights, strict=True):
        np.testing.assert_array_equal(first, second)
