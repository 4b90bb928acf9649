import hashlib
import json
import os

import numpy as np
import pandas as pd
import pytest

from genderface.data.images import load_rgb
from genderface.data.input_pipeline import batched, load_split, shuffled_epochs, steps_per_epoch
from genderface.data.preprocess import write_shards
from genderface.data.shards import ShardInfo

from .conftest import write_faces


@pytest.fixture
def manifest_and_raw(tmp_path):
    raw = write_faces(tmp_path / "raw", per_class=6)
    rows = []
    for label in ("man", "woman"):
        for i in range(6):
            split_name = "train" if i < 4 else "test" if i == 4 else "validation"
            path = f"faces/{label}/{label}_{i}.jpg"
            digest = hashlib.sha256((raw / path).read_bytes()).hexdigest()
            rows.append((path, label, digest, split_name))
    return pd.DataFrame(rows, columns=["path", "label", "sha256", "split"]), raw


def test_shards_round_trip_pixels_and_labels(tmp_path, manifest_and_raw):
    manifest, raw = manifest_and_raw
    meta = write_shards(manifest, raw, tmp_path / "shards", image_size=32, images_per_shard=3)
    names = sorted(p.name for p in (tmp_path / "shards").iterdir())
    assert names == [
        "meta.json",
        "test-00000-of-00001.tfrecord",
        "train-00000-of-00003.tfrecord",
        "train-00001-of-00003.tfrecord",
        "train-00002-of-00003.tfrecord",
        "validation-00000-of-00001.tfrecord",
    ]
    assert meta["counts"]["train"] == {"man": 4, "woman": 4}
    assert json.loads((tmp_path / "shards" / "meta.json").read_text()) == meta
    info = ShardInfo.read(tmp_path / "shards")
    assert info.classes == ["man", "woman"]
    dataset = load_split(tmp_path / "shards", "train", info)
    assert dataset.cardinality() == 8
    examples = list(dataset.as_numpy_iterator())
    in_hash_order = manifest[manifest["split"] == "train"].sort_values("sha256")
    assert len(examples) == len(in_hash_order) == 8
    for (image, label), row in zip(examples, in_hash_order.itertuples(), strict=True):
        assert label == ["man", "woman"].index(row.label)
        np.testing.assert_array_equal(image, load_rgb(raw / row.path, 32))
    labels = [label for _, label in examples]
    assert labels != sorted(labels), "hash order should mix the classes"


def test_undecodable_images_are_skipped_and_listed(tmp_path, manifest_and_raw):
    manifest, raw = manifest_and_raw
    (raw / "faces/woman/woman_1.jpg").write_bytes(b"not an image")
    meta = write_shards(manifest, raw, tmp_path / "shards", image_size=32, images_per_shard=100)
    assert meta["skipped"] == ["faces/woman/woman_1.jpg"]
    assert meta["counts"]["train"] == {"man": 4, "woman": 3}


def test_crash_mid_write_leaves_no_shards_and_keeps_old_ones(
    tmp_path, manifest_and_raw, monkeypatch
):
    manifest, raw = manifest_and_raw
    out = tmp_path / "shards"
    write_shards(manifest, raw, out, image_size=32, images_per_shard=100)
    before = sorted(p.name for p in out.iterdir())
    calls = []

    def crash_on_fifth(path, size):
        calls.append(path)
        if len(calls) == 5:
            raise RuntimeError("disk on fire")
        return load_rgb(path, size)

    monkeypatch.setattr("genderface.data.preprocess.load_rgb", crash_on_fifth)
    with pytest.raises(Exception, match="disk on fire"):
        write_shards(manifest, raw, out, image_size=48, images_per_shard=100)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["raw", "shards"]
    assert sorted(p.name for p in out.iterdir()) == before
    assert ShardInfo.read(out).image_size == 32


def test_batches_are_float_pixels_and_shuffling_is_seeded_by_epoch(tmp_path, manifest_and_raw):
    manifest, raw = manifest_and_raw
    write_shards(manifest, raw, tmp_path / "shards", image_size=32, images_per_shard=100)
    split = load_split(tmp_path / "shards", "train", ShardInfo.read(tmp_path / "shards"))

    def order(batches):
        return [tuple(image[0, 0]) for images, _ in batches.as_numpy_iterator() for image in images]

    def epochs(seed, first, last):
        flat = order(shuffled_epochs(split, 3, seed, first, last))
        size = len(flat) // (last - first)
        return [flat[i : i + size] for i in range(0, len(flat), size)]

    images, _ = next(batched(split, 3).as_numpy_iterator())
    assert images.shape == (3, 32, 32, 3)
    assert images.dtype == np.float32
    assert images.max() > 1.0
    assert steps_per_epoch(split, 3) == len(list(batched(split, 3)))
    unshuffled = order(batched(split, 3))
    three = epochs(1, 0, 3)
    assert three == epochs(1, 0, 3)
    assert len({tuple(epoch) for epoch in three}) == 3, "every epoch reshuffled"
    assert all(sorted(epoch) == sorted(unshuffled) for epoch in three)
    assert three[0] != unshuffled
    assert epochs(1, 2, 3) == three[2:], "an epoch's order depends on its number alone (resume)"
    assert epochs(2, 0, 1) == three[1:2], "seed + epoch"


@pytest.mark.slow  # starts fresh Python + TensorFlow processes several times
def test_shard_bytes_are_the_same_in_every_process(tmp_path, manifest_and_raw):
    """Two runs in fresh interpreters (different hash seeds) must write identical shards."""
    import subprocess
    import sys

    manifest, raw = manifest_and_raw
    manifest.to_csv(tmp_path / "manifest.csv", index=False)
    script = (
        "import sys; from pathlib import Path; "
        "from genderface.data.preprocess import write_shards; "
        "from genderface.data.manifests import read_manifest; "
        "write_shards(read_manifest(Path(sys.argv[1])), Path(sys.argv[2]), "
        "Path(sys.argv[3]), 32, 4)"
    )
    digests = []
    for seed in ("1", "2"):
        out = tmp_path / f"shards-{seed}"
        subprocess.run(
            [sys.executable, "-c", script, str(tmp_path / "manifest.csv"), str(raw), str(out)],
            check=True,
            capture_output=True,
            env={**os.environ, "PYTHONHASHSEED": seed},
        )
        digests.append({p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in out.iterdir()})
    assert len(digests[0]) == 5
    assert digests[0] == digests[1]
