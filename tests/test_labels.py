"""How each layout's labels are read (data/labels.py), and what validate and split make of
several sources together: malformed names listed, a bad labels CSV stopped in one line, copies
across sources kept in one split, data.json and data.md per source."""

import json

import pytest

from genderface.data.labels import age_band, labelled_files, utkface_labels
from genderface.data.manifests import read_manifest
from genderface.data.split import SplitFiles, split_sources
from genderface.data.validate import validate
from genderface.errors import GenderfaceError
from genderface.params import SourceParams, SplitParams

from .conftest import image_bytes, write_faces, write_utkface

SPLIT = SplitParams(seed=42, train=0.7, test=0.2, validation=0.1)


def _source(labels: str, labels_file: str = "", source: str = "path") -> SourceParams:
    path = "inputs/none" if source == "demo" else "somewhere"
    return SourceParams(
        source=source,
        path=path,
        folder="",
        labels=labels,
        labels_file=labels_file,
        licence=f"{labels} licence",
    )


def _utkface_folder(root, per_group: int = 6):
    """UTKFace names over two ages, both genders, two races, plus two names that carry no
    label."""
    groups = [(age, gender, race) for age in (1, 75) for gender in (0, 1) for race in (1, 2)]
    write_utkface(root, groups, per_group)
    (root / "39_1_20170116174525125.jpg.chip.jpg").write_bytes(image_bytes((1, 1, 1), "JPEG"))
    (root / "61_3_20170109150557335.jpg.chip.jpg").write_bytes(image_bytes((2, 2, 2), "JPEG"))
    return root


def test_utkface_names_give_gender_age_band_and_race():
    labelled = utkface_labels("75_1_2_20170116174525125.jpg.chip.jpg")
    assert (labelled.label, labelled.attributes) == ("woman", {"age": "70+", "race": "Asian"})
    assert utkface_labels("1_0_4_2017.jpg").attributes == {"age": "0-2", "race": "Other"}
    for malformed in ("39_1_20170116174525125.jpg.chip.jpg", "25_2_0_2017.jpg", "x_0_0_1.jpg"):
        assert utkface_labels(malformed).startswith("unlabelled: name is not <age>_")
    bands = [age_band(age) for age in (0, 2, 3, 9, 10, 19, 20, 59, 60, 69, 70, 116)]
    assert bands == [
        "0-2",
        "0-2",
        "3-9",
        "3-9",
        "10-19",
        "10-19",
        "20-29",
        "50-59",
        "60-69",
        "60-69",
        "70+",
        "70+",
    ]


def test_a_labels_csv_gives_labels_and_attributes_and_unlisted_files_are_unlabelled(tmp_path):
    root = tmp_path / "raw" / "extra"
    (root / "img").mkdir(parents=True)
    for name in ("a.png", "b.png", "c.png"):
        (root / "img" / name).write_bytes(image_bytes((len(name), 3, 4), "PNG"))
    # a trailing comma on every row, as some spreadsheets write them
    (root / "labels.csv").write_text("file,label,age\nimg/a.png,man,20-29,\nimg/b.png,woman,,\n")
    found = labelled_files(root, "extra", _source("csv", "labels.csv"))
    assert [(f.relative, f.label, f.attributes, f.problem) for f in found] == [
        ("img/a.png", "man", {"age": "20-29"}, ""),
        ("img/b.png", "woman", {}, ""),
        ("img/c.png", "", {}, "unlabelled: not in the CSV"),
    ]


@pytest.mark.parametrize(
    ("table", "message"),
    [
        (None, "data.sources.extra.labels_file 'labels.csv': no such file in the source"),
        (
            "file,label\nimg/a.png,man\nimg/missing.png,woman\n",
            "data.sources.extra.labels_file 'labels.csv': names img/missing.png, which is not a "
            "file in the source; give paths relative to the source's folder, fix the CSV or add "
            "the file",
        ),
        ("file,label\n/etc/hostname,man\n", "names /etc/hostname, which is not a file in the"),
        ("file,label,split\nimg/a.png,man,train\n", "other than format, height, label, path"),
        ("file,label\n./img/a.png,man\nimg/a.png,man\n", "img/a.png is listed twice"),
        ("", "not a readable CSV (EmptyDataError); save it as UTF-8 CSV"),
        ("file,gender\nimg/a.png,man\n", "needs columns file, label and attributes"),
        ("file,label\nimg/a.png,man\nimg/a.png,man\n", "img/a.png is listed twice"),
        ("file,label\nimg/a.png,\n", "img/a.png has no label; give every file one"),
    ],
)
def test_a_bad_labels_csv_is_one_line_and_writes_nothing(tmp_path, table, message):
    root = tmp_path / "raw" / "extra"
    (root / "img").mkdir(parents=True)
    (root / "img" / "a.png").write_bytes(image_bytes((1, 2, 3), "PNG"))
    if table is not None:
        (root / "labels.csv").write_text(table)
    out = tmp_path / "validate" / "extra.csv"
    with pytest.raises(GenderfaceError) as info:
        validate(tmp_path / "raw", "extra", _source("csv", "labels.csv"), out)
    assert message in str(info.value)
    assert "\n" not in str(info.value)
    assert not out.parent.exists() or not any(out.parent.iterdir())


