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
from genderface.params import NO_INPUT, DemoParams, SourceParams

from .conftest import image_bytes, tree_digest, write_faces, zip_folder

DEMO = DemoParams(man=13, woman=10, size=48, seed=3)


def _source(read: str, labels: str = "folders", folder: str = "", labels_file: str = ""):
    """data.sources' entry for demo or a path."""
    return SourceParams(
        source="demo" if read == "demo" else "path",
        path=NO_INPUT if read == "demo" else read,
        folder=folder,
        labels=labels,
        labels_file=labels_file,
        licence="test",
    )


def _fetch(read: str, dest: Path, demo: DemoParams = DEMO, **layout: str):
    return fetch("archive", _source(read, **layout), demo, dest)


def test_demo_is_deterministic_and_laid_out_like_the_archive(tmp_path):
    summary = _fetch("demo", tmp_path / "a" / "raw")
    _fetch("demo", tmp_path / "b" / "raw")
    assert summary.synthetic is True
    assert summary.files == 23
    digest = tree_digest(tmp_path / "a" / "raw")
    assert digest == tree_digest(tmp_path / "b" / "raw")
    assert sorted(digest)[:2] == ["faces/man/man_0.jpg", "faces/man/man_1.jpg"]
    formats = {Image.open(tmp_path / "a" / "raw" / name).format for name in digest}
    assert formats == {"JPEG", "PNG"}
    assert all(name.endswith(".jpg") for name in digest)


def test_demo_seed_changes_the_images(tmp_path):
    _fetch("demo", tmp_path / "a")
    _fetch("demo", tmp_path / "b", DEMO.model_copy(update={"seed": 4}))
    assert tree_digest(tmp_path / "a") != tree_digest(tmp_path / "b")


@pytest.mark.parametrize("prefix", ["", "biggest-genderface/"])
def test_zip_archive_with_or_without_a_top_folder(tmp_path, prefix):
    src = write_faces(tmp_path / "src", per_class=4)
    archive = zip_folder(src, tmp_path / "faces.zip", prefix)
    summary = _fetch(str(archive), tmp_path / "data" / "raw")
    assert summary.synthetic is False
    assert summary.resolved == str(archive)
    assert summary.files == 8
    assert tree_digest(tmp_path / "data" / "raw") == tree_digest(src)
    assert sorted(p.name for p in (tmp_path / "data").iterdir()) == ["raw"]


def test_tar_gz_archive_and_directory(tmp_path):
    src = write_faces(tmp_path / "src", per_class=3)
    archive = tmp_path / "faces.tar.gz"
    with tarfile.open(archive, "w:gz") as tf:
        tf.add(src / "faces", arcname="faces")
    _fetch(str(archive), tmp_path / "from_tar")
    _fetch(str(src), tmp_path / "from_dir")
    assert tree_digest(tmp_path / "from_tar") == tree_digest(src)
    assert tree_digest(tmp_path / "from_dir") == tree_digest(src)


def test_real_sample_archive(tmp_path, sample_zip):
    summary = _fetch(str(sample_zip), tmp_path / "raw")
    assert summary.files == 3000
    assert not summary.synthetic


def test_failed_fetch_keeps_the_previous_data(tmp_path):
    dest = tmp_path / "raw"
    _fetch("demo", dest)
    before = tree_digest(dest)
    with pytest.raises(GenderfaceError):
        _fetch(str(tmp_path / "missing.zip"), dest)
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
    _fetch("demo", dest)
    before = tree_digest(dest)
    monkeypatch.setattr(
        zipfile.ZipFile,
        "extract",
        lambda self, member, path: FULL_DISK.write_bytes(self.read(member)),
    )
    with pytest.raises(GenderfaceError) as err:
        _fetch(str(archive), dest)
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
        _fetch(str(src), tmp_path / "raw")
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


def _utkface_like(root: Path) -> Path:
    """Kaggle's jangedoo/utkface-new layout: UTKFace/ beside other folders."""
    for folder, names in (
        ("UTKFace", ["1_0_0_1.jpg.chip.jpg", "80_1_3_2.jpg.chip.jpg"]),
        ("crop_part1", ["5_1_1_3.jpg.chip.jpg"]),
    ):
        (root / folder).mkdir(parents=True)
        for i, name in enumerate(names):
            (root / folder / name).write_bytes(image_bytes((i, 2, 3), "JPEG"))
    return root


@pytest.mark.parametrize("packed", [False, True])
def test_a_sub_folder_of_a_source_is_taken_as_it_is_without_class_folders(tmp_path, packed):
    src = _utkface_like(tmp_path / "src")
    read = str(zip_folder(src, tmp_path / "utk.zip") if packed else src)
    summary = _fetch(read, tmp_path / "raw" / "utk", labels="utkface", folder="UTKFace")
    assert summary.files == 2
    assert sorted(tree_digest(tmp_path / "raw" / "utk")) == [
        "1_0_0_1.jpg.chip.jpg",
        "80_1_3_2.jpg.chip.jpg",
    ]
    assert summary.as_metrics()["labels"] == "utkface"
    assert sorted(p.name for p in (tmp_path / "raw").iterdir()) == ["utk"]


def test_class_folders_in_a_named_folder(tmp_path):
    src = write_faces(tmp_path / "src", per_class=2)
    (src / "faces").rename(src / "Training")
    _fetch(str(src), tmp_path / "raw", folder="Training")
    assert tree_digest(tmp_path / "raw") == {
        k.replace("Training/", "faces/"): v for k, v in tree_digest(src).items()
    }


def test_a_missing_sub_folder_or_an_empty_one_is_one_line(tmp_path):
    src = _utkface_like(tmp_path / "src")
    with pytest.raises(GenderfaceError) as err:
        _fetch(str(src), tmp_path / "raw", labels="utkface", folder="utkface")
    assert str(err.value) == (
        f"data.sources.archive.path {str(src)!r}: has no folder 'utkface'; set "
        "data.sources.archive.folder to one of its folders, or '' for all of it"
    )
    (src / "empty").mkdir()
    with pytest.raises(GenderfaceError, match=r"holds no files; check it, its folder \('empty'\)"):
        _fetch(str(src), tmp_path / "raw", labels="utkface", folder="empty")
    assert not (tmp_path / "raw").exists()
