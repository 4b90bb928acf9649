"""The stage scripts as DVC runs them (their bad-input cases are in test_faults.py)."""

import yaml

from .conftest import run_stage, write_params


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