def test_a_source_with_no_usable_image_is_one_line(tmp_path):
    root = tmp_path / "raw" / "utk"
    root.mkdir(parents=True)
    (root / "face.jpg").write_bytes(image_bytes((1, 2, 3), "JPEG"))
    (root / "1_0_0_2017.jpg").write_bytes(b"not an image")
    with pytest.raises(GenderfaceError) as info:
        validate(tmp_path / "raw", "utk", _source("utkface"), tmp_path / "utk.csv")
    assert str(info.value) == (
        "data.sources.utk: no usable labelled image among its 2 files (1 unlabelled, "
        "1 unreadable); check its folder and labels"
    )
    assert not (tmp_path / "utk.csv").exists()


def _downloads(tmp_path, sources: dict[str, SourceParams]) -> None:
    """What download@<name> leaves in metrics/sources (split reads it), relative to the cwd."""
    folder = tmp_path / "metrics" / "sources"
    folder.mkdir(parents=True)
    for name, params in sources.items():
        record = {"source": params.read, "resolved": params.read, "synthetic": False}
        record |= {"labels": params.labels, "downloaded_files": 0}
        (folder / f"{name}.json").write_text(json.dumps(record))


def test_two_sources_split_together_per_source_with_copies_in_one_split(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    archive = write_faces(tmp_path / "data" / "raw" / "archive", per_class=12)
    utk = _utkface_folder(tmp_path / "data" / "raw" / "utkface")
    copy = archive / "faces" / "woman" / "woman_3.jpg"
    (utk / "30_1_1_20170101000000001.jpg.chip.jpg").write_bytes(copy.read_bytes())
    sources = {"archive": _source("folders"), "utkface": _source("utkface")}
    _downloads(tmp_path, sources)
    for name, params in sources.items():
        validate(
            tmp_path / "data" / "raw", name, params, tmp_path / "data" / "validate" / f"{name}.csv"
        )
    out = SplitFiles(tmp_path / "manifest.csv", tmp_path / "data.json", tmp_path / "data.md")
    summary = split_sources(sources, SPLIT, out)

    manifest = read_manifest(out.manifest)
    assert list(manifest.columns) == ["path", "source", "label", "sha256", "split", "age", "race"]
    copies = manifest[
        manifest["sha256"]
        == manifest.loc[manifest["path"] == "archive/faces/woman/woman_3.jpg", "sha256"].item()
    ]
    assert sorted(copies["source"]) == ["archive", "utkface"]
    assert copies["split"].nunique() == 1
    assert set(manifest.loc[manifest["source"] == "archive", "age"]) == {""}
    assert set(manifest.loc[manifest["source"] == "utkface", "race"]) == {"Black", "Asian"}

    utkface = summary["sources"]["utkface"]
    assert utkface["licence"] == "utkface licence"
    assert utkface["unlabelled"]["files"] == 2
    assert utkface["usable_classes"] == {"man": 24, "woman": 25}
    assert sum(utkface["splits"]["test"].values()) > 0
    assert summary["duplicates"]["groups_across_sources"] == 1
    assert summary["usable"] == 24 + 49
    text = out.report.read_text()
    assert "utkface/39_1_20170116174525125.jpg.chip.jpg: unlabelled: name is not" in text
    assert "utkface/61_3_20170109150557335.jpg.chip.jpg: unlabelled" in text
    rows = [line.split("|")[1:-1] for line in text.splitlines() if line.startswith("| utkface ")]
    assert ["utkface", "somewhere", "utkface", "utkface licence", ""] in [
        [cell.strip() for cell in row] for row in rows
    ]
