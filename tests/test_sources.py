import tarfile

import pytest
from PIL import Image

from genderface.data.sources import fetch
from genderface.errors import GenderfaceError
from genderface.params import DemoParams

from .conftest import tree_digest, write_faces, zip_folder

DEMO = DemoParams(man=13, woman=10, size=48, seed=3)


def test_demo_is_deterministic_and_laid_out_like_the_archive(tmp_path):
    summary = fetch("demo", DEMO, tmp_path / "a" / "raw")
    fetch("demo", DEMO, tmp_path / "b" / "raw")
    assert summary.synthetic is True
    assert summary.counts == {"man": 13, "woman": 10}
    digest = tree_digest(tmp_path / "a" / "raw")
    assert digest == tree_digest(tmp_path / "b" / "raw")
    assert sorted(digest)[:2] == ["faces/man/man_0.jpg", "faces/man/man_1.jpg"]
    formats = {Image.open(tmp_path / "a" / "raw" / name).format for name in digest}
    assert formats == {"JPEG", "PNG"}
    assert all(name.endswith(".jpg") for name in digest)


def test_demo_seed_changes_the_images(tmp_path):
    fetch("demo", DEMO, tmp_path / "a")
    fetch("demo", DEMO.model_copy(update={"seed": 4}), tmp_path / "b")
    assert tree_digest(tmp_path / "a") != tree_digest(tmp_path / "b")


@pytest.mark.parametrize("prefix", ["", "biggest-genderface/"])
def test_zip_archive_with_or_without_a_top_folder(tmp_path, prefix):
    src = write_faces(tmp_path / "src", per_class=4)
    archive = zip_folder(src, tmp_path / "faces.zip", prefix)
    summary = fetch(str(archive), DEMO, tmp_path / "data" / "raw")
    assert summary.synthetic is False
    assert summary.resolved == str(archive)
    assert summary.counts == {"man": 4, "woman": 4}
    assert tree_digest(tmp_path / "data" / "raw") == tree_digest(src)
    assert sorted(p.name for p in (tmp_path / "data").iterdir()) == ["raw"]


def test_tar_gz_archive_and_directory(tmp_path):
    src = write_faces(tmp_path / "src", per_class=3)
    archive = tmp_path / "faces.tar.gz"
    with tarfile.open(archive, "w:gz") as tf:
        tf.add(src / "faces", arcname="faces")
    fetch(str(archive), DEMO, tmp_path / "from_tar")
    fetch(str(src), DEMO, tmp_path / "from_dir")
    assert tree_digest(tmp_path / "from_tar") == tree_digest(src)
    assert tree_digest(tmp_path / "from_dir") == tree_digest(src)


def test_real_sample_archive(tmp_path, sample_zip):
    summary = fetch(str(sample_zip), DEMO, tmp_path / "raw")
    assert summary.counts == {"man": 1950, "woman": 1050}
    assert not summary.synthetic


def test_failed_fetch_keeps_the_previous_data(tmp_path):
    dest = tmp_path / "raw"
    fetch("demo", DEMO, dest)
    before = tree_digest(dest)
    with pytest.raises(GenderfaceError):
        fetch(str(tmp_path / "missing.zip"), DEMO, dest)
    assert tree_digest(dest) == before
