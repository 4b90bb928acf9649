import hashlib
import shutil
import tarfile
import zipfile
from pathlib import Path

import pytest
from PIL import Image

from genderface.errors import GenderfaceError
from genderface.params import DemoParams
from genderface.sources import fetch

from .conftest import write_faces

DEMO = DemoParams(man=13, woman=10, size=48, seed=3)


def _tree_digest(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def test_demo_is_deterministic_and_laid_out_like_the_archive(tmp_path):
    summary = fetch("demo", DEMO, tmp_path / "a" / "raw")
    fetch("demo", DEMO, tmp_path / "b" / "raw")
    assert summary.synthetic is True
    assert summary.counts == {"man": 13, "woman": 10}
    digest = _tree_digest(tmp_path / "a" / "raw")
    assert digest == _tree_digest(tmp_path / "b" / "raw")
    assert sorted(digest)[:2] == ["faces/man/man_0.jpg", "faces/man/man_1.jpg"]
    formats = {Image.open(tmp_path / "a" / "raw" / name).format for name in digest}
    assert formats == {"JPEG", "PNG"}
    assert all(name.endswith(".jpg") for name in digest)


def test_demo_seed_changes_the_images(tmp_path):
    fetch("demo", DEMO, tmp_path / "a")
    fetch("demo", DEMO.model_copy(update={"seed": 4}), tmp_path / "b")
    assert _tree_digest(tmp_path / "a") != _tree_digest(tmp_path / "b")


def _zip_dir(src: Path, archive: Path, prefix: str = "") -> Path:
    with zipfile.ZipFile(archive, "w") as zf:
        for path in sorted(src.rglob("*")):
            zf.write(path, prefix + path.relative_to(src).as_posix())
    return archive


@pytest.mark.parametrize("prefix", ["", "biggest-genderface/"])
def test_zip_archive_with_or_without_a_top_folder(tmp_path, prefix):
    src = write_faces(tmp_path / "src", per_class=4)
    archive = _zip_dir(src, tmp_path / "faces.zip", prefix)
    summary = fetch(str(archive), DEMO, tmp_path / "data" / "raw")
    assert summary.synthetic is False
    assert summary.resolved == str(archive)
    assert summary.counts == {"man": 4, "woman": 4}
    assert _tree_digest(tmp_path / "data" / "raw") == _tree_digest(src)
    assert sorted(p.name for p in (tmp_path / "data").iterdir()) == ["raw"]


def test_tar_gz_archive_and_directory(tmp_path):
    src = write_faces(tmp_path / "src", per_class=3)
    archive = tmp_path / "faces.tar.gz"
    with tarfile.open(archive, "w:gz") as tf:
        tf.add(src / "faces", arcname="faces")
    fetch(str(archive), DEMO, tmp_path / "from_tar")
    fetch(str(src), DEMO, tmp_path / "from_dir")
    assert _tree_digest(tmp_path / "from_tar") == _tree_digest(src)
    assert _tree_digest(tmp_path / "from_dir") == _tree_digest(src)


def test_real_sample_archive(tmp_path, sample_zip):
    summary = fetch(str(sample_zip), DEMO, tmp_path / "raw")
    assert summary.counts == {"man": 1950, "woman": 1050}
    assert not summary.synthetic


def _bad_source_cases(tmp_path: Path) -> dict[str, tuple[str, str]]:
    flat = tmp_path / "flat"
    flat.mkdir()
    (flat / "man_1.jpg").write_bytes(b"x")
    three = write_faces(tmp_path / "three", per_class=1)
    shutil.copytree(three / "faces" / "man", three / "faces" / "child")
    truncated = _zip_dir(write_faces(tmp_path / "t", per_class=3), tmp_path / "truncated.zip")
    truncated.write_bytes(truncated.read_bytes()[:500])
    slip = tmp_path / "slip.zip"
    with zipfile.ZipFile(slip, "w") as zf:
        zf.writestr("faces/man/a.jpg", b"x")
        zf.writestr("../../evil.jpg", b"x")
    (tmp_path / "notes.txt").write_text("hi")
    link_tar = tmp_path / "link.tar.gz"
    with tarfile.open(link_tar, "w:gz") as tf:
        tf.add(write_faces(tmp_path / "l", per_class=1) / "faces", arcname="faces")
        link = tarfile.TarInfo("faces/man/passwd.jpg")
        link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
        tf.addfile(link)
    return {
        "missing path": (str(tmp_path / "nope.zip"), "no such file or folder"),
        "unknown scheme": ("s3://bucket/faces.zip", "unknown scheme"),
        "not an archive": (str(tmp_path / "notes.txt"), "not a supported archive"),
        "no class folders": (str(_zip_dir(flat, tmp_path / "flat.zip")), "no faces/<class>/"),
        "three classes": (str(three), "has 3 class folders"),
        "truncated zip": (str(truncated), "cannot extract"),
        "zip slip": (str(slip), "points outside the archive"),
        "tar symlink outside": (str(link_tar), "'faces/man/passwd.jpg' points outside"),
        "bad kaggle handle": ("kaggle:just-a-slug", "expected kaggle:<owner>/<slug>"),
    }


@pytest.mark.parametrize(
    "case",
    [
        "missing path",
        "unknown scheme",
        "not an archive",
        "no class folders",
        "three classes",
        "truncated zip",
        "zip slip",
        "tar symlink outside",
        "bad kaggle handle",
    ],
)
def test_bad_sources_fail_with_one_line_and_leave_nothing(tmp_path, case):
    source, expected = _bad_source_cases(tmp_path)[case]
    dest = tmp_path / "data" / "raw"
    with pytest.raises(GenderfaceError) as info:
        fetch(source, DEMO, dest)
    assert expected in str(info.value)
    assert "\n" not in str(info.value)
    assert list((tmp_path / "data").iterdir()) == []


def test_failed_fetch_keeps_the_previous_data(tmp_path):
    dest = tmp_path / "raw"
    fetch("demo", DEMO, dest)
    before = _tree_digest(dest)
    with pytest.raises(GenderfaceError):
        fetch(str(tmp_path / "missing.zip"), DEMO, dest)
    assert _tree_digest(dest) == before


def test_kaggle_unreachable(tmp_path, monkeypatch):
    """Real kagglehub against a local endpoint nobody listens on: refused at once, never waits."""
    monkeypatch.setenv("KAGGLE_API_ENVIRONMENT", "TEST")
    monkeypatch.setenv("KAGGLEHUB_CACHE", str(tmp_path / "cache"))
    with pytest.raises(GenderfaceError, match="cannot reach Kaggle") as info:
        fetch(
            "kaggle:maciejgronczynski/biggest-genderface-recognition-dataset",
            DEMO,
            tmp_path / "raw",
        )
    assert "set data.source to its path" in str(info.value)
    assert not (tmp_path / "raw").exists()
