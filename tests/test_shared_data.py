"""The real data in ../shared/data: where it is missing, its tests skip on a developer's machine
and fail in CI (CI=true), and .ci/run stops before the tests, saying which archive is missing."""

import os
import shutil
import subprocess

import pytest

from . import conftest
from .conftest import FAIRFACE_ZIP, REPO, SAMPLE_ZIP

USES_THE_FIXTURES = """
from tests.conftest import fairface, sample_zip

def test_on_the_sample(sample_zip):
    pass

def test_on_fairface(fairface):
    pass
"""


@pytest.fixture
def data_missing(pytester, monkeypatch):
    """A pytest run of two tests that use the real-data fixtures, with both archives missing."""
    for name in ("SAMPLE_ZIP", "FAIRFACE_ZIP"):
        monkeypatch.setattr(conftest, name, pytester.path / "absent" / getattr(conftest, name).name)
    pytester.makepyfile(USES_THE_FIXTURES)

    def run(ci: str | None) -> pytest.RunResult:
        if ci is None:
            monkeypatch.delenv("CI", raising=False)
        else:
            monkeypatch.setenv("CI", ci)
        return pytester.runpytest("-ra", "-p", "no:cacheprovider")

    return run


def test_missing_data_fails_in_ci(data_missing):
    result = data_missing("true")
    result.assert_outcomes(errors=2)
    for archive in (SAMPLE_ZIP, FAIRFACE_ZIP):
        result.stdout.fnmatch_lines(
            [f"*{archive.name} not found (../shared/data is absent*CI=true: every test must run*"]
        )


@pytest.mark.parametrize("ci", [None, "false"])
def test_missing_data_skips_saying_why_elsewhere(data_missing, ci):
    result = data_missing(ci)
    result.assert_outcomes(skipped=2)
    for archive in (SAMPLE_ZIP, FAIRFACE_ZIP):
        result.stdout.fnmatch_lines(
            [f"SKIPPED *{archive.name} not found (../shared/data is absent on this machine)"]
        )


def test_ci_run_stops_first_when_the_shared_data_is_missing(tmp_path):
    """.ci/run in a clone whose ../shared is absent: one line naming the archives the tests read,
    before it installs, lints or tests anything."""
    script = tmp_path / "clone" / ".ci" / "run"
    script.parent.mkdir(parents=True)
    shutil.copy(REPO / ".ci" / "run", script)
    env = {key: value for key, value in os.environ.items() if key != "CI"}
    result = subprocess.run(["bash", script], capture_output=True, text=True, env=env)
    assert result.returncode == 1
    assert result.stdout == ""
    missing = " ".join(f"../shared/data/{archive.name}" for archive in (SAMPLE_ZIP, FAIRFACE_ZIP))
    assert result.stderr.splitlines() == [
        f"error: {missing} not found: the tests on real data need ../shared/data beside the "
        "repository"
    ]
