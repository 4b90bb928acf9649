"""Comparing branches as docs/experiments.md shows: change a param on a branch, diff with main."""

import json
import re

import pytest
import yaml

from .conftest import REPO, Project, doc_blocks

pytestmark = [pytest.mark.slow]

DOC = "docs/experiments.md"
SECTION = "Comparing branches"
WORKFLOW = REPO / ".github" / "workflows" / "metrics-diff.yml"


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
    source = metrics["metrics/source.json"]  # same data on both branches
    assert source["images"] == {"old": 40, "new": 40, "diff": 0}


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


def test_github_workflow_report_step_on_the_branch(branched):
    project, _outputs = branched
    steps = yaml.safe_load(WORKFLOW.read_text())["jobs"]["metrics-diff"]["steps"]
    report = next(step for step in steps if step.get("name") == "report")
    project.shell(f"export BASE=main\n{report['run']}")
    text = (project.root / "report.md").read_text()
    assert "| Path" in text and "train.learning_rate" in text and "0.0001" in text
    assert "test.log_loss" in text and "metrics/eval/metrics.json" in text
    compared = project.run("genderface", "compare", "main", "HEAD", "--format", "md")
    assert text.endswith(f"`genderface compare main HEAD`\n{compared}")
    header = [cell.strip() for cell in compared.splitlines()[0].split("|")]
    assert header == ["", "metric", "A (main)", "B (HEAD)", "B - A", "95% interval", "p", ""]
