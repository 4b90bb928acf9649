import pytest

from genderface.errors import GenderfaceError
from genderface.params import DemoParams, SplitParams
from genderface.sources import fetch
from genderface.split import Record, read_manifest, scan, split, write_manifest

PARAMS = SplitParams(seed=42, train=0.7, test=0.2, validation=0.1)


def _records(n_man: int, n_woman: int) -> list[Record]:
    return [
        Record(f"faces/{label}/{label}_{i}.jpg", label, f"{label}-{i:04d}".ljust(64, "0"))
        for label, n in (("man", n_man), ("woman", n_woman))
        for i in range(n)
    ]


def test_stratified_proportions_per_class():
    manifest = split(_records(650, 350), PARAMS)
    counts = manifest.groupby(["label", "split"]).size().to_dict()
    assert counts == {
        ("man", "test"): 130,
        ("man", "train"): 455,
        ("man", "validation"): 65,
        ("woman", "test"): 70,
        ("woman", "train"): 245,
        ("woman", "validation"): 35,
    }
    assert list(manifest.columns) == ["path", "label", "sha256", "split"]
    assert manifest["path"].is_monotonic_increasing


def test_same_input_same_manifest_and_seed_matters():
    records = _records(60, 40)
    first, again = split(records, PARAMS), split(list(reversed(records)), PARAMS)
    assert first.equals(again)
    other_seed = split(records, PARAMS.model_copy(update={"seed": 7}))
    assert not first["split"].equals(other_seed["split"])


def test_renaming_a_file_does_not_move_it():
    records = _records(60, 40)
    renamed = [
        Record(r.path.replace("man_3.jpg", "renamed.jpg"), r.label, r.sha256) for r in records
    ]
    before = split(records, PARAMS).set_index("sha256")["split"]
    after = split(renamed, PARAMS).set_index("sha256")["split"]
    assert before.sort_index().equals(after.sort_index())


def test_same_files_give_a_byte_identical_manifest_whatever_the_creation_order(tmp_path):
    import shutil

    fetch("demo", DemoParams(man=10, woman=12, size=32, seed=1), tmp_path / "a")
    (tmp_path / "a" / "faces" / "man" / ".DS_Store").write_bytes(b"junk")
    originals = sorted((tmp_path / "a").rglob("*.jpg"), reverse=True)
    for path in originals:
        copy = tmp_path / "b" / path.relative_to(tmp_path / "a")
        copy.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, copy)
    outputs = []
    for name in ("a", "b"):
        records = scan(tmp_path / name)
        assert [r.path for r in records] == sorted(r.path for r in records)
        assert len(records) == 22
        write_manifest(split(records, PARAMS), tmp_path / f"{name}.csv")
        outputs.append((tmp_path / f"{name}.csv").read_bytes())
    assert outputs[0] == outputs[1]
    assert outputs[0].startswith(b"path,label,sha256,split\nfaces/man/man_0.jpg,man,")
    assert read_manifest(tmp_path / "a.csv").equals(split(scan(tmp_path / "a"), PARAMS))


@pytest.mark.parametrize("n", [6, 7, 11])
def test_small_classes_still_reach_every_split(n):
    manifest = split(_records(n, 20), PARAMS)
    assert len(manifest) == n + 20
    man = manifest[manifest["label"] == "man"]
    assert set(man["split"]) == {"train", "test", "validation"}


@pytest.mark.parametrize("n", [1, 3, 5])
def test_a_class_too_small_for_every_split_is_an_error(n):
    with pytest.raises(GenderfaceError, match=f"class 'woman' has {n} images: too few"):
        split(_records(20, n), PARAMS)


def test_one_class_or_no_data_is_an_error(tmp_path):
    with pytest.raises(GenderfaceError, match=r"two classes to split, found \['man'\]"):
        split(_records(20, 0), PARAMS)
    with pytest.raises(GenderfaceError, match="run `dvc repro download` first"):
        scan(tmp_path / "raw")
    with pytest.raises(GenderfaceError, match="run `dvc repro split` first"):
        read_manifest(tmp_path / "manifest.csv")
