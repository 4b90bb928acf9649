"""The stage scripts as DVC runs them: bad input is one line on stderr, exit 1, nothing written."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from .conftest import REPO, tiny_params_dict, write_faces


def run_stage(name: str, cwd: Path, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(REPO / "stages" / f"{name}.py")],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        timeout=120,
    )


def write_params(folder: Path, **overrides: object) -> None:
    (folder / "params.yaml").write_text(yaml.safe_dump(tiny_params_dict(**overrides)))


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


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("missing/faces.zip", "error: data.source 'missing/faces.zip': no such file or folder;"),
        (
            "ftp://example/faces.zip",
            "error: data.source 'ftp://example/faces.zip': unknown scheme;",
        ),
        ("kaggle:owner/slug", "error: cannot reach Kaggle to download 'owner/slug'"),
    ],
)
def test_download_bad_source(tmp_path, source, message):
    write_params(tmp_path, **{"data.source": source})
    result = run_stage("download", tmp_path, KAGGLE_API_ENVIRONMENT="TEST")
    assert result.returncode == 1
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1
    assert errors[0].startswith(message)
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "data" / "raw").exists()
    assert not (tmp_path / "metrics").exists()


def test_bad_params_stop_before_any_work(tmp_path):
    write_params(tmp_path, **{"train.epochs": -3})
    for stage in ("download", "validate", "split"):
        result = run_stage(stage, tmp_path)
        assert result.returncode == 1
        assert result.stderr.strip() == (
            "error: params.yaml: train.epochs: Input should be greater than or equal to 1 (got -3)"
        )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["params.yaml"]


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
