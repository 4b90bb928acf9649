import json
import zipfile
from pathlib import Path

import pytest

from genderface.data.manifests import CONFLICT, read_checks
from genderface.data.summary import mark_conflicts, report, summarize
from genderface.data.validate import check_files, validate
from genderface.errors import GenderfaceError
from genderface.params import SourceParams

from .conftest import image_bytes, png_bytes, write_faces

FOLDERS = SourceParams(
    source="demo", path="inputs/none", folder="", labels="folders", labels_file="", licence="-"
)


def _validate(raw, tmp_path):
    """validate@archive on raw/archive, then the summary split writes: (data.json, out folder)."""
    out = tmp_path / "out"
    checks = mark_conflicts(validate(raw, "archive", FOLDERS, out / "archive.csv"))
    summary = summarize(checks)
    (out / "data.json").write_text(json.dumps(summary))
    return summary, out


def test_bad_files_are_reported_and_excluded_without_stopping(tmp_path, monkeypatch):
    raw = write_faces(tmp_path / "raw" / "archive", per_class=6)
    good = image_bytes((1, 2, 3), "JPEG", size=200)
    (raw / "faces/man/empty.jpg").write_bytes(b"")
    (raw / "faces/man/text.jpg").write_bytes(b"a text file, not a picture")
    (raw / "faces/woman/cut.jpg").write_bytes(good[: len(good) * 3 // 4])
    (raw / "faces/woman/bomb.png").write_bytes(png_bytes(30000, 30000, 8, 2, b"\0" * 90001))
    (raw / "faces/woman/locked.jpg").write_bytes(good)
    read_bytes = Path.read_bytes

    def unreadable_locked(path: Path) -> bytes:  # as a file deleted or locked mid-run would be
        if path.name == "locked.jpg":
            raise PermissionError(13, "Permission denied")
        return read_bytes(path)

    monkeypatch.setattr(Path, "read_bytes", unreadable_locked)
    summary, out = _validate(raw.parent, tmp_path)
    assert summary["files"] == 17
    assert summary["usable"] == 12
    assert summary["unreadable"]["files"] == 5
    reasons = summary["unreadable"]["reasons"]
    assert sorted(reasons) == [
        "archive/faces/man/empty.jpg",
        "archive/faces/man/text.jpg",
        "archive/faces/woman/bomb.png",
        "archive/faces/woman/cut.jpg",
        "archive/faces/woman/locked.jpg",
    ]
    assert "decompression bomb" in reasons["archive/faces/woman/bomb.png"]
    assert reasons["archive/faces/woman/locked.jpg"].startswith("unreadable: cannot read (")
    assert reasons["archive/faces/man/text.jpg"] == "unreadable: not an image (unrecognised format)"
    assert reasons["archive/faces/woman/cut.jpg"].startswith("unreadable: unreadable image (")
    checks = read_checks(out / "archive.csv")
    assert [c.path for c in checks] == sorted(c.path for c in checks)
    assert {c.path for c in checks if c.problem} == set(reasons)
    assert all(c.source == "archive" for c in checks)
    text = report(summary | {"sources": {}})
    assert "archive/faces/woman/cut.jpg: unreadable" in text


def test_copies_in_both_classes_are_conflicts_copies_in_one_class_are_duplicates(tmp_path):
    raw = write_faces(tmp_path / "raw" / "archive", per_class=6)
    man, woman = raw / "faces/man", raw / "faces/woman"
    (woman / "copy_of_man_1.jpg").write_bytes((man / "man_1.jpg").read_bytes())
    (man / "man_1_again.jpg").write_bytes((man / "man_1.jpg").read_bytes())
    (man / "man_2_again.jpg").write_bytes((man / "man_2.jpg").read_bytes())
    summary, out = _validate(raw.parent, tmp_path)
    assert summary["duplicates"] == {
        "groups": 2,
        "files": 5,
        "groups_within_one_class": 1,
        "groups_across_sources": 0,
    }
    assert summary["conflicts"] == {
        "groups": 1,
        "files": 3,
        "members": [
            [
                "archive/faces/man/man_1.jpg",
                "archive/faces/man/man_1_again.jpg",
                "archive/faces/woman/copy_of_man_1.jpg",
            ]
        ],
    }
    checks = mark_conflicts(read_checks(out / "archive.csv"))
    excluded = {c.path for c in checks if c.problem == CONFLICT}
    assert excluded == set(summary["conflicts"]["members"][0])
    assert summary["usable_classes"] == {"man": 6, "woman": 6}
    assert summary["majority_baseline"] == 0.5


def test_formats_by_content_sizes_and_baseline(tmp_path):
    raw = write_faces(tmp_path / "raw" / "archive", per_class=6)
    (raw / "faces/man/big.png").write_bytes(image_bytes((9, 9, 9), "PNG", size=300))
    summary = summarize(check_files(raw.parent, "archive", FOLDERS))
    assert summary["formats"] == {"man": {"JPEG": 4, "PNG": 3}, "woman": {"JPEG": 4, "PNG": 2}}
    assert summary["misnamed"]["man"] == {"PNG as .jpg": 2, "as named": 5}
    assert summary["sizes"]["man"] == {"000-063": 6, "251+": 1}
    assert summary["majority_class"] == "man"
    assert summary["majority_baseline"] == pytest.approx(7 / 13)
    assert summary["class_ratio"] == pytest.approx(7 / 6)


def test_same_files_same_outputs_and_missing_raw_is_an_error(tmp_path):
    raw = write_faces(tmp_path / "raw" / "archive", per_class=4)
    outputs = []
    for run in ("a", "b"):
        _, out = _validate(raw.parent, tmp_path / run)
        outputs.append([(out / name).read_bytes() for name in ("archive.csv", "data.json")])
    assert outputs[0] == outputs[1]
    with pytest.raises(GenderfaceError, match=r"run `dvc repro download@archive` first"):
        check_files(tmp_path / "nothing", "archive", FOLDERS)
    with pytest.raises(GenderfaceError, match=r"run `dvc repro validate@archive` first"):
        read_checks(tmp_path / "archive.csv")


def test_the_real_sample(sample_zip, tmp_path):
    """The shared 3,000-image sample: its known quirks must all be found."""
    with zipfile.ZipFile(sample_zip) as archive:
        archive.extractall(tmp_path / "raw" / "archive")
    summary, _ = _validate(tmp_path / "raw", tmp_path)
    assert summary["files"] == 3000
    assert summary["classes"] == {"man": 1950, "woman": 1050}
    assert summary["conflicts"]["groups"] == 27
    assert summary["conflicts"]["files"] == 59
    assert summary["duplicates"] == {
        "groups": 48,
        "files": 103,
        "groups_within_one_class": 21,
        "groups_across_sources": 0,
    }
    assert summary["misnamed"] == {
        "man": {"PNG as .jpg": 748, "as named": 1202},
        "woman": {"PNG as .jpg": 633, "as named": 417},
    }
    assert summary["unreadable"]["files"] == 0
    assert summary["usable_classes"] == {"man": 1919, "woman": 1022}
    assert summary["majority_baseline"] == pytest.approx(1919 / 2941)
    assert sum(summary["sizes"]["man"].values()) == 1950
