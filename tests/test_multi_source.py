"""Several sources in one pipeline, end to end: the tiny project trained on its demo archive, then
a UTKFace-named folder and a folder with a labels CSV added as sources and `dvc repro` run again.

What must hold: only the new sources are downloaded and validated, the archive's images keep
their splits, a picture in two sources lands in one split, malformed UTKFace names are listed,
and evaluate scores the test split per source and per attribute group."""

import pytest

from genderface.data.manifests import read_manifest

from .conftest import Project, image_bytes, write_utkface

pytestmark = pytest.mark.slow

UTKFACE_GROUPS = [
    (age, gender, race) for age in (2, 45, 75) for gender in (0, 1) for race in (0, 1)
]
MALFORMED = ["39_1_20170116174525125.jpg.chip.jpg", "61_3_0_20170109150557335.jpg.chip.jpg"]


def _utkface(folder, copy_of: bytes) -> None:
    """Five faces per age x gender x race, two malformed names, and a copy of an archive image
    (filed as a woman: the demo archive's image it copies is one)."""
    write_utkface(folder, UTKFACE_GROUPS, per_group=5, size=48)
    for k, name in enumerate(MALFORMED):
        (folder / name).write_bytes(image_bytes((250, k, 250), "JPEG", size=48))
    (folder / "30_1_0_20170199999999999.jpg.chip.jpg").write_bytes(copy_of)


def _labelled_csv(folder) -> None:
    """img/<n>.png with a labels CSV giving a class and a `site` attribute."""
    (folder / "img").mkdir(parents=True)
    rows = ["file,label,site"]
    for n in range(20):
        label = ("man", "woman")[n % 2]
        (folder / "img" / f"{n}.png").write_bytes(image_bytes((n * 11, 200 - n, 90), "PNG"))
        rows.append(f"img/{n}.png,{label},{'north' if n < 10 else 'south'}")
    (folder / "labels.csv").write_text("\n".join(rows) + "\n")


def _source(path: str, labels: str, labels_file: str = "") -> dict:
    return {
        "source": "path",
        "path": path,
        "folder": "",
        "labels": labels,
        "labels_file": labels_file,
        "licence": f"{labels} test images",
    }


@pytest.fixture(scope="module")
def added(reproduced_project, tmp_path_factory):
    """reproduced_project (one demo source), then two sources added and `dvc repro` run again:
    (the project, the manifest before, the stages that ran)."""
    project = Project(tmp_path_factory.mktemp("multi") / "project", template=reproduced_project)
    before = read_manifest(project.root / "data/split/manifest.csv")
    woman = before[before["label"] == "woman"]["path"].iloc[0]
    _utkface(project.root / "inputs/utkface", (project.root / "data/raw" / woman).read_bytes())
    _labelled_csv(project.root / "inputs/extra")
    project.set_params(
        **{
            "data.sources": {
                "archive": _archive_params(project),
                "utkface": _source("inputs/utkface", "utkface"),
                "extra": _source("inputs/extra", "csv", "labels.csv"),
            }
        }
    )
    ran = project.repro()
    project.commit("two more sources")
    return project, before, woman, ran


def _archive_params(project: Project) -> dict:
    """The tiny project's archive entry as its params.yaml has it."""
    import yaml

    return yaml.safe_load((project.root / "params.yaml").read_text())["data"]["sources"]["archive"]


def test_adding_sources_downloads_and_validates_only_them(added):
    _, _, _, ran = added
    assert sorted(ran) == sorted(
        [
            "download@utkface",
            "download@extra",
            "validate@utkface",
            "validate@extra",
            "split",
            "preprocess",
            "train",
            "export",
            "evaluate",
        ]
    )


def test_the_archive_keeps_its_splits_and_a_copy_lands_with_its_picture(added):
    project, before, woman, _ = added
    after = read_manifest(project.root / "data/split/manifest.csv").set_index("path")
    assert after.loc[before["path"], "split"].tolist() == before["split"].tolist()
    copy = "utkface/30_1_0_20170199999999999.jpg.chip.jpg"
    assert after.loc[copy, "sha256"] == after.loc[woman, "sha256"]
    assert after.loc[copy, "split"] == after.loc[woman, "split"]
    assert set(after["source"]) == {"archive", "utkface", "extra"}
    assert list(after.columns)[-3:] == ["age", "race", "site"]


def test_malformed_utkface_names_are_left_out_and_listed(added):
    project, *_ = added
    data = project.json("metrics/data.json")
    assert data["sources"]["utkface"]["unlabelled"]["files"] == 2
    assert data["sources"]["utkface"]["usable"] == 5 * len(UTKFACE_GROUPS) + 1
    assert data["sources"]["extra"]["licence"] == "csv test images"
    report = (project.root / "metrics/data.md").read_text()
    for name in MALFORMED:
        assert f"- utkface/{name}: unlabelled: name is not <age>_" in report


def test_the_test_split_is_scored_per_source_and_group(added):
    project, *_ = added
    scores = project.json("metrics/eval/metrics.json")["test"]
    groups = scores["groups"]
    assert set(groups["source"]) >= {"archive", "utkface", "extra"}
    assert set(groups["race"]) >= {"White", "Black", "left_out"}
    n = {source: groups["source"][source]["n"] for source in ("archive", "utkface", "extra")}
    assert groups["race"]["left_out"] == n["archive"] + n["extra"]
    assert groups["site"]["left_out"] == n["archive"] + n["utkface"]
    for race in ("White", "Black"):
        row = groups["race"][race]
        assert row["accuracy_low"] <= row["accuracy"] <= row["accuracy_high"]
    assert set(scores["sources"]) == {"archive", "utkface", "extra"}
    card = (project.root / "models/MODEL_CARD.md").read_text()
    assert "utkface test images" in card and "csv test images" in card
