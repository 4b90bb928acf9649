"""Comparing branches as docs/experiments.md shows: change a param on a branch, diff with main."""

import json
import re
import subprocess
from pathlib import Path

import pytest
import yaml

from .conftest import FIRST_SOURCE, REPO, Project, doc_blocks

pytestmark = [pytest.mark.slow]

DOC = "docs/experiments.md"
SECTION = "Comparing branches"
WORKFLOW = REPO / ".github" / "workflows" / "metrics-diff.yml"
PREDICTIONS = "metrics/eval/predictions/test.csv"


@pytest.fixture(scope="module")
def branched(reproduced_project, tmp_path_factory) -> tuple[Project, dict[str, str]]:
    """The tiny project on `main`, then every documented command of the section, in order."""
    project = Project(tmp_path_factory.mktemp("branched"), template=reproduced_project)
    project.run("git", "branch", "-M", "main")
    (commands,) = doc_blocks(DOC, SECTION)
    return project, {command: project.shell(command) for command in commands}


def test_branch_commits_the_changed_param_and_its_results(branched):
    project, _outputs = branched
    assert project.run("git", "branch", "--show-current").strip() == "lower-lr"
    assert project.run("git", "status", "--porcelain", "--untracked-files=no") == ""
    changed = project.run("git", "diff", "--name-only", "main", "HEAD").split()
    assert {"params.yaml", "dvc.lock", "metrics/eval/metrics.json"} <= set(changed)


def test_params_and_metrics_diff_report_the_change(branched):
    project, outputs = branched
    assert "train.learning_rate" in outputs["dvc params diff main"]
    params = json.loads(project.run("dvc", "params", "diff", "main", "--json"))
    assert params == {
        "params.yaml": {"train.learning_rate": {"old": 0.001, "new": 0.0001, "diff": -0.0009}}
    }
    metrics = json.loads(project.run("dvc", "metrics", "diff", "main", "--all", "--json"))
    eval_diff = metrics["metrics/eval/metrics.json"]
    assert eval_diff["test.images"]["diff"] == 0  # same test split, different model
    moved = [key for key, value in eval_diff.items() if value.get("diff")]
    assert "test.log_loss" in moved
    assert all(key in outputs["dvc metrics diff main"] for key in moved)
    data = metrics["metrics/data.json"]  # same data on both branches
    assert data["usable"] == {"old": 40, "new": 40, "diff": 0}
    assert data[f"sources.{FIRST_SOURCE}.usable"] == {"old": 40, "new": 40, "diff": 0}


def test_plots_diff_writes_one_html_page_with_both_revisions(branched):
    project, _outputs = branched
    html = (project.root / "plots-diff" / "index.html").read_text()
    for rev in ("main", "workspace"):
        assert re.search(rf'"rev":\s*"{rev}"', html), f"no plot data of {rev}"
    for title in ("Test confusion matrix", "Test ROC", "Loss"):
        assert title in html


def test_compare_pairs_the_branch_with_main_image_by_image(branched):
    project, outputs = branched
    assert "images both scored, 95% level)." in outputs["genderface compare main"]
    result = json.loads(project.run("genderface", "compare", "main", "--format", "json"))
    main_scores = json.loads(project.run("git", "show", "main:metrics/eval/metrics.json"))["test"]
    branch_scores = project.json("metrics/eval/metrics.json")["test"]
    assert result["images"] == main_scores["images"] == branch_scores["images"]
    assert result["a"]["left_out"] == result["b"]["left_out"] == 0  # the same test split
    for metric in ("accuracy", "balanced_accuracy"):
        scores = result["metrics"][metric]
        assert scores["a"] == pytest.approx(main_scores[metric])
        assert scores["b"] == pytest.approx(branch_scores[metric])
        assert scores["difference"]["estimate"] == pytest.approx(scores["b"] - scores["a"])


def _report_step(project: Project, base: str) -> subprocess.CompletedProcess:
    """The workflow's "report" step against `base`, run as GitHub runs it (bash -e)."""
    steps = yaml.safe_load(WORKFLOW.read_text())["jobs"]["metrics-diff"]["steps"]
    report = next(step for step in steps if step.get("name") == "report")
    return subprocess.run(
        ["bash", "-e", "-c", report["run"]],
        cwd=project.root,
        env={**project.env, "BASE": base},
        capture_output=True,
        text=True,
    )


def _base_with(project: Project, folder: Path, branch: str, change: str) -> None:
    """`branch`: main and one commit on it, `change` (a shell line run in its checkout at
    `folder`); the project's own checkout stays on its branch."""
    project.run("git", "worktree", "add", "-q", "-b", branch, str(folder), "main")
    project.run("bash", "-euo", "pipefail", "-c", f"cd {folder} && {change}")
    project.run("git", "-C", str(folder), "commit", "-q", "-am", change)
    project.run("git", "worktree", "remove", str(folder))


def test_github_workflow_report_step_on_the_branch(branched):
    project, _outputs = branched
    step = _report_step(project, "main")
    assert step.returncode == 0, step.stderr
    text = (project.root / "report.md").read_text()
    assert "| Path" in text and "train.learning_rate" in text and "0.0001" in text
    assert "test.log_loss" in text and "metrics/eval/metrics.json" in text
    compared = project.run("genderface", "compare", "main", "HEAD", "--format", "md")
    assert text.endswith(f"`genderface compare main HEAD`\n{compared}")
    header = [cell.strip() for cell in compared.splitlines()[0].split("|")]
    assert header == ["", "metric", "A (main)", "B (HEAD)", "B - A", "95% interval", "p", ""]


def test_report_step_fails_when_compare_fails(branched, tmp_path):
    """A base whose predictions compare cannot read: the step fails with compare's error."""
    project, _outputs = branched
    _base_with(project, tmp_path / "base", "unreadable", f"echo file,label > {PREDICTIONS}")
    step = _report_step(project, "unreadable")
    assert step.returncode == 1
    assert f"error: {PREDICTIONS} at unreadable: no column sha256, probability, predicted;" in (
        step.stderr
    )


def test_report_step_says_when_the_base_predates_predictions(branched, tmp_path):
    """A base without per-image predictions (made before evaluate wrote them) is no failure of
    the branch: the comment says so in compare's words."""
    project, _outputs = branched
    _base_with(project, tmp_path / "base", "predates", f"git rm -q {PREDICTIONS}")
    step = _report_step(project, "predates")
    assert step.returncode == 0, step.stderr
    text = (project.root / "report.md").read_text()
    assert text.endswith(
        f"`genderface compare predates HEAD`\nerror: {PREDICTIONS}: not committed at predates; "
        "that revision predates per-image predictions or was never evaluated\n"
    )
