"""The stage scripts as DVC runs them (their bad-input cases are in test_faults.py)."""

import json

import yaml

from .conftest import run_stage, write_faces, write_params


def test_download_demo_writes_raw_and_source_metrics(tmp_path):
    write_params(tmp_path)
    result = run_stage("download", tmp_path)
    assert result.returncode == 0, result.stderr
    assert "SYNTHETIC" in result.stderr
    assert len(list((tmp_path / "data/raw/faces/man").iterdir())) == 26
    source = yaml.safe_load((tmp_path / "metrics/source.json").read_text())
    assert source == {
        "source": "demo",
        "resolved": "demo",
        "synthetic": True,
        "images": 40,
        "classes": {"man": 26, "woman": 14},
    }


def test_validate_then_split_exclude_bad_files_and_never_crash(tmp_path):
    write_params(tmp_path)
    faces = write_faces(tmp_path / "data" / "raw", per_class=10) / "faces"
    (faces / "man" / "zero.jpg").write_bytes(b"")
    (faces / "woman" / "same_as_man_1.jpg").write_bytes((faces / "man" / "man_1.jpg").read_bytes())
    for stage in ("validate", "split"):
        result = run_stage(stage, tmp_path)
        assert result.returncode == 0, result.stderr
    data = json.loads((tmp_path / "metrics" / "data.json").read_text())
    assert list(data["unreadable"]["reasons"]) == ["faces/man/zero.jpg"]
    assert data["conflicts"]["members"] == [
        ["faces/man/man_1.jpg", "faces/woman/same_as_man_1.jpg"]
    ]
    assert "faces/man/zero.jpg: unreadable" in (tmp_path / "metrics" / "data.md").read_text()
    manifest = (tmp_path / "data" / "split" / "manifest.csv").read_text()
    assert manifest.count("\n") == 1 + 19  # 20 generated, less man_1 and its copy
    for excluded in ("man/zero.jpg", "man/man_1.jpg", "woman/same_as_man_1.jpg"):
        assert f"faces/{excluded}," not in manifest
