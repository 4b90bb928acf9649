import hashlib
from dataclasses import replace
from fractions import Fraction

import pandas as pd
import pytest

from genderface.data.manifests import read_manifest, write_manifest
from genderface.data.sources import fetch
from genderface.data.split import UsableFile, order_key, split, usable_files
from genderface.data.validate import check_files
from genderface.errors import GenderfaceError
from genderface.params import DemoParams, SourceParams, SplitParams

PARAMS = SplitParams(seed=42, train=0.7, test=0.2, validation=0.1)
SHARES = {"train": Fraction(7, 10), "test": Fraction(2, 10), "validation": Fraction(1, 10)}


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


SOURCES = ["archive"]
DEMO_SOURCE = SourceParams(
    source="demo", path="inputs/none", folder="", labels="folders", labels_file="", licence="-"
)


def _records(n_man: int, n_woman: int, tag: str = "", source: str = "archive") -> list[UsableFile]:
    return [
        UsableFile(
            f"{source}/faces/{label}/{label}_{tag}{i}.jpg",
            source,
            label,
            _digest(f"{source}{label}{tag}{i}"),
        )
        for label, n in (("man", n_man), ("woman", n_woman))
        for i in range(n)
    ]


def _split(records: list[UsableFile], params: SplitParams = PARAMS) -> pd.DataFrame:
    return split(records, params, SOURCES)


def _assignment(records: list[UsableFile]) -> pd.Series:
    return _split(records).set_index("path")["split"]


def test_stratified_proportions_per_class():
    manifest = _split(_records(650, 350), PARAMS)
    counts = manifest.groupby(["label", "split"]).size().to_dict()
    assert counts == {
        ("man", "test"): 130,
        ("man", "train"): 455,
        ("man", "validation"): 65,
        ("woman", "test"): 70,
        ("woman", "train"): 245,
        ("woman", "validation"): 35,
    }
    assert list(manifest.columns) == ["path", "source", "label", "sha256", "split"]
    assert manifest["path"].is_monotonic_increasing


def test_same_input_same_manifest_and_seed_matters():
    records = _records(60, 40)
    first, again = _split(records), _split(list(reversed(records)), PARAMS)
    assert first.equals(again)
    other_seed = _split(records, PARAMS.model_copy(update={"seed": 7}))
    assert not first["split"].equals(other_seed["split"])


def test_renaming_a_file_does_not_move_it():
    records = _records(60, 40)
    renamed = [replace(r, path=r.path.replace("man_3.jpg", "renamed.jpg")) for r in records]
    before = _split(records).set_index("sha256")["split"]
    after = _split(renamed, PARAMS).set_index("sha256")["split"]
    assert before.sort_index().equals(after.sort_index())


