import hashlib
import json
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from genderface.data import faces
from genderface.data.framing import Framing
from genderface.data.images import load_rgb
from genderface.data.input_pipeline import batched, load_split, shuffled_epochs, steps_per_epoch
from genderface.data.manifests import read_manifest
from genderface.data.preprocess import framing_report, write_framing_report, write_shards
from genderface.data.shards import ShardInfo, records

from .conftest import tiny_params_dict, write_faces

WHOLE = Framing("whole", 0.2)
FACE = Framing("face", tiny_params_dict()["data"]["face_margin"])


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
    meta = write_shards(manifest, raw, tmp_path / "shards", 32, 3, WHOLE)
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
    meta = write_shards(manifest, raw, tmp_path / "shards", 32, 100, WHOLE)
    assert meta["skipped"] == ["faces/woman/woman_1.jpg"]
    assert meta["counts"]["train"] == {"man": 4, "woman": 3}


def test_crash_mid_write_leaves_no_shards_and_keeps_old_ones(
    tmp_path, manifest_and_raw, monkeypatch
):
    manifest, raw = manifest_and_raw
    out = tmp_path / "shards"
    write_shards(manifest, raw, out, 32, 100, WHOLE)
    before = sorted(p.name for p in out.iterdir())
    calls = []

    def crash_on_fifth(path, size, framing):
        calls.append(path)
        if len(calls) == 5:
            raise RuntimeError("disk on fire")
        return load_rgb(path, size), None

    monkeypatch.setattr("genderface.data.preprocess.load_framed", crash_on_fifth)
    with pytest.raises(Exception, match="disk on fire"):
        write_shards(manifest, raw, out, 48, 100, WHOLE)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["raw", "shards"]
    assert sorted(p.name for p in out.iterdir()) == before
    assert ShardInfo.read(out).image_size == 32


def test_batches_are_float_pixels_and_shuffling_is_seeded_by_epoch(tmp_path, manifest_and_raw):
    manifest, raw = manifest_and_raw
    write_shards(manifest, raw, tmp_path / "shards", 32, 100, WHOLE)
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


@pytest.mark.slow  # starts a fresh Python + TensorFlow process
def test_shard_bytes_are_the_same_in_every_process(tmp_path, manifest_and_raw):
    """A fresh interpreter (another hash seed) writes the shards this one writes, byte for byte."""
    import subprocess
    import sys

    manifest, raw = manifest_and_raw
    manifest.to_csv(tmp_path / "manifest.csv", index=False)
    script = (
        "import sys; from pathlib import Path; "
        "from genderface.data.preprocess import write_shards; "
        "from genderface.data.framing import Framing; "
        "from genderface.data.manifests import read_manifest; "
        "write_shards(read_manifest(Path(sys.argv[1])), Path(sys.argv[2]), "
        "Path(sys.argv[3]), 32, 4, Framing('face', 0.2))"
    )
    fresh = tmp_path / "fresh"
    # a hash seed other than this process's (random, unless PYTHONHASHSEED set it)
    seed = "2" if os.environ.get("PYTHONHASHSEED") == "1" else "1"
    subprocess.run(
        [sys.executable, "-c", script, str(tmp_path / "manifest.csv"), str(raw), str(fresh)],
        check=True,
        capture_output=True,
        env={**os.environ, "PYTHONHASHSEED": seed},
    )
    here = tmp_path / "here"
    write_shards(read_manifest(tmp_path / "manifest.csv"), raw, here, 32, 4, Framing("face", 0.2))
    digests = [
        {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in out.iterdir()}
        for out in (fresh, here)
    ]
    assert len(digests[0]) == 5
    assert digests[0] == digests[1]


def _manifest(raw: Path, files: dict[str, tuple[str, str]]) -> pd.DataFrame:
    """Manifest rows for raw/<path>: path -> (label, split)."""
    rows = [
        (path, label, hashlib.sha256((raw / path).read_bytes()).hexdigest(), split_name)
        for path, (label, split_name) in files.items()
    ]
    return pd.DataFrame(rows, columns=["path", "label", "sha256", "split"])


def _only_record(shards: Path) -> np.ndarray:
    (record,) = records(shards, "train", ShardInfo.read(shards))
    return record.pixels


def test_an_off_centre_face_on_a_large_canvas_is_centred_in_its_shard_image(tmp_path, fairface):
    """A real face pasted in a corner of a wide plain canvas: preprocess stores the crop around
    it, where the face finder sees the face in the middle; the whole framing leaves it aside."""
    portrait = Image.open(fairface / "woman/fairface_0003.jpg").convert("RGB").resize((260, 260))
    canvas = Image.new("RGB", (1400, 900), (150, 160, 170))
    canvas.paste(portrait, (1080, 60))
    raw = tmp_path / "raw"
    (raw / "faces/woman").mkdir(parents=True)
    canvas.save(raw / "faces/woman/corner.png")
    (raw / "faces/man").mkdir(parents=True)
    Image.new("RGB", (300, 300), (90, 90, 90)).save(raw / "faces/man/blank.png")
    manifest = _manifest(
        raw, {"faces/woman/corner.png": ("woman", "train"), "faces/man/blank.png": ("man", "test")}
    )
    size = 128
    centres = {}
    for framing in (FACE, WHOLE):
        out = tmp_path / framing.kind
        meta = write_shards(manifest, raw, out, size, 10, framing)
        assert meta["framing"] == {"kind": framing.kind, "margin": framing.margin}
        face = faces.find_face(Image.fromarray(_only_record(out)))
        centres[framing.kind] = None if face is None else (face.box[:2] + face.box[2:]) / 2
    assert np.abs(centres["face"] - size / 2).max() < 0.1 * size
    assert centres["whole"] is None or np.abs(centres["whole"] - size / 2).max() > 0.25 * size


def test_images_with_no_face_are_kept_whole_and_counted_per_split_and_class(tmp_path):
    raw = tmp_path / "raw"
    files = {}
    for label, shade in (("man", 40), ("woman", 200)):
        (raw / "faces" / label).mkdir(parents=True)
        for i, split_name in enumerate(("train", "train", "test", "validation")):
            path = f"faces/{label}/blank_{i}.png"
            Image.new("RGB", (80 + 10 * i, 60), (shade + i, shade, shade)).save(raw / path)
            files[path] = (label, split_name)
    meta = write_shards(_manifest(raw, files), raw, tmp_path / "shards", 32, 10, FACE)
    one = {"man": 1, "woman": 1}
    assert meta["no_face"] == {"train": {"man": 2, "woman": 2}, "test": one, "validation": one}
    assert meta["no_face"] == meta["counts"]
    info = ShardInfo.read(tmp_path / "shards")
    assert (info.framing, info.no_face) == (FACE, meta["no_face"])
    for record in records(tmp_path / "shards", "train", info):
        np.testing.assert_array_equal(record.pixels, load_rgb(raw / record.path, 32))
    write_framing_report(meta, tmp_path / "framing.json", tmp_path / "framing.md")
    summary = json.loads((tmp_path / "framing.json").read_text())
    assert summary == {key: meta[key] for key in ("framing", "counts", "no_face")}
    report = (tmp_path / "framing.md").read_text()
    assert report == framing_report(meta)
    rows = [line.replace("|", " ").split() for line in report.splitlines() if line[:1] == "|"]
    assert rows[2:] == [
        [split_name, label, str(n), str(n)]
        for split_name, n in (("train", 2), ("test", 1), ("validation", 1))
        for label in ("man", "woman")
    ]
