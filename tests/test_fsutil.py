import json

import pytest

from genderface.fsutil import atomic_path, write_json


def test_atomic_file_replaces_only_on_success(tmp_path):
    target = tmp_path / "out.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("boom")
    assert target.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.txt"]
    with atomic_path(target) as tmp:
        tmp.write_text("new")
    assert target.read_text() == "new"


def test_atomic_folder_and_stale_leftovers(tmp_path):
    target = tmp_path / "shards"
    stale = tmp_path / ".shards.tmp-999"
    stale.mkdir()
    (stale / "junk").write_text("from a killed run")
    with atomic_path(target) as tmp:
        tmp.mkdir()
        (tmp / "a").write_text("1")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["shards"]
    with atomic_path(target) as tmp:
        tmp.mkdir()
        (tmp / "b").write_text("2")
    assert sorted(p.name for p in target.iterdir()) == ["b"]


def test_write_json_is_sorted_and_stable(tmp_path):
    write_json(tmp_path / "m.json", {"b": 1, "a": {"d": 2, "c": 3}})
    text = (tmp_path / "m.json").read_text()
    assert text.index('"a"') < text.index('"b"')
    assert json.loads(text) == {"a": {"c": 3, "d": 2}, "b": 1}