def test_counts_are_within_one_of_the_exact_proportions():
    for n_man in range(10, 400, 7):
        manifest = _split(_records(n_man, 10 + n_man // 3), PARAMS)
        for (label, name), count in manifest.groupby(["label", "split"]).size().items():
            n = int((manifest["label"] == label).sum())
            assert abs(count - n * SHARES[name]) < 1, (n, label, name, count)


def test_copies_of_a_picture_share_a_split_and_counts_stay_close():
    records = _records(300, 150)
    copies = [
        replace(r, path=f"archive/faces/{r.label}/copy{k}_{r.path.rsplit('/', 1)[1]}")
        for k in range(2)
        for r in records[::9]
    ]
    manifest = _split(records + copies, PARAMS)
    assert len(manifest) == len(records) + len(copies)
    assert manifest.groupby("sha256")["split"].nunique().max() == 1
    for (label, name), count in manifest.groupby(["label", "split"]).size().items():
        n = int((manifest["label"] == label).sum())
        # a group of 3 copies straddling a cut may add 1.5 there
        assert abs(count - n * SHARES[name]) <= 2, (label, name, count)


def test_a_picture_in_both_classes_is_refused():
    records = _records(20, 20)
    clash = UsableFile("archive/faces/woman/clash.jpg", "archive", "woman", records[0].sha256)
    with pytest.raises(GenderfaceError, match=r"filed under both classes .*mark_conflicts"):
        _split([*records, clash], PARAMS)


def _moved_at_cuts(
    before: pd.Series, after: pd.Series, records: list[UsableFile], label: str
) -> int:
    """How many old files of `label` changed split; asserts every one of them sat at a cut.

    A file leaving split s for the next one must take every file above it in s (in key order)
    along; leaving for the previous one, every file below it: files slide across a cut, never
    jump over others.
    """
    key = {r.path: order_key(PARAMS.seed, r.sha256) for r in records if r.label == label}
    old = [p for p in key if p in before.index and p in after.index]
    moved = [p for p in old if before[p] != after[p]]
    order = ["train", "test", "validation"]
    for path in moved:
        step = order.index(after[path]) - order.index(before[path])
        assert abs(step) == 1, path
        same_split = [p for p in old if before[p] == before[path]]
        beyond = [p for p in same_split if (key[p] > key[path]) == (step == 1) and p != path]
        assert all(after[p] != before[p] for p in beyond), path
    return len(moved)


def test_adding_ten_images_assigns_them_and_moves_at_most_two_per_class_at_the_cuts():
    records = _records(1919, 1022)
    added = _records(5, 5, tag="new")
    before, after = _assignment(records), _assignment(records + added)
    assert set(after.index) - set(before.index) == {r.path for r in added}
    for label in ("man", "woman"):
        assert _moved_at_cuts(before, after, records + added, label) <= 2


def test_removing_images_moves_only_files_at_the_cuts():
    records = _records(1919, 1022)
    kept = records[::2] + records[1::2][10:]
    before, after = _assignment(records), _assignment(kept)
    assert set(before.index) - set(after.index) == {r.path for r in records[1::2][:10]}
    for label in ("man", "woman"):
        assert _moved_at_cuts(before, after, records, label) <= 2


def test_same_files_give_a_byte_identical_manifest_whatever_the_creation_order(tmp_path):
    import shutil

    demo = DemoParams(man=10, woman=12, size=32, seed=1)
    fetch("archive", DEMO_SOURCE, demo, tmp_path / "a" / "archive")
    (tmp_path / "a" / "archive" / "faces" / "man" / ".DS_Store").write_bytes(b"junk")
    originals = sorted((tmp_path / "a").rglob("*.jpg"), reverse=True)
    for path in originals:
        copy = tmp_path / "b" / path.relative_to(tmp_path / "a")
        copy.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, copy)
    outputs = []
    for name in ("a", "b"):
        records = usable_files(check_files(tmp_path / name, "archive", DEMO_SOURCE))
        assert [r.path for r in records] == sorted(r.path for r in records)
        assert len(records) == 22
        write_manifest(_split(records), tmp_path / f"{name}.csv")
        outputs.append((tmp_path / f"{name}.csv").read_bytes())
    assert outputs[0] == outputs[1]
    assert outputs[0].startswith(
        b"path,source,label,sha256,split\narchive/faces/man/man_0.jpg,archive,man,"
    )
    again = _split(usable_files(check_files(tmp_path / "a", "archive", DEMO_SOURCE)), PARAMS)
    assert read_manifest(tmp_path / "a.csv").equals(again)


@pytest.mark.parametrize("n", [6, 7, 11])
def test_small_classes_still_reach_every_split(n):
    manifest = _split(_records(n, 20), PARAMS)
    assert len(manifest) == n + 20
    man = manifest[manifest["label"] == "man"]
    assert set(man["split"]) == {"train", "test", "validation"}


@pytest.mark.parametrize("n", [1, 3, 4])
def test_a_class_too_small_for_every_split_is_an_error(n):
    with pytest.raises(
        GenderfaceError, match=f"source 'archive', class 'woman' has {n} images: too few"
    ):
        _split(_records(20, n), PARAMS)


def test_one_class_or_no_data_is_an_error(tmp_path):
    with pytest.raises(GenderfaceError, match=r"two classes to split, found \['man'\]"):
        _split(_records(20, 0), PARAMS)
    with pytest.raises(GenderfaceError, match="run `dvc repro split` first"):
        read_manifest(tmp_path / "manifest.csv")


def test_adding_a_source_moves_none_of_the_first_sources_images():
    archive = _records(650, 350)
    utkface = _records(400, 420, source="utkface")
    before = _assignment(archive)
    both = split(archive + utkface, PARAMS, ["archive", "utkface"])
    after = both.set_index("path")["split"]
    assert after[before.index].equals(before)
    counts = both[both["source"] == "utkface"].groupby(["label", "split"]).size().to_dict()
    assert counts == {
        ("man", "test"): 80,
        ("man", "train"): 280,
        ("man", "validation"): 40,
        ("woman", "test"): 84,
        ("woman", "train"): 294,
        ("woman", "validation"): 42,
    }


def test_a_copy_in_a_later_source_follows_its_picture_and_moves_nothing():
    archive = _records(100, 60)
    utkface = _records(50, 50, source="utkface")
    copies = [
        UsableFile(f"utkface/copy_{i}.jpg", "utkface", r.label, r.sha256)
        for i, r in enumerate(archive[::7])
    ]
    before = _assignment(archive)
    after = split(archive + utkface + copies, PARAMS, ["archive", "utkface"]).set_index("path")
    assert after.loc[before.index, "split"].equals(before)
    for copy, original in zip(copies, archive[::7], strict=True):
        assert after.loc[copy.path, "split"] == before[original.path]
    only_utkface = split(utkface, PARAMS, ["utkface"]).set_index("path")["split"]
    assert after.loc[only_utkface.index, "split"].equals(only_utkface)


def test_sources_naming_other_classes_are_an_error_naming_each():
    records = _records(20, 20) + [
        UsableFile(f"other/f{i}.jpg", "other", "female", _digest(f"f{i}")) for i in range(20)
    ]
    with pytest.raises(GenderfaceError) as info:
        split(records, PARAMS, ["archive", "other"])
    assert str(info.value) == (
        "the sources name 3 classes (archive: man, woman; other: female); the model is binary: "
        "label every source with the same two class names"
    )
