import errno
import shutil
import tarfile
import zipfile
from pathlib import Path

import kagglehub
import pytest
from PIL import Image

from genderface.data.kaggle import download
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


FULL_DISK = Path("/dev/full")  # Linux's device where every write fails with ENOSPC
needs_full_disk = pytest.mark.skipif(not FULL_DISK.exists(), reason="no /dev/full")


def _no_space_line(err: pytest.ExceptionInfo) -> str:
    assert err.value.__cause__.errno == errno.ENOSPC
    assert "check the archive" not in str(err.value)
    return str(err.value)


@needs_full_disk
def test_a_full_disk_extracting_an_archive_says_so(tmp_path, monkeypatch):
    """Each member written to /dev/full: the kernel's own ENOSPC, not a complaint about the
    archive, and the previous data/raw stays."""
    archive = zip_folder(write_faces(tmp_path / "src", per_class=2), tmp_path / "faces.zip")
    dest = tmp_path / "data" / "raw"
    fetch("demo", DEMO, dest)
    before = tree_digest(dest)
    monkeypatch.setattr(
        zipfile.ZipFile,
        "extract",
        lambda self, member, path: FULL_DISK.write_bytes(self.read(member)),
    )
    with pytest.raises(GenderfaceError) as err:
        fetch(str(archive), DEMO, dest)
    assert _no_space_line(err).startswith(f"no space left on device writing {dest.parent}")
    assert str(err.value).endswith(
        "free space on that disk (data/raw, and DVC's cache as much again) and rerun"
    )
    assert tree_digest(dest) == before


@needs_full_disk
def test_a_full_disk_copying_a_folder_stops_at_the_first_file(tmp_path, monkeypatch):
    src = write_faces(tmp_path / "src", per_class=3)
    copies = []

    def copy_onto_full_disk(source: str, target: str) -> None:
        copies.append(target)
        shutil.copyfile(source, FULL_DISK)

    monkeypatch.setattr(shutil, "copy2", copy_onto_full_disk)
    with pytest.raises(GenderfaceError) as err:
        fetch(str(src), DEMO, tmp_path / "raw")
    assert _no_space_line(err).startswith(f"no space left on device writing {copies[0]}: ")
    assert len(copies) == 1  # not one failure per file, reported at the end
    assert not (tmp_path / "raw").exists()


@needs_full_disk
def test_a_full_disk_downloading_from_kaggle_names_kagglehubs_cache(monkeypatch):
    monkeypatch.setattr(
        kagglehub, "dataset_download", lambda handle: FULL_DISK.write_bytes(b"an archive")
    )
    with pytest.raises(GenderfaceError) as err:
        download("owner/slug")
    assert _no_space_line(err).startswith(
        "no space left on device writing 'owner/slug' to kagglehub's cache: free space there"
    )
    assert "KAGGLEHUB_CACHE" in str(err.value)


def test_a_kaggle_failure_that_is_no_download_failure_is_shown_as_it_is(monkeypatch):
    def broken(handle: str) -> None:
        raise TypeError("a bug")

    monkeypatch.setattr(kagglehub, "dataset_download", broken)
    with pytest.raises(TypeError, match="a bug"):
        download("owner/slug")
